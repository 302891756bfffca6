import datetime

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from tests.factories import (
    DeliveryAttemptFactory,
    DeliveryFactory,
    EventFactory,
    UserFactory,
    WorkspaceFactory,
)
from webhooks.models import (
    AttemptTrigger,
    Delivery,
    DeliveryStatus,
    WebhookConfig,
    Workspace,
)

pytestmark = pytest.mark.django_db


def recover_url(workspace):
    return reverse("admin:webhooks_workspace_recover", args=[workspace.pk])


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def queued_delivery_ids():
    return sorted(row.task["args"][0] for row in OrmQ.objects.all())


def failed_delivery(workspace, *, age):
    delivery = DeliveryFactory(event=EventFactory(workspace=workspace), failed=True)
    Delivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - age)
    return delivery


def local_input(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def workspace():
    return WorkspaceFactory(name="Acme Video", enabled=True)


def test_recover_page_offers_the_last_24_hours(staff_client, workspace):
    response = staff_client.get(recover_url(workspace))

    form = response.context["form"]
    offered = timezone.now() - form["since"].initial
    assert response.status_code == 200
    assert (
        datetime.timedelta(hours=24)
        <= offered
        < datetime.timedelta(hours=24, minutes=1)
    )
    assert 'type="datetime-local"' in response.content.decode()


def test_recover_resends_failures_since_the_chosen_time_and_logs_who(
    staff_client, workspace, django_capture_on_commit_callbacks
):
    recent = [
        failed_delivery(workspace, age=datetime.timedelta(hours=h)) for h in (1, 2)
    ]
    older = failed_delivery(workspace, age=datetime.timedelta(hours=30))
    since = timezone.now() - datetime.timedelta(hours=3)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            recover_url(workspace), {"since": local_input(since)}, follow=True
        )

    assert response.redirect_chain == [
        (reverse("admin:webhooks_workspace_change", args=[workspace.pk]), 302)
    ]
    assert messages_of(response) == [
        "Queued 2 failed deliveries of Acme Video for resending."
    ]
    assert queued_delivery_ids() == sorted(delivery.pk for delivery in recent)
    assert {
        (row.status, row.next_trigger)
        for row in Delivery.objects.filter(pk__in=[d.pk for d in recent])
    } == {(DeliveryStatus.PENDING, AttemptTrigger.MANUAL)}
    assert Delivery.objects.get(pk=older.pk).status == DeliveryStatus.FAILED
    entry = LogEntry.objects.get()
    since_text = timezone.localtime(since).strftime("%Y-%m-%d %H:%M:00 UTC")
    assert (entry.user, entry.content_type, entry.object_id, entry.action_flag) == (
        response.wsgi_request.user,
        ContentType.objects.get_for_model(Workspace),
        str(workspace.pk),
        CHANGE,
    )
    assert entry.change_message == (
        f"Recovered failed deliveries created since {since_text}: queued 2."
    )


def test_recover_says_so_when_nothing_failed(staff_client, workspace):
    since = timezone.now() - datetime.timedelta(hours=3)

    response = staff_client.post(
        recover_url(workspace), {"since": local_input(since)}, follow=True
    )

    assert messages_of(response) == [
        "Acme Video has no failed delivery to resend since then."
    ]


def test_recover_refuses_more_than_14_days_back(staff_client, workspace):
    failed_delivery(workspace, age=datetime.timedelta(days=15))
    since = timezone.now() - datetime.timedelta(days=15)

    response = staff_client.post(recover_url(workspace), {"since": local_input(since)})

    earliest = timezone.localtime(
        response.context["form"].now - datetime.timedelta(days=14)
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "since": [
            "A recovery reaches back 14 days at most: choose a time after "
            f"{earliest:%Y-%m-%d %H:%M} UTC."
        ]
    }
    assert Delivery.objects.get().status == DeliveryStatus.FAILED
    assert not LogEntry.objects.exists()


def test_recover_refuses_a_time_in_the_future(staff_client, workspace):
    since = timezone.now() + datetime.timedelta(hours=1)

    response = staff_client.post(recover_url(workspace), {"since": local_input(since)})

    assert response.context["form"].errors == {"since": ["Choose a time in the past."]}


def test_recover_is_refused_while_the_webhook_is_disabled(staff_client):
    workspace = WorkspaceFactory(name="Acme Video")
    failed_delivery(workspace, age=datetime.timedelta(hours=1))
    since = timezone.now() - datetime.timedelta(hours=3)

    page = staff_client.get(recover_url(workspace))
    response = staff_client.post(recover_url(workspace), {"since": local_input(since)})

    assert (
        "The webhook is disabled: a recovery is refused until it is on."
        in page.content.decode()
    )
    assert response.context["form"].non_field_errors() == [
        "The webhook of Acme Video is disabled: turn it on before resending."
    ]
    assert Delivery.objects.get().status == DeliveryStatus.FAILED
    assert OrmQ.objects.count() == 0
    assert not LogEntry.objects.exists()


def test_staff_who_may_not_change_deliveries_cannot_recover(client, workspace):
    staff = UserFactory(staff=True)
    staff.user_permissions.add(
        *ContentType.objects.get_for_model(Workspace).permission_set.all()
    )
    client.force_login(staff)

    response = client.post(
        recover_url(workspace), {"since": local_input(timezone.now())}
    )

    assert response.status_code == 403


def test_workspace_page_shows_delivery_health(staff_client, workspace):
    for duration in (100, 200, 300):
        delivery = DeliveryFactory(
            event=EventFactory(workspace=workspace), succeeded=True
        )
        DeliveryAttemptFactory(delivery=delivery, number=1, duration_ms=duration)
    failed = DeliveryFactory(event=EventFactory(workspace=workspace), failed=True)
    DeliveryAttemptFactory(delivery=failed, number=1, failed=True, duration_ms=400)
    failing_since = datetime.datetime(2026, 12, 1, 9, 30, tzinfo=datetime.UTC)
    WebhookConfig.objects.filter(workspace=workspace).update(
        failing_since=failing_since
    )

    response = staff_client.get(
        reverse("admin:webhooks_workspace_change", args=[workspace.pk])
    )

    content = response.content.decode()
    assert (
        "<tr><th>Deliveries in the last 24 hours</th><td>4 (succeeded 3, failed 1)"
        "</td></tr>" in content
    )
    assert "<tr><th>Success rate</th><td>75.0 % of finished deliveries</td></tr>" in (
        content
    )
    assert "<td>4 (succeeded 3, http error 1)</td>" in content
    assert "<td>p50 250 ms, p95 385 ms</td>" in content
    assert "<tr><th>Failing since</th><td>2026-12-01 09:30:00 UTC</td></tr>" in content
    assert recover_url(workspace) in content


def test_webhook_page_shows_the_same_health(staff_client, workspace):
    DeliveryFactory(event=EventFactory(workspace=workspace), succeeded=True)

    response = staff_client.get(
        reverse("admin:webhooks_webhookconfig_change", args=[workspace.webhook.pk])
    )

    content = response.content.decode()
    assert "<td>1 (succeeded 1)</td>" in content
    assert "<tr><th>Failing since</th><td>Not failing</td></tr>" in content
