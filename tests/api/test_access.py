import datetime

import pytest
from django.utils import timezone

from tests.factories import EventPayloadFactory, UserFactory, WorkspaceFactory
from webhooks.api.throttling import FixedWindowRateThrottle
from webhooks.models import Event
from webhooks.workspaces import rotate_ingest_key

pytestmark = pytest.mark.django_db

MISSING_KEY = (
    "Missing workspace key: send it in the X-Workspace-Key header or the key "
    "query parameter."
)
UNKNOWN_KEY = "Unknown or expired workspace key."
ORIGIN = "https://www.example.com"


@pytest.fixture
def throttle_clock(monkeypatch):
    """Stop the throttles' clock 30 seconds before a minute ends."""
    monkeypatch.setattr(
        FixedWindowRateThrottle, "timer", staticmethod(lambda: 60 * 16_667 + 30.0)
    )


def test_a_request_without_key_is_refused_with_401(post_events, workspace):
    response = post_events(EventPayloadFactory())

    assert response.status_code == 401
    assert response.json() == {"detail": MISSING_KEY}
    assert response.headers["WWW-Authenticate"] == "WorkspaceKey"
    assert not Event.objects.exists()


@pytest.mark.parametrize("key", ["ingest_unknown", "not-even-a-key", "ingest_" * 20])
def test_an_unknown_key_is_refused_with_401(post_events, workspace, key):
    response = post_events(EventPayloadFactory(), key=key)

    assert response.status_code == 401
    assert response.json() == {"detail": UNKNOWN_KEY}
    assert not Event.objects.exists()


def test_the_header_wins_over_the_query_parameter(post_events, workspace):
    response = post_events(
        EventPayloadFactory(),
        key="ingest_unknown",
        path=f"/api/v1/events?key={workspace.ingest_key}",
    )

    assert response.status_code == 401


def test_a_signed_in_staff_member_still_needs_the_key(staff_client, workspace):
    response = staff_client.post(
        "/api/v1/events", data=EventPayloadFactory(), content_type="application/json"
    )

    assert response.status_code == 401
    assert response.json() == {"detail": MISSING_KEY}


def test_basic_credentials_do_not_replace_the_key(client, workspace):
    UserFactory(username="alice", superuser=True)

    response = client.post(
        "/api/v1/events",
        data=EventPayloadFactory(),
        content_type="application/json",
        headers={"Authorization": "Basic YWxpY2U6Y29ycmVjdCBob3JzZQ=="},
    )

    assert response.status_code == 401


def test_the_key_opens_nothing_but_the_event_endpoint(client, workspace):
    response = client.get(
        f"/admin/?key={workspace.ingest_key}",
        headers={"X-Workspace-Key": workspace.ingest_key},
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login/")


def test_the_previous_key_works_for_a_day_after_rotation(post_events, workspace):
    old_key = workspace.ingest_key
    rotate_ingest_key(
        workspace=workspace, now=timezone.now() - datetime.timedelta(hours=23)
    )

    response = post_events(EventPayloadFactory(), key=old_key)

    assert response.status_code == 202


def test_the_previous_key_is_refused_after_a_day(post_events, workspace):
    old_key = workspace.ingest_key
    rotate_ingest_key(
        workspace=workspace,
        now=timezone.now() - datetime.timedelta(hours=24, seconds=1),
    )

    old = post_events(EventPayloadFactory(), key=old_key)
    new = post_events(EventPayloadFactory(), key=workspace.ingest_key)

    assert old.status_code == 401
    assert old.json() == {"detail": UNKNOWN_KEY}
    assert new.status_code == 202


def test_a_remembered_previous_key_expires_on_time(post_events, workspace, monkeypatch):
    old_key = workspace.ingest_key
    rotated_at = timezone.now() - datetime.timedelta(hours=23, minutes=59)
    rotate_ingest_key(workspace=workspace, now=rotated_at)
    assert post_events(EventPayloadFactory(), key=old_key).status_code == 202

    monkeypatch.setattr(
        "webhooks.api.authentication.timezone.now",
        lambda: rotated_at + datetime.timedelta(hours=24),
    )
    response = post_events(EventPayloadFactory(), key=old_key)

    assert response.status_code == 401


def test_a_deleted_workspace_s_key_is_refused(post_events, workspace):
    key = workspace.ingest_key
    assert post_events(EventPayloadFactory(), key=key).status_code == 202
    workspace.delete()

    response = post_events(EventPayloadFactory(), key=key)

    assert response.status_code == 401
    assert response.json() == {"detail": UNKNOWN_KEY}


def test_a_preflight_is_answered_for_any_origin(client):
    response = client.options(
        "/api/v1/events",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-workspace-key",
        },
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert (
        response.headers["Access-Control-Allow-Headers"]
        == "Content-Type, X-Workspace-Key"
    )
    assert response.headers["Access-Control-Max-Age"] == "86400"
    assert response.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_a_preflight_with_the_key_refuses_an_origin_not_allowed(client):
    workspace = WorkspaceFactory(allowed_origins=["https://video.example.org"])

    response = client.options(
        f"/api/v1/events?key={workspace.ingest_key}",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )

    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers


def test_a_preflight_with_the_key_accepts_an_allowed_origin(client):
    workspace = WorkspaceFactory(allowed_origins=["https://WWW.example.com"])

    response = client.options(
        f"/api/v1/events?key={workspace.ingest_key}",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_a_post_from_any_origin_is_readable_by_default(post_events, workspace):
    response = post_events(
        EventPayloadFactory(), key=workspace.ingest_key, headers={"Origin": ORIGIN}
    )

    assert response.status_code == 202
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Expose-Headers"] == "Retry-After"
    assert response.headers["Vary"] == "Origin"


def test_a_post_from_an_origin_not_allowed_is_refused_and_stores_nothing(
    post_events,
):
    workspace = WorkspaceFactory(allowed_origins=["https://video.example.org"])

    response = post_events(
        EventPayloadFactory(), key=workspace.ingest_key, headers={"Origin": ORIGIN}
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "Origin not allowed for this workspace."}
    assert "Access-Control-Allow-Origin" not in response.headers
    assert not Event.objects.exists()


def test_errors_for_an_allowed_origin_are_readable(post_events):
    workspace = WorkspaceFactory(allowed_origins=[ORIGIN])

    response = post_events(
        {"type": "nope"}, key=workspace.ingest_key, headers={"Origin": ORIGIN}
    )

    assert response.status_code == 400
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_an_unknown_key_error_is_readable_from_any_origin(post_events, workspace):
    response = post_events(
        EventPayloadFactory(), key="ingest_unknown", headers={"Origin": ORIGIN}
    )

    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_clients_without_an_origin_are_not_restricted(post_events):
    workspace = WorkspaceFactory(allowed_origins=["https://video.example.org"])

    response = post_events(EventPayloadFactory(), key=workspace.ingest_key)

    assert response.status_code == 202


def test_preflights_count_against_the_address_rate(client, settings, throttle_clock):
    settings.WEBHOOK_INGEST_RATE_PER_ADDRESS = "1/minute"
    client.options("/api/v1/events?key=ingest_guess", headers={"Origin": ORIGIN})

    response = client.options(
        "/api/v1/events?key=ingest_guess", headers={"Origin": ORIGIN}
    )

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"


def test_a_workspace_over_its_rate_gets_429_with_retry_after(
    post_events, workspace, settings, throttle_clock
):
    settings.WEBHOOK_INGEST_RATE_PER_KEY = "2/minute"
    for _ in range(2):
        response = post_events(EventPayloadFactory(), key=workspace.ingest_key)
        assert response.status_code == 202

    response = post_events(
        EventPayloadFactory(), key=workspace.ingest_key, headers={"Origin": ORIGIN}
    )

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    assert response.json()["detail"].startswith("Request was throttled.")
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert Event.objects.count() == 2


def test_the_rate_of_one_workspace_leaves_others_alone(
    post_events, workspace, settings, throttle_clock
):
    settings.WEBHOOK_INGEST_RATE_PER_KEY = "1/minute"
    other = WorkspaceFactory()
    post_events(EventPayloadFactory(), key=workspace.ingest_key)

    response = post_events(EventPayloadFactory(), key=other.ingest_key)

    assert response.status_code == 202


def test_an_address_over_its_rate_gets_429_even_with_made_up_keys(
    post_events, settings, django_assert_num_queries, throttle_clock
):
    settings.WEBHOOK_INGEST_RATE_PER_ADDRESS = "3/minute"
    for _ in range(3):
        assert post_events(EventPayloadFactory(), key="ingest_guess").status_code == 401

    with django_assert_num_queries(0):
        response = post_events(EventPayloadFactory(), key="ingest_guess")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"


def test_a_spoofed_forwarded_for_does_not_escape_the_address_rate(
    post_events, workspace, settings, throttle_clock
):
    settings.WEBHOOK_INGEST_RATE_PER_ADDRESS = "2/minute"
    statuses = [
        post_events(
            EventPayloadFactory(),
            key=workspace.ingest_key,
            headers={"X-Forwarded-For": f"203.0.113.{number}"},
        ).status_code
        for number in range(3)
    ]

    assert statuses == [202, 202, 429]


def test_the_forwarded_for_of_a_trusted_proxy_names_the_client(
    post_events, workspace, settings, throttle_clock
):
    settings.WEBHOOK_INGEST_RATE_PER_ADDRESS = "1/minute"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    def post_from(address):
        return post_events(
            EventPayloadFactory(),
            key=workspace.ingest_key,
            headers={"X-Forwarded-For": f"198.51.100.1, {address}"},
        ).status_code

    assert [post_from("203.0.113.1"), post_from("203.0.113.2")] == [202, 202]
    assert post_from("203.0.113.1") == 429
