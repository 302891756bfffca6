import logging

import pytest
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from tests.factories import DeliveryFactory
from webhooks import tasks
from webhooks.models import DeliveryStatus
from webhooks.tasks import deliver, get_task_broker, queue_delivery

pytestmark = pytest.mark.django_db


def test_a_queued_delivery_carries_its_id_and_nothing_else():
    queue_delivery(delivery_id=41)

    row = OrmQ.objects.get()
    task = SignedPackage.loads(row.payload)
    assert row.key == "seen-events"
    assert task["func"] == "webhooks.tasks.deliver"
    assert task["args"] == (41,)
    assert task["kwargs"] == {}
    assert task["name"] == "deliver-41"


def test_every_task_shares_the_process_broker():
    assert get_task_broker() is get_task_broker()


def test_a_broker_that_is_down_is_logged_and_not_raised(monkeypatch, caplog):
    class DownBroker:
        list_key = "seen-events"

        def enqueue(self, package):
            raise ConnectionError("Connection refused")

    monkeypatch.setattr(tasks, "get_task_broker", DownBroker)

    with caplog.at_level(logging.WARNING, logger="webhooks.tasks"):
        queue_delivery(delivery_id=41)

    assert [record.getMessage() for record in caplog.records] == [
        "delivery not queued delivery=41"
    ]
    assert not OrmQ.objects.exists()


def test_the_deliver_task_attempts_the_delivery():
    delivery = DeliveryFactory()

    deliver(delivery.pk)

    delivery.refresh_from_db()
    # The factory's webhook is off, so the attempt cancels the delivery.
    assert delivery.status == DeliveryStatus.CANCELLED
    assert delivery.last_error == (
        "The webhook was switched off before this delivery was sent."
    )
