"""Viewer events accepted from players."""

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from webhooks.models.workspaces import Workspace


class EventType(models.TextChoices):
    PLAYER_OPENED = "player-opened", _("Player opened")
    VIDEO_PLAYED = "video-played", _("Video played")
    VIDEO_WATCHED = "video-watched", _("Video watched")
    SHARE_CLICKED = "share-clicked", _("Share clicked")
    CTA_CLICKED = "cta-clicked", _("CTA clicked")


EVENT_TYPE_DESCRIPTIONS = {
    EventType.PLAYER_OPENED: _(
        "The player is opened or loaded, whether or not playback starts. "
        "Once per player session."
    ),
    EventType.VIDEO_PLAYED: _(
        "Playback starts from the beginning; resuming a paused video does not "
        "count. Once per player session and video."
    ),
    EventType.VIDEO_WATCHED: _(
        "The viewer has watched at least 80 % of the video. Once per player "
        "session and video."
    ),
    EventType.SHARE_CLICKED: _(
        "The viewer clicks the share button in the player. Every click."
    ),
    EventType.CTA_CLICKED: _(
        "The viewer clicks a call-to-action element in the player. Every click."
    ),
}


def validate_event_types(value):
    """Refuse anything but a list of distinct, known event types."""
    if not isinstance(value, list):
        raise ValidationError(_("Subscribed events must be a list."), code="invalid")
    unknown = [item for item in value if item not in EventType.values]
    if unknown:
        raise ValidationError(
            _("Unknown event type: %(types)s."),
            code="invalid_choice",
            params={"types": ", ".join(map(str, unknown))},
        )
    if len(set(value)) != len(value):
        raise ValidationError(_("An event type is listed twice."), code="duplicate")


class Event(models.Model):
    """One viewer event accepted from a player; written by the ingest API.

    ``id`` is ours and becomes the ``webhook-id`` the receiver sees;
    ``client_event_id`` is the player's own id, which makes retries from the
    player idempotent.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="events"
    )
    type = models.CharField(_("type"), max_length=32, choices=EventType.choices)
    client_event_id = models.UUIDField(_("client event id"), null=True, blank=True)
    session_id = models.CharField(_("session id"), max_length=128)
    video_id = models.CharField(_("video id"), max_length=128, blank=True)
    viewer_id = models.CharField(_("viewer id"), max_length=128, blank=True)
    page_url = models.URLField(_("page URL"), max_length=2048, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"))
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "client_event_id"],
                name="event_unique_client_event_id",
            ),
            # The occurrence rules: a player session opens once, and plays and
            # finishes each video once. Clicks are not limited.
            models.UniqueConstraint(
                fields=["workspace", "session_id"],
                condition=models.Q(type=EventType.PLAYER_OPENED),
                name="event_player_opened_once_per_session",
            ),
            models.UniqueConstraint(
                fields=["workspace", "session_id", "video_id", "type"],
                condition=models.Q(
                    type__in=[EventType.VIDEO_PLAYED, EventType.VIDEO_WATCHED]
                ),
                name="event_video_once_per_session",
            ),
            models.CheckConstraint(
                condition=models.Q(type__in=EventType.values), name="event_type_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(session_id=""), name="event_session_id_not_empty"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "-received_at"]),
            models.Index(fields=["received_at"]),
            models.Index(fields=["session_id"]),
            models.Index(fields=["video_id"]),
            models.Index(fields=["client_event_id"], name="event_client_event_id_idx"),
        ]

    def __str__(self):
        return f"{self.type} {self.id}"
