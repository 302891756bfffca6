"""Audit lists that stay fast at millions of rows.

Django's changelist counts every matching row to number its pages, and its
date hierarchy reads every matching row to list the days that have some.
Here an unfiltered list on PostgreSQL takes the planner's estimate of the
table's size; any other list counts at most COUNT_LIMIT rows, and on
PostgreSQL gives up after COUNT_TIMEOUT_MS; pages reach as far as
COUNT_LIMIT rows (filter by date to go further back); and the date links
are the months and days of the retention period, which need no query.
"""

import calendar
import datetime
import enum
import logging
import math

from django.conf import settings
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db import OperationalError, connections, transaction
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.functional import cached_property
from django.utils.text import capfirst
from django.utils.translation import gettext, pgettext

logger = logging.getLogger(__name__)

COUNT_LIMIT = 10_000
COUNT_TIMEOUT_MS = 100


class CountKind(enum.Enum):
    EXACT = "exact"
    ESTIMATE = "estimate"
    AT_LEAST = "at least"
    UNKNOWN = "unknown"


class AuditPaginator(Paginator):
    """A paginator whose count never reads more than COUNT_LIMIT rows."""

    count_kind = CountKind.EXACT

    @cached_property
    def count(self):
        queryset = self.object_list
        connection = connections[queryset.db]
        if connection.vendor == "postgresql" and not queryset.query.where:
            estimate = _estimated_rows(queryset.model, connection=connection)
            if estimate > COUNT_LIMIT:
                self.count_kind = CountKind.ESTIMATE
                return estimate

        counted = _bounded_count(queryset, connection=connection)
        if counted is None:
            self.count_kind = CountKind.UNKNOWN
            return COUNT_LIMIT
        if counted > COUNT_LIMIT:
            self.count_kind = CountKind.AT_LEAST
            return COUNT_LIMIT
        return counted

    @cached_property
    def num_pages(self):
        # Pages reach COUNT_LIMIT rows at most: deeper pages would make the
        # database skip over as many rows as they are deep.
        reachable = min(self.count, COUNT_LIMIT)
        if reachable == 0 and not self.allow_empty_first_page:
            return 0
        return math.ceil(max(1, reachable - self.orphans) / self.per_page)

    @property
    def count_is_exact(self) -> bool:
        return self.count_kind is CountKind.EXACT

    @property
    def count_label(self) -> str:
        """Say how many rows match, as far as it is known."""
        number = number_format(self.count, force_grouping=True)
        if self.count_kind is CountKind.ESTIMATE:
            return gettext("about %(number)s") % {"number": number}
        if self.count_kind is CountKind.AT_LEAST:
            return gettext("%(number)s+") % {"number": number}
        if self.count_kind is CountKind.UNKNOWN:
            return pgettext("count of rows", "many")
        return number


class AuditChangeList(ChangeList):
    """A changelist that loads no heavy column and sorts by indexes only."""

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        deferred = getattr(self.model_admin, "list_deferred", ())
        return queryset.defer(*deferred) if deferred else queryset

    def get_ordering_field(self, field_name):
        # A crafted ?o= must not sort a million rows by an unindexed column.
        if field_name not in self.sortable_by:
            return None
        return super().get_ordering_field(field_name)


def date_links(changelist, *, today: datetime.date | None = None) -> dict | None:
    """Return the date hierarchy's links, in the shape of Django's own.

    Rows older than the retention period are purged daily, so the months and
    days of that period are every date worth offering; a date without rows
    simply lists nothing.
    """
    field = changelist.date_hierarchy
    if not field:
        return None
    today = today or timezone.localdate()
    first = today - datetime.timedelta(days=settings.WEBHOOK_RETENTION_DAYS + 1)
    keys = {part: f"{field}__{part}" for part in ("year", "month", "day")}
    chosen = {part: changelist.params.get(key) for part, key in keys.items()}

    def link(**parts):
        return changelist.get_query_string(
            {keys[part]: value for part, value in parts.items()}, [f"{field}__"]
        )

    try:
        year, month, day = (
            int(chosen[part]) if chosen[part] else None
            for part in ("year", "month", "day")
        )
        if year and month and day:
            moment = datetime.date(year, month, day)
            return {
                "back": {
                    "link": link(year=year, month=month),
                    "title": capfirst(date_format(moment, "YEAR_MONTH_FORMAT")),
                },
                "choices": [
                    {"title": capfirst(date_format(moment, "MONTH_DAY_FORMAT"))}
                ],
            }
        if year and month:
            last_day = calendar.monthrange(year, month)[1]
            days = [
                datetime.date(year, month, number) for number in range(1, last_day + 1)
            ]
            return {
                "back": {"link": link(year=year), "title": str(year)},
                "choices": [
                    {
                        "link": link(year=year, month=month, day=moment.day),
                        "title": capfirst(date_format(moment, "MONTH_DAY_FORMAT")),
                    }
                    for moment in days
                    if first <= moment <= today
                ],
            }
    except ValueError:
        # Django's changelist refuses such dates before this is rendered.
        return None

    months = _months_between(first, today)
    return {
        "back": {"link": link(), "title": gettext("All dates")} if year else None,
        "choices": [
            {
                "link": link(year=moment.year, month=moment.month),
                "title": capfirst(date_format(moment, "YEAR_MONTH_FORMAT")),
            }
            for moment in months
            if not year or moment.year == year
        ],
    }


def _months_between(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    months = []
    moment = first.replace(day=1)
    while moment <= last:
        months.append(moment)
        moment = (moment + datetime.timedelta(days=32)).replace(day=1)
    return months


def _estimated_rows(model, *, connection) -> int:
    """Return PostgreSQL's estimate of the table's rows, -1 if never analysed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            [connection.ops.quote_name(model._meta.db_table)],
        )
        row = cursor.fetchone()
    return row[0] if row else -1


def _bounded_count(queryset, *, connection) -> int | None:
    """Count up to COUNT_LIMIT + 1 rows; None if PostgreSQL ran out of time."""
    limited = queryset.order_by().values("pk")[: COUNT_LIMIT + 1]
    if connection.vendor != "postgresql":
        return limited.count()
    try:
        # In a savepoint: a cancelled count rolls back to it, taking the
        # timeout with it, and leaves any outer transaction usable.
        with transaction.atomic(using=queryset.db):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT current_setting('statement_timeout'), "
                    "set_config('statement_timeout', %s, true)",
                    [str(COUNT_TIMEOUT_MS)],
                )
                previous = cursor.fetchone()[0]
            count = limited.count()
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true)", [previous]
                )
            return count
    except OperationalError:
        logger.info("list count cut short model=%s", queryset.model._meta.label)
        return None
