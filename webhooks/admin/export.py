"""Deliveries as CSV, streamed row by row however many there are."""

import csv
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from django.utils import timezone

# (header, field) of each column, in order.
COLUMNS = (
    ("delivery_id", "pk"),
    ("event_id", "event_id"),
    ("client_event_id", "event__client_event_id"),
    ("workspace", "workspace__slug"),
    ("event_type", "event_type"),
    ("status", "status"),
    ("attempts", "attempt_count"),
    ("last_status_code", "last_status_code"),
    ("last_error", "last_error"),
    ("created_at", "created_at"),
    ("completed_at", "completed_at"),
)

# Rows fetched per round trip; on PostgreSQL through a server-side cursor.
CHUNK_SIZE = 2000

# A cell starting with one of these is a formula to spreadsheet programs.
# Errors quote what receivers answered, so they are not to be trusted.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose write() hands back what it was given."""

    def write(self, value):
        return value


def stream_deliveries_csv(queryset, *, filename: str) -> StreamingHttpResponse:
    """Answer with ``queryset``'s deliveries as a CSV file, in its order."""
    response = StreamingHttpResponse(
        csv_lines(queryset), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def csv_lines(queryset) -> Iterator[str]:
    """Yield the header line, then one line per delivery."""
    writer = csv.writer(_Echo())
    yield writer.writerow([header for header, _ in COLUMNS])
    rows = queryset.values_list(*(field for _, field in COLUMNS)).iterator(
        chunk_size=CHUNK_SIZE
    )
    for row in rows:
        yield writer.writerow([_cell(value) for value in row])


def export_filename(*, now=None) -> str:
    moment = timezone.localtime(now or timezone.now())
    return f"deliveries-{moment:%Y%m%d-%H%M%S}.csv"


def _cell(value):
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
