import datetime
import uuid

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from webhooks.models import (
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
    EventType,
    Membership,
    Role,
    Workspace,
)
from webhooks.workspaces import create_webhook_config


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    # Hashed before the row is written: a password set after it would not be
    # saved, and force_login() sessions would fail their hash check.
    password = factory.django.Password("correct horse")

    class Params:
        superuser = factory.Trait(is_staff=True, is_superuser=True)
        staff = factory.Trait(is_staff=True)


class WorkspaceFactory(factory.django.DjangoModelFactory):
    """A workspace with its webhook configuration, as create_workspace makes it."""

    class Meta:
        model = Workspace
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"workspace-{n}")

    @factory.post_generation
    def webhook(workspace, create, extracted, **kwargs):
        if not create:
            return
        config = create_webhook_config(workspace=workspace)
        if kwargs:
            for name, value in kwargs.items():
                setattr(config, name, value)
            config.save()

    class Params:
        enabled = factory.Trait(
            webhook__enabled=True,
            webhook__endpoint_url="https://receiver.example.com/hooks",
            webhook__event_types=list(EventType.values),
        )


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    workspace = factory.SubFactory(WorkspaceFactory)
    role = Role.MEMBER

    class Params:
        admin = factory.Trait(role=Role.ADMIN)


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    workspace = factory.SubFactory(WorkspaceFactory)
    type = EventType.SHARE_CLICKED
    client_event_id = factory.LazyFunction(uuid.uuid4)
    session_id = factory.Sequence(lambda n: f"session-{n}")
    video_id = factory.Sequence(lambda n: f"video-{n}")
    viewer_id = "viewer-1"
    occurred_at = factory.LazyFunction(timezone.now)
    received_at = factory.LazyFunction(timezone.now)
    data = factory.Dict({"share_target": "linkedin"})


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    event = factory.SubFactory(EventFactory)
    workspace = factory.SelfAttribute("event.workspace")
    event_type = factory.SelfAttribute("event.type")
    status = DeliveryStatus.PENDING
    next_attempt_at = factory.LazyFunction(timezone.now)

    class Params:
        succeeded = factory.Trait(
            status=DeliveryStatus.SUCCEEDED,
            attempt_count=1,
            next_attempt_at=None,
            last_status_code=200,
            completed_at=factory.LazyFunction(timezone.now),
        )
        failed = factory.Trait(
            status=DeliveryStatus.FAILED,
            attempt_count=8,
            next_attempt_at=None,
            last_status_code=500,
            last_error="HTTP 500",
            completed_at=factory.LazyFunction(timezone.now),
        )


class DeliveryAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliveryAttempt

    delivery = factory.SubFactory(DeliveryFactory)
    number = factory.Sequence(lambda n: n + 1)
    started_at = factory.LazyFunction(timezone.now)
    duration_ms = 42
    request_method = "POST"
    request_url = "https://receiver.example.com/hooks"
    endpoint_host = "receiver.example.com"
    request_headers = factory.Dict(
        {"Content-Type": "application/json", "Authorization": "[redacted]"}
    )
    request_body = '{"type": "share-clicked"}'
    response_status = 200
    response_headers = factory.Dict({"Content-Type": "application/json"})
    response_body = '{"ok": true}'
    outcome = AttemptOutcome.SUCCEEDED

    class Params:
        failed = factory.Trait(
            response_status=500,
            response_body="Internal Server Error",
            outcome=AttemptOutcome.HTTP_ERROR,
            error="HTTP 500",
        )


class EventPayloadFactory(factory.DictFactory):
    """The JSON a player posts for one event."""

    id = factory.LazyFunction(lambda: str(uuid.uuid4()))
    type = EventType.SHARE_CLICKED.value
    session_id = factory.Sequence(lambda n: f"session-{n}")
    video_id = "video-1"
    data = factory.Dict({"share_target": "linkedin"})

    class Params:
        player_opened = factory.Trait(
            type=EventType.PLAYER_OPENED.value, data=factory.Dict({})
        )
        video_played = factory.Trait(
            type=EventType.VIDEO_PLAYED.value, data=factory.Dict({})
        )
        video_watched = factory.Trait(
            type=EventType.VIDEO_WATCHED.value, data=factory.Dict({"percent": 92})
        )
        cta_clicked = factory.Trait(
            type=EventType.CTA_CLICKED.value,
            data=factory.Dict(
                {"cta_id": "buy", "cta_url": "https://shop.example.com/buy"}
            ),
        )


def hours_ago(hours: float) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(hours=hours)
