import base64
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tests.factories import (
    DeliveryAttemptFactory,
    DeliveryFactory,
    EventFactory,
    MembershipFactory,
    UserFactory,
    WorkspaceFactory,
)
from webhooks.models import (
    DeliveryStatus,
    EventType,
    Membership,
    WebhookConfig,
    WebhookHeader,
    Workspace,
    validate_allowed_origins,
)

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def assert_refused(constraint, write):
    """Assert that the database itself refuses ``write``, naming ``constraint``.

    PostgreSQL names every constraint in its message; SQLite names check
    constraints, and the columns of a unique one, so either may match.
    """
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        write()


def test_new_workspace_has_a_prefixed_random_ingest_key():
    first, second = WorkspaceFactory(), WorkspaceFactory()

    assert first.ingest_key.startswith("ingest_")
    assert len(first.ingest_key) > 40
    assert first.ingest_key != second.ingest_key


def test_ingest_keys_are_unique():
    first = WorkspaceFactory()

    assert_refused(
        "ingest_key",
        lambda: Workspace.objects.create(
            name="b", slug="b", ingest_key=first.ingest_key
        ),
    )


def test_ingest_key_without_prefix_is_refused():
    assert_refused(
        "workspace_ingest_key_prefixed",
        lambda: Workspace.objects.create(name="b", slug="b", ingest_key="plain"),
    )


def test_slugs_are_unique():
    WorkspaceFactory(slug="acme")

    assert_refused("slug", lambda: Workspace.objects.create(name="x", slug="acme"))


def test_membership_is_unique_per_user_and_workspace():
    membership = MembershipFactory()

    assert_refused(
        "membership_unique_user_workspace|user_id, webhooks_membership.workspace_id",
        lambda: Membership.objects.create(
            user=membership.user, workspace=membership.workspace, role="admin"
        ),
    )


def test_membership_role_must_be_known():
    assert_refused(
        "membership_role_valid",
        lambda: MembershipFactory(role="owner"),
    )


def test_one_webhook_config_per_workspace():
    workspace = WorkspaceFactory()

    assert_refused(
        "workspace_id", lambda: WebhookConfig.objects.create(workspace=workspace)
    )


def test_new_webhook_config_is_disabled_with_a_signing_secret():
    config = WorkspaceFactory().webhook

    assert config.enabled is False
    assert config.http_method == "POST"
    assert config.event_types == []
    assert config.signing_secret.startswith("whsec_")
    assert len(base64.b64decode(config.signing_secret.removeprefix("whsec_"))) == 32


def test_enabled_webhook_needs_an_endpoint_url():
    config = WorkspaceFactory().webhook
    config.enabled = True

    assert_refused("webhookconfig_enabled_needs_url", config.save)


def test_webhook_method_must_be_known():
    config = WorkspaceFactory().webhook
    config.http_method = "DELETE"

    assert_refused("webhookconfig_http_method_valid", config.save)


def test_header_names_are_unique_per_config_ignoring_case():
    config = WorkspaceFactory().webhook

    assert_refused(
        "webhookheader_unique_name",
        lambda: WebhookHeader.objects.create(
            config=config, position=1, name="content-type", value="text/plain"
        ),
    )


def test_client_event_id_is_unique_per_workspace():
    event = EventFactory()
    other_workspace = WorkspaceFactory()

    EventFactory(workspace=other_workspace, client_event_id=event.client_event_id)
    assert_refused(
        "event_unique_client_event_id|workspace_id, webhooks_event.client_event_id",
        lambda: EventFactory(
            workspace=event.workspace, client_event_id=event.client_event_id
        ),
    )


def test_events_without_client_id_are_not_duplicates():
    workspace = WorkspaceFactory()

    EventFactory(workspace=workspace, client_event_id=None)
    EventFactory(workspace=workspace, client_event_id=None)

    assert workspace.events.count() == 2


def test_player_opens_once_per_session():
    first = EventFactory(type=EventType.PLAYER_OPENED)

    assert_refused(
        "event_player_opened_once_per_session|workspace_id, webhooks_event.session_id$",
        lambda: EventFactory(
            workspace=first.workspace,
            type=EventType.PLAYER_OPENED,
            session_id=first.session_id,
            video_id="another-video",
        ),
    )


@pytest.mark.parametrize(
    "event_type", [EventType.VIDEO_PLAYED, EventType.VIDEO_WATCHED]
)
def test_video_events_happen_once_per_session_and_video(event_type):
    first = EventFactory(type=event_type)

    EventFactory(
        workspace=first.workspace,
        type=event_type,
        session_id=first.session_id,
        video_id="another-video",
    )
    assert_refused(
        "event_video_once_per_session|webhooks_event.video_id, webhooks_event.type",
        lambda: EventFactory(
            workspace=first.workspace,
            type=event_type,
            session_id=first.session_id,
            video_id=first.video_id,
        ),
    )


@pytest.mark.parametrize("event_type", [EventType.SHARE_CLICKED, EventType.CTA_CLICKED])
def test_clicks_are_not_limited(event_type):
    first = EventFactory(type=event_type)

    EventFactory(
        workspace=first.workspace,
        type=event_type,
        session_id=first.session_id,
        video_id=first.video_id,
    )

    assert first.workspace.events.count() == 2


def test_event_type_must_be_known():
    assert_refused("event_type_valid", lambda: EventFactory(type="video-paused"))


def test_one_delivery_per_event():
    delivery = DeliveryFactory()

    assert_refused("event_id", lambda: DeliveryFactory(event=delivery.event))


def test_in_flight_delivery_needs_a_lease():
    assert_refused(
        "delivery_in_flight_has_lease",
        lambda: DeliveryFactory(status=DeliveryStatus.IN_FLIGHT, lease_expires_at=None),
    )


def test_delivery_status_must_be_known():
    assert_refused("delivery_status_valid", lambda: DeliveryFactory(status="lost"))


def test_attempt_numbers_are_unique_per_delivery():
    attempt = DeliveryAttemptFactory(number=1)

    assert_refused(
        "attempt_unique_number|delivery_id, webhooks_deliveryattempt.number",
        lambda: DeliveryAttemptFactory(delivery=attempt.delivery, number=1),
    )


def test_attempt_outcome_must_be_known():
    assert_refused(
        "attempt_outcome_valid", lambda: DeliveryAttemptFactory(outcome="ok")
    )


def test_deleting_a_workspace_removes_everything_beneath_it():
    attempt = DeliveryAttemptFactory()
    workspace = attempt.delivery.workspace
    MembershipFactory(workspace=workspace, user=UserFactory())

    workspace.delete()

    assert not WebhookConfig.objects.exists()
    assert not Membership.objects.exists()
    assert not type(attempt).objects.exists()


def test_event_id_is_a_uuid():
    assert isinstance(EventFactory().id, uuid.UUID)


def test_allowed_origins_are_scheme_host_and_port():
    validate_allowed_origins(
        ["https://www.example.com", "http://localhost:8000", "https://[::1]:8443"]
    )


@pytest.mark.parametrize(
    "origin",
    [
        "https://www.example.com/",
        "https://www.example.com/watch",
        "www.example.com",
        "ftp://example.com",
        "https://user@example.com",
        "https://example.com:99999",
        "https://example.com?x=1",
        "*",
        7,
    ],
)
def test_anything_but_an_origin_is_refused(origin):
    with pytest.raises(ValidationError, match="Not an origin: "):
        validate_allowed_origins([origin])


def test_an_origin_listed_twice_is_refused():
    with pytest.raises(ValidationError, match="An origin is listed twice."):
        validate_allowed_origins(["https://a.example", "https://A.example"])


def test_allowed_origins_must_be_a_list():
    with pytest.raises(ValidationError, match="Allowed origins must be a list."):
        validate_allowed_origins("https://a.example")
