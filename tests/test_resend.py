import datetime

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from tests.factories import (
    DeliveryAttemptFactory,
    DeliveryFactory,
    EventFactory,
    WorkspaceFactory,
)
from webhooks import resend
from webhooks.models import (
    AttemptOutcome,
    AttemptTrigger,
    Delivery,
    DeliveryStatus,
    EventType,
)
from webhooks.resend import (
    ResendRefusedError,
    recover_workspace,
    resend_deliveries,
)
from webhooks.tasks import deliver

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def queued_delivery_ids():
    return sorted(row.task["args"][0] for row in OrmQ.objects.all())


def failed_delivery(workspace, *, created_at=NOW, event_type=EventType.SHARE_CLICKED):
    event = EventFactory(workspace=workspace, type=event_type)
    delivery = DeliveryFactory(event=event, failed=True)
    Delivery.objects.filter(pk=delivery.pk).update(created_at=created_at)
    return Delivery.objects.get(pk=delivery.pk)


@pytest.fixture
def enabled_workspace():
    return WorkspaceFactory(enabled=True)


def test_resend_puts_the_delivery_back_for_one_manual_attempt(
    enabled_workspace, django_capture_on_commit_callbacks
):
    delivery = failed_delivery(enabled_workspace)

    with django_capture_on_commit_callbacks(execute=True):
        result = resend_deliveries(delivery_ids=[delivery.pk], now=NOW)

    delivery.refresh_from_db()
    assert result == resend.ResendResult(queued=(delivery.pk,))
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_trigger == AttemptTrigger.MANUAL
    assert delivery.next_attempt_at == NOW
    assert delivery.queued_at == NOW
    assert delivery.completed_at is None
    assert delivery.attempt_count == 8
    assert queued_delivery_ids() == [delivery.pk]


def test_resend_queues_nothing_before_the_transaction_commits(
    enabled_workspace, django_capture_on_commit_callbacks
):
    delivery = failed_delivery(enabled_workspace)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        resend_deliveries(delivery_ids=[delivery.pk], now=NOW)

    assert len(callbacks) == 1
    assert OrmQ.objects.count() == 0


def test_resend_skips_a_delivery_in_flight(
    enabled_workspace, django_capture_on_commit_callbacks
):
    delivery = failed_delivery(enabled_workspace)
    lease = NOW + datetime.timedelta(seconds=60)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.IN_FLIGHT, lease_expires_at=lease
    )

    with django_capture_on_commit_callbacks(execute=True):
        result = resend_deliveries(delivery_ids=[delivery.pk], now=NOW)

    delivery.refresh_from_db()
    assert result == resend.ResendResult(skipped=(delivery.pk,))
    assert (delivery.status, delivery.lease_expires_at) == (
        DeliveryStatus.IN_FLIGHT,
        lease,
    )
    assert queued_delivery_ids() == []


def test_resend_refuses_deliveries_of_a_disabled_webhook(
    django_capture_on_commit_callbacks,
):
    workspace = WorkspaceFactory(name="Acme Video")
    delivery = failed_delivery(workspace)

    with django_capture_on_commit_callbacks(execute=True):
        result = resend_deliveries(delivery_ids=[delivery.pk], now=NOW)

    assert result.refused == {
        delivery.pk: "The webhook of Acme Video is disabled: turn it on before "
        "resending."
    }
    assert result.queued == ()
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.FAILED
    assert queued_delivery_ids() == []


def test_resend_refuses_an_event_type_no_longer_subscribed():
    workspace = WorkspaceFactory(
        name="Acme Video", enabled=True, webhook__event_types=["video-played"]
    )
    delivery = failed_delivery(workspace, event_type=EventType.CTA_CLICKED)

    result = resend_deliveries(delivery_ids=[delivery.pk], now=NOW)

    assert result.refused == {
        delivery.pk: "The webhook of Acme Video no longer subscribes to cta-clicked."
    }
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.FAILED


def test_resend_sorts_a_mixed_selection_and_ignores_unknown_ids(enabled_workspace):
    failed = failed_delivery(enabled_workspace)
    succeeded = DeliveryFactory(
        event=EventFactory(workspace=enabled_workspace), succeeded=True
    )
    disabled = failed_delivery(WorkspaceFactory())

    result = resend_deliveries(
        delivery_ids=[failed.pk, succeeded.pk, disabled.pk, 999_999], now=NOW
    )

    assert result.queued == tuple(sorted([failed.pk, succeeded.pk]))
    assert list(result.refused) == [disabled.pk]


def test_a_resent_delivery_is_attempted_once_by_hand_with_the_same_webhook_id(
    receiver, django_capture_on_commit_callbacks
):
    workspace = WorkspaceFactory(
        enabled=True, webhook__endpoint_url=receiver.url_for("/hook")
    )
    delivery = failed_delivery(workspace)
    DeliveryAttemptFactory(delivery=delivery, number=8, failed=True)
    receiver.expect_oneshot_request("/hook").respond_with_data("down", status=500)
    with django_capture_on_commit_callbacks(execute=True):
        resend_deliveries(delivery_ids=[delivery.pk])

    # What the queued task runs: the normal worker path.
    deliver(queued_delivery_ids()[0])

    request, _ = receiver.log[0]
    delivery.refresh_from_db()
    attempt = delivery.attempts.get(number=9)
    assert request.headers["webhook-id"] == str(delivery.event_id)
    assert (attempt.trigger, attempt.outcome) == (
        AttemptTrigger.MANUAL,
        AttemptOutcome.HTTP_ERROR,
    )
    # One attempt and no retry after it, whatever the schedule says.
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.next_trigger == AttemptTrigger.AUTOMATIC


def test_recover_resends_every_failure_of_the_workspace_since_the_time(
    enabled_workspace, django_capture_on_commit_callbacks
):
    since = NOW - datetime.timedelta(days=2)
    recent = failed_delivery(enabled_workspace, created_at=since)
    older = failed_delivery(enabled_workspace, created_at=since - datetime.timedelta(1))
    succeeded = DeliveryFactory(
        event=EventFactory(workspace=enabled_workspace), succeeded=True
    )
    elsewhere = failed_delivery(WorkspaceFactory(enabled=True))

    with django_capture_on_commit_callbacks(execute=True):
        queued = recover_workspace(workspace=enabled_workspace, since=since, now=NOW)

    assert queued == 1
    assert queued_delivery_ids() == [recent.pk]
    recent.refresh_from_db()
    assert (recent.status, recent.next_trigger, recent.next_attempt_at) == (
        DeliveryStatus.PENDING,
        AttemptTrigger.MANUAL,
        NOW,
    )
    assert {
        row.status for row in Delivery.objects.filter(pk__in=[older.pk, elsewhere.pk])
    } == {DeliveryStatus.FAILED}
    assert Delivery.objects.get(pk=succeeded.pk).status == DeliveryStatus.SUCCEEDED


def test_recover_works_through_thousands_in_batches(
    enabled_workspace, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(resend, "BATCH_SIZE", 2)
    deliveries = [failed_delivery(enabled_workspace) for _ in range(5)]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        queued = recover_workspace(
            workspace=enabled_workspace,
            since=NOW - datetime.timedelta(hours=1),
            now=NOW,
        )

    assert queued == 5
    assert len(callbacks) == 5
    assert queued_delivery_ids() == sorted(delivery.pk for delivery in deliveries)
    assert set(Delivery.objects.values_list("status", flat=True)) == {
        DeliveryStatus.PENDING
    }


def test_recover_leaves_event_types_no_longer_subscribed():
    workspace = WorkspaceFactory(enabled=True, webhook__event_types=["video-played"])
    failed_delivery(workspace, event_type=EventType.CTA_CLICKED)

    queued = recover_workspace(
        workspace=workspace, since=NOW - datetime.timedelta(hours=1), now=NOW
    )

    assert queued == 0


def test_recover_reaches_back_fourteen_days_at_most(enabled_workspace):
    failed_delivery(enabled_workspace, created_at=NOW - datetime.timedelta(days=15))

    with pytest.raises(
        ValueError,
        match=r"^A recovery reaches back 14 days at most: "
        r"choose a time after 2026-11-17 12:00 UTC\.$",
    ):
        recover_workspace(
            workspace=enabled_workspace,
            since=NOW - datetime.timedelta(days=14, seconds=1),
            now=NOW,
        )

    assert Delivery.objects.get().status == DeliveryStatus.FAILED


def test_recover_accepts_exactly_fourteen_days_back(enabled_workspace):
    failed_delivery(enabled_workspace, created_at=NOW - datetime.timedelta(days=14))

    queued = recover_workspace(
        workspace=enabled_workspace, since=NOW - datetime.timedelta(days=14), now=NOW
    )

    assert queued == 1


def test_recover_refuses_a_time_in_the_future(enabled_workspace):
    with pytest.raises(ValueError, match=r"^Choose a time in the past\.$"):
        recover_workspace(
            workspace=enabled_workspace,
            since=NOW + datetime.timedelta(minutes=1),
            now=NOW,
        )


def test_recover_is_refused_while_the_webhook_is_disabled():
    workspace = WorkspaceFactory(name="Acme Video")
    failed_delivery(workspace)

    with pytest.raises(
        ResendRefusedError,
        match=r"^The webhook of Acme Video is disabled: turn it on before resending\.$",
    ):
        recover_workspace(
            workspace=workspace, since=NOW - datetime.timedelta(hours=1), now=NOW
        )

    assert Delivery.objects.get().status == DeliveryStatus.FAILED


def test_recover_with_the_real_clock_works(enabled_workspace):
    failed_delivery(enabled_workspace, created_at=timezone.now())

    queued = recover_workspace(
        workspace=enabled_workspace,
        since=timezone.now() - datetime.timedelta(hours=24),
    )

    assert queued == 1


@pytest.fixture
def receiver(httpserver, fake_dns, settings):
    """A local HTTP server the webhook points at; loopback allowed for it."""
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    settings.WEBHOOK_HTTP_DEADLINE = 3
    fake_dns.add("localhost", "127.0.0.1")
    return httpserver
