"""How a workspace's deliveries went lately: the figures staff read at a glance.

Everything is computed in the database over the deliveries created in the
window (24 hours by default) and their attempts, through the
(workspace, created_at) index: the cost grows with one day of one
workspace's traffic, never with the table.
"""

import dataclasses
import datetime
import math

from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Q
from django.utils import timezone

from webhooks.models import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus

WINDOW = datetime.timedelta(hours=24)
PERCENTILES = (0.5, 0.95)


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile of an expression."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, *, percentile: float, **extra):
        # Interpolated into the SQL: only ever one of this module's floats.
        super().__init__(expression, percentile=float(percentile), **extra)


@dataclasses.dataclass(frozen=True)
class DeliveryStats:
    """A workspace's deliveries created since ``since``, and their attempts.

    ``success_rate`` is the share of finished deliveries (succeeded or
    failed) that succeeded, None before any finished. Durations are in
    milliseconds, over attempts that have one.
    """

    since: datetime.datetime
    deliveries: int
    by_status: dict[str, int]
    attempts: int
    by_outcome: dict[str, int]
    success_rate: float | None
    duration_p50: float | None
    duration_p95: float | None


def summarize_deliveries(
    *,
    workspace_id: int,
    now: datetime.datetime | None = None,
    window: datetime.timedelta = WINDOW,
) -> DeliveryStats:
    """Count the workspace's recent deliveries and time their attempts.

    Two queries on PostgreSQL; elsewhere up to three more, each reading at
    most two durations.
    """
    since = (now or timezone.now()) - window
    deliveries = Delivery.objects.filter(
        workspace_id=workspace_id, created_at__gte=since
    )
    counts = deliveries.aggregate(**_counts_by("status", DeliveryStatus.values))
    by_status = {status: counts[status] for status in DeliveryStatus.values}

    # The attempts' outcomes and, on PostgreSQL, their percentiles in one
    # pass; percentile_cont ignores attempts without a duration.
    attempts = DeliveryAttempt.objects.filter(delivery__in=deliveries.values("pk"))
    on_postgresql = connection.vendor == "postgresql"
    figures = attempts.aggregate(
        **_counts_by("outcome", AttemptOutcome.values),
        **{
            f"p{index}": PercentileCont("duration_ms", percentile=percentile)
            for index, percentile in enumerate(PERCENTILES)
            if on_postgresql
        },
    )
    by_outcome = {outcome: figures[outcome] for outcome in AttemptOutcome.values}
    if on_postgresql:
        p50, p95 = (figures[f"p{index}"] for index in range(len(PERCENTILES)))
    else:
        p50, p95 = _ranked_percentiles(
            attempts.filter(duration_ms__isnull=False), "duration_ms"
        )

    finished = by_status[DeliveryStatus.SUCCEEDED] + by_status[DeliveryStatus.FAILED]
    return DeliveryStats(
        since=since,
        deliveries=sum(by_status.values()),
        by_status=by_status,
        attempts=sum(by_outcome.values()),
        by_outcome=by_outcome,
        success_rate=(
            by_status[DeliveryStatus.SUCCEEDED] / finished if finished else None
        ),
        duration_p50=p50,
        duration_p95=p95,
    )


def _counts_by(field: str, values: list[str]) -> dict[str, Count]:
    return {value: Count("pk", filter=Q(**{field: value})) for value in values}


def _ranked_percentiles(queryset, field: str) -> tuple[float | None, ...]:
    """Return PERCENTILES of ``field``, interpolated as percentile_cont does.

    The database sorts and hands over only the one or two values around each
    percentile's rank.
    """
    count = queryset.count()
    if not count:
        return tuple(None for _ in PERCENTILES)
    ordered = queryset.order_by(field).values_list(field, flat=True)
    values = []
    for percentile in PERCENTILES:
        rank = percentile * (count - 1)
        low = math.floor(rank)
        around = list(ordered[low : low + 2])
        upper = around[1] if len(around) > 1 else around[0]
        values.append(around[0] + (upper - around[0]) * (rank - low))
    return tuple(values)
