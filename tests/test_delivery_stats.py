import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import (
    DeliveryAttemptFactory,
    DeliveryFactory,
    EventFactory,
    WorkspaceFactory,
)
from webhooks.delivery_stats import summarize_deliveries
from webhooks.models import AttemptOutcome, Delivery, DeliveryStatus

# The figures must come out the same on both databases: percentile_cont on
# PostgreSQL, the ranked reads elsewhere.
pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def delivery_at(workspace, moment, **fields):
    delivery = DeliveryFactory(event=EventFactory(workspace=workspace), **fields)
    Delivery.objects.filter(pk=delivery.pk).update(created_at=moment)
    return delivery


def test_summary_counts_the_last_day_of_one_workspace():
    workspace = WorkspaceFactory()
    for duration in (10, 20, 30, 40, 50):
        delivery = delivery_at(workspace, NOW, succeeded=True)
        DeliveryAttemptFactory(delivery=delivery, number=1, duration_ms=duration)
    failed = delivery_at(workspace, NOW - datetime.timedelta(hours=23), failed=True)
    DeliveryAttemptFactory(delivery=failed, number=1, failed=True, duration_ms=None)
    delivery_at(workspace, NOW)
    old = delivery_at(workspace, NOW - datetime.timedelta(hours=25), failed=True)
    DeliveryAttemptFactory(delivery=old, number=1, duration_ms=9000)
    DeliveryAttemptFactory(number=1, duration_ms=9000)

    stats = summarize_deliveries(workspace_id=workspace.pk, now=NOW)

    assert stats.since == NOW - datetime.timedelta(hours=24)
    assert stats.deliveries == 7
    assert stats.by_status == {
        DeliveryStatus.PENDING: 1,
        DeliveryStatus.IN_FLIGHT: 0,
        DeliveryStatus.SUCCEEDED: 5,
        DeliveryStatus.FAILED: 1,
        DeliveryStatus.CANCELLED: 0,
    }
    assert stats.attempts == 6
    assert stats.by_outcome[AttemptOutcome.SUCCEEDED] == 5
    assert stats.by_outcome[AttemptOutcome.HTTP_ERROR] == 1
    assert stats.success_rate == pytest.approx(5 / 6)
    # percentile_cont over 10..50: 30 and 40 + 0.8 × 10.
    assert (stats.duration_p50, stats.duration_p95) == (30, pytest.approx(48))


def test_summary_of_a_quiet_workspace_has_no_rate_and_no_durations():
    workspace = WorkspaceFactory()
    delivery_at(workspace, NOW)

    stats = summarize_deliveries(workspace_id=workspace.pk, now=NOW)

    assert (stats.deliveries, stats.attempts) == (1, 0)
    assert (stats.success_rate, stats.duration_p50, stats.duration_p95) == (
        None,
        None,
        None,
    )


def test_summary_of_a_single_duration_is_that_duration():
    workspace = WorkspaceFactory()
    delivery = delivery_at(workspace, NOW, succeeded=True)
    DeliveryAttemptFactory(delivery=delivery, number=1, duration_ms=77)

    stats = summarize_deliveries(workspace_id=workspace.pk, now=NOW)

    assert (stats.duration_p50, stats.duration_p95) == (77, 77)


def test_summary_reads_a_bounded_number_of_rows_in_few_queries():
    workspace = WorkspaceFactory()
    for duration in range(1, 41):
        delivery = delivery_at(workspace, timezone.now(), succeeded=True)
        DeliveryAttemptFactory(delivery=delivery, number=1, duration_ms=duration)

    with CaptureQueriesContext(connection) as queries:
        summarize_deliveries(workspace_id=workspace.pk)

    expected = 2 if connection.vendor == "postgresql" else 5
    assert len(queries) == expected
    assert all("LIMIT" in query["sql"] for query in queries[3:])
