import base64
import datetime
import json
import socket
import struct
import threading
import time
from urllib.parse import parse_qs

import pytest
from django.core import mail
from django.utils import timezone
from standardwebhooks.webhooks import Webhook
from werkzeug import Response

from tests.factories import (
    DeliveryFactory,
    EventFactory,
    MembershipFactory,
    UserFactory,
    WorkspaceFactory,
)
from tests.servers import SERVER_PATIENCE, trickle
from webhooks.delivery import attempt_delivery, claim_delivery
from webhooks.models import (
    AttemptOutcome,
    AttemptTrigger,
    Delivery,
    DeliveryStatus,
    EventType,
    WebhookAuth,
    WebhookConfig,
    WebhookHeader,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(httpserver, fake_dns, settings):
    """A local HTTP server the webhook points at; loopback allowed for it."""
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    settings.WEBHOOK_HTTP_DEADLINE = 3
    settings.WEBHOOK_RETRY_SCHEDULE = "0,5,300,1800"
    fake_dns.add("localhost", "127.0.0.1")
    return httpserver


def make_delivery(receiver, *, method="POST", event_type=EventType.VIDEO_WATCHED):
    workspace = WorkspaceFactory(
        enabled=True, webhook__endpoint_url=receiver.url_for("/hook")
    )
    config = workspace.webhook
    config.http_method = method
    config.save()
    event = EventFactory(
        workspace=workspace,
        type=event_type,
        data={"percent": 92, "tags": ["a", "b"]},
        page_url="https://www.example.com/watch?v=1",
    )
    return DeliveryFactory(event=event)


def verify(config, *, headers, content):
    """Verify a received request with the standardwebhooks reference library."""
    wanted = {
        name: headers[name]
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }
    Webhook(config.signing_secret).verify(content, wanted, json_parse=False)
    return True


def reload(delivery):
    return Delivery.objects.get(pk=delivery.pk)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_body_methods_send_the_signed_envelope(receiver, method):
    delivery = make_delivery(receiver, method=method)
    receiver.expect_oneshot_request("/hook", method=method).respond_with_data("ok")

    report = attempt_delivery(delivery_id=delivery.pk)

    request, _ = receiver.log[0]
    config = delivery.workspace.webhook
    body = json.loads(request.get_data())
    assert body["id"] == str(delivery.event.id)
    assert body["type"] == "video-watched"
    assert body["workspace"] == delivery.workspace.slug
    assert body["data"]["percent"] == 92
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("SEEN-External-Events/")
    assert request.headers["webhook-id"] == str(delivery.event.id)
    assert verify(config, headers=request.headers, content=request.get_data())
    assert report.status == DeliveryStatus.SUCCEEDED
    delivery = reload(delivery)
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == (
        DeliveryStatus.SUCCEEDED,
        1,
        200,
    )
    attempt = delivery.attempts.get()
    assert attempt.outcome == AttemptOutcome.SUCCEEDED
    assert attempt.request_body == request.get_data().decode()
    assert attempt.response_body == "ok"
    assert attempt.request_headers["webhook-signature"] == "[redacted]"
    assert attempt.request_headers["Content-Type"] == "[redacted]"
    assert attempt.request_headers["webhook-id"] == str(delivery.event.id)


def test_get_carries_the_envelope_in_a_signed_query_string(receiver):
    delivery = make_delivery(receiver, method="GET")
    receiver.expect_oneshot_request("/hook", method="GET").respond_with_data("ok")

    attempt_delivery(delivery_id=delivery.pk)

    request, _ = receiver.log[0]
    query = request.query_string.decode()
    fields = parse_qs(query, keep_blank_values=True)
    assert fields["type"] == ["video-watched"]
    assert fields["data.percent"] == ["92"]
    assert fields["data.tags.1"] == ["b"]
    assert request.get_data() == b""
    assert verify(delivery.workspace.webhook, headers=request.headers, content=query)
    assert reload(delivery).attempts.get().request_url.endswith("?" + query)


def test_a_rotated_secret_signs_alongside_the_new_one(receiver):
    from webhooks.workspaces import rotate_signing_secret

    delivery = make_delivery(receiver)
    config = delivery.workspace.webhook
    old_secret = config.signing_secret
    rotate_signing_secret(config=config)
    receiver.expect_oneshot_request("/hook").respond_with_data("ok")

    attempt_delivery(delivery_id=delivery.pk)

    request, _ = receiver.log[0]
    headers = {key.lower(): value for key, value in request.headers.items()}
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old_secret, config.signing_secret):
        Webhook(secret).verify(request.get_data(), headers, json_parse=False)


@pytest.mark.parametrize(
    ("kind", "fields", "header", "expected"),
    [
        (
            "basic",
            {"username": "ann", "password": "pässword"},
            "Authorization",
            "Basic " + base64.b64encode("ann:pässword".encode()).decode(),
        ),
        ("bearer", {"token": "tok-123"}, "Authorization", "Bearer tok-123"),
        (
            "api_key",
            {"api_key_header": "X-Api-Key", "api_key": "key-456"},
            "X-Api-Key",
            "key-456",
        ),
    ],
)
def test_each_auth_kind_reaches_the_receiver_and_not_the_audit(
    receiver, kind, fields, header, expected
):
    delivery = make_delivery(receiver)
    WebhookAuth.objects.filter(config=delivery.workspace.webhook).update(kind=kind)
    auth = WebhookAuth.objects.get(config=delivery.workspace.webhook)
    for name, value in fields.items():
        setattr(auth, name, value)
    auth.save()
    receiver.expect_oneshot_request("/hook").respond_with_data("ok")

    attempt_delivery(delivery_id=delivery.pk)

    request, _ = receiver.log[0]
    assert request.headers[header] == expected
    attempt = reload(delivery).attempts.get()
    assert attempt.request_headers[header] == "[redacted]"
    assert expected not in json.dumps(attempt.request_headers)


def test_configured_header_values_are_sent_and_redacted(receiver):
    delivery = make_delivery(receiver)
    WebhookHeader.objects.create(
        config=delivery.workspace.webhook, position=1, name="X-Team", value="s3cret"
    )
    receiver.expect_oneshot_request("/hook").respond_with_data("ok")

    attempt_delivery(delivery_id=delivery.pk)

    request, _ = receiver.log[0]
    assert request.headers["X-Team"] == "s3cret"
    assert reload(delivery).attempts.get().request_headers["X-Team"] == "[redacted]"


def oauth_delivery(receiver):
    delivery = make_delivery(receiver)
    auth = WebhookAuth.objects.get(config=delivery.workspace.webhook)
    auth.kind = "oauth2"
    auth.token_url = receiver.url_for("/token")
    auth.client_id = "client"
    auth.client_secret = "client-secret"
    auth.save()
    return delivery


def test_oauth_token_is_fetched_through_the_session_and_used(receiver):
    delivery = oauth_delivery(receiver)
    receiver.expect_oneshot_request("/token", method="POST").respond_with_json(
        {"access_token": "oauth-token-1", "expires_in": 3600, "token_type": "Bearer"}
    )
    receiver.expect_oneshot_request("/hook").respond_with_data("ok")

    attempt_delivery(delivery_id=delivery.pk)

    token_request, _ = receiver.log[0]
    hook_request, _ = receiver.log[1]
    assert parse_qs(token_request.get_data().decode())["grant_type"] == [
        "client_credentials"
    ]
    assert hook_request.headers["Authorization"] == "Bearer oauth-token-1"
    assert reload(delivery).status == DeliveryStatus.SUCCEEDED


def test_oauth_401_fetches_a_new_token_once(receiver):
    delivery = oauth_delivery(receiver)
    receiver.expect_ordered_request("/token").respond_with_json(
        {"access_token": "stale", "expires_in": 3600}
    )
    receiver.expect_ordered_request("/hook").respond_with_data("", status=401)
    receiver.expect_ordered_request("/token").respond_with_json(
        {"access_token": "fresh", "expires_in": 3600}
    )
    receiver.expect_ordered_request("/hook").respond_with_data("ok")

    attempt_delivery(delivery_id=delivery.pk)

    assert [request.headers.get("Authorization") for request, _ in receiver.log][
        1::2
    ] == ["Bearer stale", "Bearer fresh"]
    delivery = reload(delivery)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts.count() == 1


def test_a_failed_token_request_is_an_auth_error_and_nothing_is_sent(receiver):
    delivery = oauth_delivery(receiver)
    receiver.expect_request("/token").respond_with_json(
        {"error": "invalid_client"}, status=401
    )

    attempt_delivery(delivery_id=delivery.pk)

    assert all(request.path == "/token" for request, _ in receiver.log)
    attempt = reload(delivery).attempts.get()
    assert attempt.outcome == AttemptOutcome.AUTH_ERROR
    assert attempt.error.startswith("OAuth token request failed: HTTP 401")
    assert "client-secret" not in attempt.error


def test_a_server_error_schedules_the_next_attempt_and_tells_the_admins(
    receiver, django_capture_on_commit_callbacks
):
    delivery = make_delivery(receiver)
    MembershipFactory(
        workspace=delivery.workspace,
        user=UserFactory(email="admin@acme.test"),
        admin=True,
    )
    receiver.expect_oneshot_request("/hook").respond_with_data("boom", status=500)
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        attempt_delivery(delivery_id=delivery.pk)

    delivery = reload(delivery)
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_status_code == 500
    assert delivery.last_error == "HTTP 500"
    assert delivery.lease_expires_at is None
    delay = (delivery.next_attempt_at - before).total_seconds()
    assert 4 <= delay <= 7
    attempt = delivery.attempts.get()
    assert (attempt.outcome, attempt.response_body) == (
        AttemptOutcome.HTTP_ERROR,
        "boom",
    )
    config = WebhookConfig.objects.get(pk=delivery.workspace.webhook.pk)
    assert config.failing_since is not None
    assert [message.to for message in mail.outbox] == [["admin@acme.test"]]
    assert "are failing" in mail.outbox[0].subject


def test_retry_after_on_503_is_honoured(receiver):
    delivery = make_delivery(receiver)
    receiver.expect_oneshot_request("/hook").respond_with_data(
        "busy", status=503, headers={"Retry-After": "120"}
    )
    before = timezone.now()

    attempt_delivery(delivery_id=delivery.pk)

    delay = (reload(delivery).next_attempt_at - before).total_seconds()
    assert 120 <= delay <= 125


def test_a_429_waits_at_least_a_minute(receiver):
    delivery = make_delivery(receiver)
    receiver.expect_oneshot_request("/hook").respond_with_data("slow", status=429)
    before = timezone.now()

    attempt_delivery(delivery_id=delivery.pk)

    assert (reload(delivery).next_attempt_at - before).total_seconds() >= 60


def test_410_gone_fails_the_delivery_and_disables_the_webhook(
    receiver, django_capture_on_commit_callbacks
):
    delivery = make_delivery(receiver)
    MembershipFactory(
        workspace=delivery.workspace,
        user=UserFactory(email="admin@acme.test"),
        admin=True,
    )
    receiver.expect_oneshot_request("/hook").respond_with_data("", status=410)

    with django_capture_on_commit_callbacks(execute=True):
        attempt_delivery(delivery_id=delivery.pk)

    delivery = reload(delivery)
    config = WebhookConfig.objects.get(pk=delivery.workspace.webhook.pk)
    assert delivery.status == DeliveryStatus.FAILED
    assert config.enabled is False
    assert config.disabled_reason == (
        "The endpoint answered 410 Gone: it no longer accepts requests."
    )
    assert [message.subject for message in mail.outbox] == [
        f"External Events of {delivery.workspace.name} were switched off"
    ]


def test_a_redirect_is_not_followed_and_its_location_is_recorded(receiver):
    delivery = make_delivery(receiver)
    receiver.expect_oneshot_request("/hook").respond_with_response(
        Response("", status=302, headers={"Location": "http://169.254.169.254/"})
    )

    attempt_delivery(delivery_id=delivery.pk)

    assert len(receiver.log) == 1
    attempt = reload(delivery).attempts.get()
    assert attempt.outcome == AttemptOutcome.HTTP_ERROR
    assert attempt.error == (
        "HTTP 302: redirect to http://169.254.169.254/ not followed."
    )
    assert attempt.response_headers["Location"] == "http://169.254.169.254/"


def test_connection_refused_is_a_connection_error(receiver):
    delivery = make_delivery(receiver)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    WebhookConfig.objects.filter(pk=delivery.workspace.webhook.pk).update(
        endpoint_url=f"http://127.0.0.1:{port}/hook"
    )

    attempt_delivery(delivery_id=delivery.pk)

    attempt = reload(delivery).attempts.get()
    assert attempt.outcome == AttemptOutcome.CONNECTION_ERROR
    assert reload(delivery).status == DeliveryStatus.PENDING


def test_a_private_destination_is_blocked_without_the_development_switch(
    receiver, settings
):
    delivery = make_delivery(receiver)
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = False

    attempt_delivery(delivery_id=delivery.pk)

    assert receiver.log == []
    assert reload(delivery).attempts.get().outcome == AttemptOutcome.BLOCKED


def test_the_last_scheduled_attempt_fails_the_delivery(receiver, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = "0"
    delivery = make_delivery(receiver)
    receiver.expect_oneshot_request("/hook").respond_with_data("", status=500)

    attempt_delivery(delivery_id=delivery.pk)

    delivery = reload(delivery)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.completed_at is not None
    assert delivery.next_attempt_at is None


def test_a_webhook_failing_for_too_long_is_disabled(receiver, settings):
    settings.WEBHOOK_DISABLE_AFTER = "1d"
    delivery = make_delivery(receiver)
    WebhookConfig.objects.filter(pk=delivery.workspace.webhook.pk).update(
        failing_since=timezone.now() - datetime.timedelta(days=2)
    )
    receiver.expect_oneshot_request("/hook").respond_with_data("", status=500)

    attempt_delivery(delivery_id=delivery.pk)

    config = WebhookConfig.objects.get(pk=delivery.workspace.webhook.pk)
    assert config.enabled is False
    assert config.disabled_reason.startswith("Every delivery has failed since ")


def test_a_success_clears_the_failing_state(receiver):
    delivery = make_delivery(receiver)
    WebhookConfig.objects.filter(pk=delivery.workspace.webhook.pk).update(
        failing_since=timezone.now()
    )
    receiver.expect_oneshot_request("/hook").respond_with_data("ok")

    attempt_delivery(delivery_id=delivery.pk)

    config = WebhookConfig.objects.get(pk=delivery.workspace.webhook.pk)
    assert reload(delivery).attempts.get().error == ""
    assert config.failing_since is None


def test_a_disabled_webhook_cancels_the_delivery_and_sends_nothing(receiver):
    delivery = make_delivery(receiver)
    WebhookConfig.objects.filter(pk=delivery.workspace.webhook.pk).update(enabled=False)

    attempt_delivery(delivery_id=delivery.pk)

    delivery = reload(delivery)
    assert receiver.log == []
    assert delivery.status == DeliveryStatus.CANCELLED
    assert delivery.attempt_count == 0
    assert delivery.last_error == (
        "The webhook was switched off before this delivery was sent."
    )


def test_an_unsubscribed_type_cancels_the_delivery(receiver):
    delivery = make_delivery(receiver)
    WebhookConfig.objects.filter(pk=delivery.workspace.webhook.pk).update(
        event_types=["cta-clicked"]
    )

    attempt_delivery(delivery_id=delivery.pk)

    assert reload(delivery).last_error == (
        "The webhook no longer subscribes to video-watched."
    )


def test_a_delivery_not_yet_due_is_left_alone(receiver):
    delivery = make_delivery(receiver)
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() + datetime.timedelta(minutes=5)
    )

    assert attempt_delivery(delivery_id=delivery.pk) is None
    assert reload(delivery).status == DeliveryStatus.PENDING


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_only_one_of_many_workers_claims_a_delivery():
    delivery = DeliveryFactory()
    barrier = threading.Barrier(5)
    claims = []

    def claim():
        from django.db import connection

        barrier.wait()
        claims.append(claim_delivery(delivery_id=delivery.pk, now=timezone.now()))
        connection.close()

    threads = [threading.Thread(target=claim) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len([claim for claim in claims if claim is not None]) == 1
    assert reload(delivery).attempt_count == 1


def test_a_manual_resend_is_one_attempt_without_retries(receiver):
    delivery = make_delivery(receiver)
    Delivery.objects.filter(pk=delivery.pk).update(next_trigger=AttemptTrigger.MANUAL)
    receiver.expect_oneshot_request("/hook").respond_with_data("", status=500)

    attempt_delivery(delivery_id=delivery.pk)

    delivery = reload(delivery)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.next_trigger == AttemptTrigger.AUTOMATIC
    assert delivery.attempts.get().trigger == AttemptTrigger.MANUAL


def silent(connection, server):
    server.stopping.wait(SERVER_PATIENCE)


def endless_body(connection, server):
    hundred_mb = 100 * 1024 * 1024
    server.send(
        connection, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % hundred_mb
    )
    chunk = b"x" * 65536
    for _ in range(hundred_mb // len(chunk)):
        server.send(connection, chunk)


def reset_mid_body(connection, server):
    server.send(connection, b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nxx")
    time.sleep(0.1)
    # Closing with a zero linger time sends a TCP reset.
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.mark.parametrize(
    ("handle", "outcome", "minimum_wait"),
    [
        pytest.param(silent, AttemptOutcome.TIMEOUT, 60, id="never-answers"),
        pytest.param(
            trickle(0.5, b"HTTP/1.1 200 OK\r\nX-Slow: "),
            AttemptOutcome.TIMEOUT,
            60,
            id="drips-a-byte-at-a-time",
        ),
        pytest.param(
            reset_mid_body, AttemptOutcome.CONNECTION_ERROR, 4, id="reset-mid-body"
        ),
    ],
)
def test_misbehaving_servers_fail_within_the_deadline(
    receiver, serve, settings, handle, outcome, minimum_wait
):
    settings.WEBHOOK_HTTP_DEADLINE = 1
    delivery = make_delivery(receiver)
    server = serve(handle)
    WebhookConfig.objects.filter(pk=delivery.workspace.webhook.pk).update(
        endpoint_url=server.url("/hook")
    )
    started = time.monotonic()

    attempt_delivery(delivery_id=delivery.pk)

    elapsed = time.monotonic() - started
    delivery = reload(delivery)
    attempt = delivery.attempts.get()
    assert attempt.outcome == outcome
    assert elapsed < 1.8
    assert attempt.duration_ms <= 1500
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert wait >= minimum_wait - 1


def test_a_100_mb_answer_keeps_20_kb(receiver, serve):
    delivery = make_delivery(receiver)
    server = serve(endless_body)
    WebhookConfig.objects.filter(pk=delivery.workspace.webhook.pk).update(
        endpoint_url=server.url("/hook")
    )

    attempt_delivery(delivery_id=delivery.pk)

    attempt = reload(delivery).attempts.get()
    assert attempt.outcome == AttemptOutcome.SUCCEEDED
    assert len(attempt.response_body) == 20 * 1024
    assert server.sent < 16 * 1024 * 1024
