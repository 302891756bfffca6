import datetime
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_q.models import OrmQ

from tests.factories import DeliveryAttemptFactory, DeliveryFactory
from webhooks.models import AttemptOutcome, Delivery, DeliveryStatus
from webhooks.sweeper import INTERRUPTED, sweep_deliveries

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def queued_delivery_ids():
    return sorted(row.task["args"][0] for row in OrmQ.objects.all())


@pytest.fixture(autouse=True)
def schedule(settings):
    settings.WEBHOOK_RETRY_SCHEDULE = "0,5,300"


def test_due_deliveries_are_queued_once_a_minute_at_most(
    django_capture_on_commit_callbacks,
):
    due = DeliveryFactory(next_attempt_at=NOW - datetime.timedelta(seconds=1))
    soon = DeliveryFactory(next_attempt_at=NOW + datetime.timedelta(seconds=5))
    DeliveryFactory(next_attempt_at=NOW + datetime.timedelta(minutes=5))
    recently_queued = DeliveryFactory(
        next_attempt_at=NOW, queued_at=NOW - datetime.timedelta(seconds=30)
    )
    DeliveryFactory(succeeded=True)

    with django_capture_on_commit_callbacks(execute=True):
        counts = sweep_deliveries(now=NOW)

    assert counts == {"reclaimed": 0, "queued": 2}
    assert queued_delivery_ids() == sorted([due.pk, soon.pk])
    assert Delivery.objects.get(pk=due.pk).queued_at == NOW
    assert Delivery.objects.get(pk=recently_queued.pk).queued_at < NOW


def test_a_lapsed_lease_is_reclaimed_and_its_attempt_marked_interrupted():
    delivery = DeliveryFactory(
        status=DeliveryStatus.IN_FLIGHT,
        attempt_count=1,
        lease_expires_at=NOW - datetime.timedelta(seconds=1),
    )
    attempt = DeliveryAttemptFactory(
        delivery=delivery, number=1, outcome=AttemptOutcome.IN_PROGRESS
    )

    counts = sweep_deliveries(now=NOW)

    delivery.refresh_from_db()
    attempt.refresh_from_db()
    assert counts["reclaimed"] == 1
    assert (attempt.outcome, attempt.error) == (AttemptOutcome.INTERRUPTED, INTERRUPTED)
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.lease_expires_at is None
    assert 4 <= (delivery.next_attempt_at - NOW).total_seconds() <= 6


def test_a_live_lease_is_left_alone():
    delivery = DeliveryFactory(
        status=DeliveryStatus.IN_FLIGHT,
        attempt_count=1,
        lease_expires_at=NOW + datetime.timedelta(seconds=30),
    )

    sweep_deliveries(now=NOW)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.IN_FLIGHT


def test_a_reclaimed_delivery_past_its_schedule_fails():
    delivery = DeliveryFactory(
        status=DeliveryStatus.IN_FLIGHT,
        attempt_count=3,
        lease_expires_at=NOW - datetime.timedelta(seconds=1),
    )

    sweep_deliveries(now=NOW)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.completed_at == NOW


def test_sweeping_with_the_real_clock_works():
    DeliveryFactory(next_attempt_at=timezone.now())

    assert sweep_deliveries()["queued"] == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sweepers_skip_deliveries_another_sweeper_holds():
    if connection.vendor != "postgresql":
        pytest.skip("Row locks that others skip exist on PostgreSQL only.")
    held = DeliveryFactory(next_attempt_at=NOW)
    free = DeliveryFactory(next_attempt_at=NOW)
    locked = threading.Event()
    done = threading.Event()

    def hold_row():
        with transaction.atomic():
            list(Delivery.objects.select_for_update().filter(pk=held.pk))
            locked.set()
            done.wait(timeout=10)
        connection.close()

    holder = threading.Thread(target=hold_row)
    holder.start()
    assert locked.wait(timeout=10)
    try:
        counts = sweep_deliveries(now=NOW)
    finally:
        done.set()
        holder.join(timeout=10)

    assert counts["queued"] == 1
    assert Delivery.objects.get(pk=free.pk).queued_at == NOW
    assert Delivery.objects.get(pk=held.pk).queued_at is None
