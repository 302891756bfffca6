import datetime
import json

import pytest
from django.utils import timezone

from tests.factories import WorkspaceFactory
from webhooks.models import (
    AttemptOutcome,
    AttemptTrigger,
    DeliveryStatus,
    Event,
    WebhookConfig,
)
from webhooks.test_events import WebhookDisabledError, send_test_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(httpserver, fake_dns, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    settings.WEBHOOK_HTTP_DEADLINE = 3
    fake_dns.add("localhost", "127.0.0.1")
    return httpserver


@pytest.fixture
def config(receiver):
    workspace = WorkspaceFactory(
        enabled=True,
        webhook__endpoint_url=receiver.url_for("/hook"),
        webhook__event_types=["player-opened"],
    )
    return workspace.webhook


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("player-opened", {}),
        ("video-played", {}),
        ("video-watched", {"percent": 100}),
        ("share-clicked", {"share_target": "linkedin"}),
        ("cta-clicked", {"cta_id": "test-cta", "cta_url": "https://www.example.com/"}),
    ],
)
def test_a_sample_of_each_type_reaches_the_endpoint(config, receiver, event_type, data):
    receiver.expect_request("/hook", method="POST").respond_with_data("ok")

    report = send_test_event(config=config, event_type=event_type)

    (request, _response), *_ = receiver.log
    body = json.loads(request.get_data())
    assert report.status == DeliveryStatus.SUCCEEDED
    assert body["type"] == event_type
    assert body["data"]["session_id"].startswith("test-")
    assert {key: body["data"][key] for key in data} == data


def test_the_report_says_what_the_endpoint_answered(config, receiver):
    receiver.expect_request("/hook").respond_with_data("accepted", status=201)

    report = send_test_event(config=config, event_type="player-opened")

    assert report.outcome == AttemptOutcome.SUCCEEDED
    assert report.response_status == 201
    assert report.response_excerpt == "accepted"
    assert report.duration_ms is not None
    assert report.error == ""


def test_a_failed_test_is_not_retried_and_leaves_health_alone(config, receiver):
    receiver.expect_request("/hook").respond_with_data("broken", status=500)

    report = send_test_event(config=config, event_type="share-clicked")

    config = WebhookConfig.objects.get(pk=config.pk)
    delivery = config.workspace.deliveries.get()
    attempt = delivery.attempts.get()
    assert (report.status, report.outcome, report.error) == (
        DeliveryStatus.FAILED,
        AttemptOutcome.HTTP_ERROR,
        "HTTP 500",
    )
    assert report.response_excerpt == "broken"
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.next_attempt_at is None
    assert attempt.trigger == AttemptTrigger.TEST
    assert config.failing_since is None


def test_a_test_does_not_clear_a_failing_state_either(config, receiver):
    since = timezone.now() - datetime.timedelta(hours=1)
    WebhookConfig.objects.filter(pk=config.pk).update(failing_since=since)
    receiver.expect_request("/hook").respond_with_data("ok")

    send_test_event(config=config, event_type="player-opened")

    assert WebhookConfig.objects.get(pk=config.pk).failing_since == since


def test_an_event_type_not_subscribed_to_can_still_be_tried(config, receiver):
    receiver.expect_request("/hook").respond_with_data("ok")

    report = send_test_event(config=config, event_type="cta-clicked")

    assert report.outcome == AttemptOutcome.SUCCEEDED


def test_an_unreachable_endpoint_is_an_outcome_not_an_exception(config, receiver):
    WebhookConfig.objects.filter(pk=config.pk).update(
        endpoint_url="http://nowhere.invalid/hook"
    )

    report = send_test_event(config=config, event_type="player-opened")

    assert report.status == DeliveryStatus.FAILED
    assert report.outcome == AttemptOutcome.CONNECTION_ERROR
    assert "could not be resolved" in report.error


def test_nothing_is_sent_or_stored_while_the_webhook_is_off(config, receiver):
    WebhookConfig.objects.filter(pk=config.pk).update(enabled=False)

    with pytest.raises(WebhookDisabledError, match="The webhook is off"):
        send_test_event(config=config, event_type="player-opened")

    assert not Event.objects.exists()
    assert receiver.log == []


def test_each_test_is_a_new_player_session(config, receiver):
    receiver.expect_request("/hook").respond_with_data("ok")

    send_test_event(config=config, event_type="player-opened")
    send_test_event(config=config, event_type="player-opened")

    sessions = set(Event.objects.values_list("session_id", flat=True))
    assert len(sessions) == 2
