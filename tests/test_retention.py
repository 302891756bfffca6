import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import Schedule

from tests.factories import DeliveryAttemptFactory, DeliveryFactory, EventFactory
from webhooks.models import Delivery, DeliveryAttempt, Event
from webhooks.retention import purge_old_rows

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def make_delivery_at(moment, *, attempts=2):
    event = EventFactory(received_at=moment, occurred_at=moment)
    delivery = DeliveryFactory(event=event)
    Delivery.objects.filter(pk=delivery.pk).update(created_at=moment)
    for number in range(1, attempts + 1):
        DeliveryAttemptFactory(delivery=delivery, number=number, started_at=moment)
    return delivery


def test_purge_removes_exactly_what_is_older_than_retention(settings):
    settings.WEBHOOK_RETENTION_DAYS = 30
    old = make_delivery_at(NOW - datetime.timedelta(days=30, seconds=1))
    kept = make_delivery_at(NOW - datetime.timedelta(days=29, hours=23))
    old_event_without_delivery = EventFactory(
        received_at=NOW - datetime.timedelta(days=31)
    )
    recent_event = EventFactory(received_at=NOW - datetime.timedelta(days=1))

    deleted = purge_old_rows(now=NOW, batch_size=1)

    assert deleted == {"attempts": 2, "deliveries": 1, "events": 2}
    assert list(Delivery.objects.all()) == [kept]
    assert set(DeliveryAttempt.objects.values_list("delivery", flat=True)) == {kept.pk}
    assert set(Event.objects.all()) == {kept.event, recent_event}
    assert not Event.objects.filter(
        pk__in=[old.event_id, old_event_without_delivery.pk]
    ).exists()


def test_purge_logs_how_many_rows_went(settings, caplog):
    settings.WEBHOOK_RETENTION_DAYS = 7
    make_delivery_at(NOW - datetime.timedelta(days=8), attempts=3)

    with caplog.at_level("INFO", logger="webhooks.retention"):
        purge_old_rows(now=NOW)

    assert caplog.messages == [
        "old rows purged cutoff=2026-11-24T12:00:00+00:00 attempts=3 "
        "deliveries=1 events=1"
    ]


def test_purge_deletes_in_batches_of_its_own_transaction(settings):
    settings.WEBHOOK_RETENTION_DAYS = 7
    for _ in range(5):
        make_delivery_at(NOW - datetime.timedelta(days=8), attempts=1)

    with CaptureQueriesContext(connection) as queries:
        deleted = purge_old_rows(now=NOW, batch_size=2)

    delivery_deletes = [
        query["sql"]
        for query in queries
        if query["sql"].startswith('DELETE FROM "webhooks_delivery" ')
    ]
    assert deleted == {"attempts": 5, "deliveries": 5, "events": 5}
    assert len(delivery_deletes) == 3
    assert Delivery.objects.count() == 0


def test_the_daily_schedule_purges_with_the_default_retention_of_30_days():
    old = make_delivery_at(timezone.now() - datetime.timedelta(days=31))
    kept = make_delivery_at(timezone.now() - datetime.timedelta(days=29))
    schedule = Schedule.objects.get(func="webhooks.tasks.purge_old_rows")

    import_string(schedule.func)()

    assert (schedule.schedule_type, schedule.repeats) == (Schedule.DAILY, -1)
    assert list(Delivery.objects.all()) == [kept]
    assert not Event.objects.filter(pk=old.event_id).exists()
