"""The data of External Events: who configures what, and what was delivered.

Secrets (credentials, header values, signing secrets) are EncryptedTextFields:
encrypted at rest, and never usable in a filter.
"""

import base64
import secrets
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from webhooks.encryption import EncryptedTextField

INGEST_KEY_PREFIX = "ingest_"
SIGNING_SECRET_PREFIX = "whsec_"  # noqa: S105 (a public prefix, not a secret)


def generate_ingest_key() -> str:
    """Return a new public ingest key: a recognisable prefix and 32 random bytes."""
    return INGEST_KEY_PREFIX + secrets.token_urlsafe(32)


def generate_signing_secret() -> str:
    """Return a new Standard Webhooks signing secret."""
    return SIGNING_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


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


def validate_allowed_origins(value):
    """Refuse anything but a list of distinct web origins, scheme://host[:port]."""
    if not isinstance(value, list):
        raise ValidationError(_("Allowed origins must be a list."), code="invalid")
    malformed = [item for item in value if not is_web_origin(item)]
    if malformed:
        raise ValidationError(
            _(
                "Not an origin: %(origins)s. Write each as scheme://host or "
                "scheme://host:port, without a path, e.g. https://www.example.com."
            ),
            code="invalid_origin",
            params={"origins": ", ".join(map(str, malformed))},
        )
    if len({item.lower() for item in value}) != len(value):
        raise ValidationError(_("An origin is listed twice."), code="duplicate")


def is_web_origin(value) -> bool:
    """Tell whether ``value`` is an http(s) origin as browsers send it."""
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError on a malformed port)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and "@" not in parts.netloc
        and value == f"{parts.scheme}://{parts.netloc}"
    )


class Workspace(models.Model):
    """One SEEN customer account that embeds the player.

    Created by staff in the admin or by ``manage.py createworkspace``, always
    through ``webhooks.workspaces.create_workspace`` so that its webhook
    configuration exists from the start.
    """

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    ingest_key = models.CharField(
        _("ingest key"),
        max_length=64,
        unique=True,
        default=generate_ingest_key,
        help_text=_(
            "Public key the player sends with each event. It can only post "
            "events to this workspace; rotating it keeps the previous key "
            "working for 24 hours."
        ),
    )
    previous_ingest_key = models.CharField(
        _("previous ingest key"), max_length=64, unique=True, null=True, blank=True
    )
    ingest_key_rotated_at = models.DateTimeField(
        _("ingest key rotated at"), null=True, blank=True
    )
    allowed_origins = models.JSONField(
        _("allowed origins"),
        default=list,
        blank=True,
        validators=[validate_allowed_origins],
        help_text=_(
            "Web pages allowed to post events from a browser, as origins such "
            "as https://www.example.com. Empty allows every origin. Pages on "
            "any other origin are refused; clients that are not browsers send "
            "no origin and are not affected."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ingest_key__startswith=INGEST_KEY_PREFIX),
                name="workspace_ingest_key_prefixed",
            ),
            models.CheckConstraint(
                condition=~models.Q(slug=""), name="workspace_slug_not_empty"
            ),
        ]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    MEMBER = "member", _("Member")


class Membership(models.Model):
    """A user's role in one workspace; written by staff or the CLI."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(
        _("role"),
        max_length=16,
        choices=Role.choices,
        default=Role.MEMBER,
        help_text=_(
            "Admins configure the workspace's External Events; members can "
            "only see that the workspace exists."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "workspace"], name="membership_unique_user_workspace"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
        ]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()}) in {self.workspace}"


class HttpMethod(models.TextChoices):
    GET = "GET", "GET"
    POST = "POST", "POST"
    PUT = "PUT", "PUT"
    PATCH = "PATCH", "PATCH"


class WebhookConfig(models.Model):
    """The one webhook of a workspace: where, how and for which events to send.

    Created disabled together with its workspace; changed by workspace admins
    on the settings page, by staff in the admin and by ``configurewebhook``.
    The delivery engine writes the health fields.
    """

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="webhook"
    )
    enabled = models.BooleanField(
        _("enabled"),
        default=False,
        help_text=_(
            "While off, nothing is sent and pending deliveries are cancelled "
            "when they come due; the rest of the configuration is kept."
        ),
    )
    http_method = models.CharField(
        _("HTTP method"),
        max_length=8,
        choices=HttpMethod.choices,
        default=HttpMethod.POST,
        help_text=_(
            "POST, PUT and PATCH send the event as a JSON body; GET sends the "
            "same fields as query parameters."
        ),
    )
    endpoint_url = models.URLField(
        _("endpoint URL"),
        max_length=2048,
        blank=True,
        help_text=_("Must be reachable on the public internet over http or https."),
    )
    event_types = models.JSONField(
        _("subscribed events"),
        default=list,
        blank=True,
        validators=[validate_event_types],
        help_text=_("Only these event types create deliveries."),
    )
    signing_secret = EncryptedTextField(
        _("signing secret"),
        default=generate_signing_secret,
        help_text=_(
            "Signs every request (Standard Webhooks, HMAC-SHA256) so the "
            "receiver can tell it came from us."
        ),
    )
    previous_signing_secret = EncryptedTextField(
        _("previous signing secret"), blank=True
    )
    signing_secret_rotated_at = models.DateTimeField(
        _("signing secret rotated at"), null=True, blank=True
    )
    failing_since = models.DateTimeField(
        _("failing since"),
        null=True,
        blank=True,
        help_text=_("Set by the delivery engine when deliveries start failing."),
    )
    disabled_reason = models.TextField(
        _("disabled reason"),
        blank=True,
        help_text=_("Why the delivery engine switched the webhook off, if it did."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("updated by"),
    )

    class Meta:
        verbose_name = _("webhook configuration")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(http_method__in=HttpMethod.values),
                name="webhookconfig_http_method_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(enabled=False) | ~models.Q(endpoint_url=""),
                name="webhookconfig_enabled_needs_url",
                violation_error_message=_("An enabled webhook needs an endpoint URL."),
            ),
        ]

    def __str__(self):
        return f"External Events of {self.workspace}"

    def is_subscribed(self, event_type: str) -> bool:
        return self.enabled and event_type in self.event_types


class WebhookHeader(models.Model):
    """One custom header sent with every request, in the admin's order."""

    config = models.ForeignKey(
        WebhookConfig, on_delete=models.CASCADE, related_name="headers"
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    name = models.CharField(_("name"), max_length=100)
    value = EncryptedTextField(_("value"), blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                "config",
                Lower("name"),
                name="webhookheader_unique_name",
                violation_error_message=_("This header is already set."),
            ),
            models.CheckConstraint(
                condition=~models.Q(name=""), name="webhookheader_name_not_empty"
            ),
        ]

    def __str__(self):
        return self.name


class AuthKind(models.TextChoices):
    NONE = "none", _("None")
    BASIC = "basic", _("Basic")
    BEARER = "bearer", _("Bearer token")
    API_KEY = "api_key", _("API key")
    OAUTH2 = "oauth2", _("OAuth 2.0 client credentials")


# The fields each kind of authentication uses. Saving clears the others, so
# no credential lingers unused in the database.
AUTH_FIELDS = {
    AuthKind.NONE: (),
    AuthKind.BASIC: ("username", "password"),
    AuthKind.BEARER: ("token",),
    AuthKind.API_KEY: ("api_key_header", "api_key"),
    AuthKind.OAUTH2: ("token_url", "client_id", "client_secret", "scope"),
}
AUTH_SECRET_FIELDS = ("password", "token", "api_key", "client_secret")


class WebhookAuth(models.Model):
    """How requests to a webhook's endpoint authenticate; one per config."""

    config = models.OneToOneField(
        WebhookConfig, on_delete=models.CASCADE, related_name="auth"
    )
    kind = models.CharField(
        _("authentication"),
        max_length=16,
        choices=AuthKind.choices,
        default=AuthKind.NONE,
        help_text=_(
            "Credentials already added as custom headers need no authentication here."
        ),
    )
    username = models.CharField(_("username"), max_length=200, blank=True)
    password = EncryptedTextField(_("password"), blank=True)
    token = EncryptedTextField(_("bearer token"), blank=True)
    api_key_header = models.CharField(_("API key header"), max_length=100, blank=True)
    api_key = EncryptedTextField(_("API key"), blank=True)
    token_url = models.URLField(_("token URL"), max_length=2048, blank=True)
    client_id = models.CharField(_("client id"), max_length=200, blank=True)
    client_secret = EncryptedTextField(_("client secret"), blank=True)
    scope = models.CharField(_("scope"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("authentication settings")
        verbose_name_plural = _("authentication settings")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=AuthKind.values),
                name="webhookauth_kind_valid",
            ),
        ]

    def __str__(self):
        return self.get_kind_display()

    def clear_unused_fields(self):
        """Blank every credential the chosen kind does not use."""
        used = AUTH_FIELDS[AuthKind(self.kind)]
        for fields in AUTH_FIELDS.values():
            for field in fields:
                if field not in used:
                    setattr(self, field, "")


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


class AttemptTrigger(models.TextChoices):
    AUTOMATIC = "automatic", _("Automatic")
    MANUAL = "manual", _("Manual resend")
    TEST = "test", _("Test event")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    IN_FLIGHT = "in_flight", _("In flight")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class Delivery(models.Model):
    """One event's journey to its workspace's endpoint.

    Created pending by the ingest API in the event's transaction; the delivery
    worker claims it (status in flight, with a lease), records each attempt,
    and moves it on until it succeeds, fails for good or is cancelled.
    """

    event = models.OneToOneField(
        Event, on_delete=models.CASCADE, related_name="delivery"
    )
    # Copied from the event so that worker and audit queries filter without a
    # join.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_type = models.CharField(
        _("event type"), max_length=32, choices=EventType.choices
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
    )
    attempt_count = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(
        _("next attempt at"),
        null=True,
        blank=True,
        help_text=_("When a pending delivery is due; empty once it is final."),
    )
    lease_expires_at = models.DateTimeField(
        _("lease expires at"),
        null=True,
        blank=True,
        help_text=_(
            "While in flight: when the worker's claim lapses and the sweeper "
            "may hand the delivery to another worker."
        ),
    )
    next_trigger = models.CharField(
        _("next trigger"),
        max_length=16,
        choices=AttemptTrigger.choices,
        default=AttemptTrigger.AUTOMATIC,
        help_text=_(
            "What the next attempt is recorded as: a manual resend or a test "
            "is one attempt, with no retries after it."
        ),
    )
    queued_at = models.DateTimeField(
        _("queued at"),
        null=True,
        blank=True,
        help_text=_(
            "When a worker was last asked to attempt this delivery; the sweeper "
            "asks again only when that is long past."
        ),
    )
    last_status_code = models.PositiveSmallIntegerField(
        _("last status code"), null=True, blank=True
    )
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        verbose_name_plural = _("deliveries")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values),
                name="delivery_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=DeliveryStatus.IN_FLIGHT)
                | models.Q(lease_expires_at__isnull=False),
                name="delivery_in_flight_has_lease",
            ),
        ]
        indexes = [
            # The sweeper: pending deliveries that have come due.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status=DeliveryStatus.PENDING),
                name="delivery_due_idx",
            ),
            # The sweeper: claims whose lease has lapsed.
            models.Index(
                fields=["lease_expires_at"],
                condition=models.Q(status=DeliveryStatus.IN_FLIGHT),
                name="delivery_lease_idx",
            ),
            # The audit pages and endpoint health, per workspace and overall.
            models.Index(
                fields=["workspace", "-created_at"], name="delivery_workspace_idx"
            ),
            models.Index(fields=["status", "-created_at"], name="delivery_status_idx"),
            models.Index(fields=["-created_at"], name="delivery_created_idx"),
            models.Index(
                fields=["event_type", "-created_at"], name="delivery_event_type_idx"
            ),
        ]

    def __str__(self):
        return f"Delivery {self.pk} of {self.event_id}"


class AttemptOutcome(models.TextChoices):
    IN_PROGRESS = "in_progress", _("In progress")
    SUCCEEDED = "succeeded", _("Succeeded")
    HTTP_ERROR = "http_error", _("HTTP error")
    TIMEOUT = "timeout", _("Timed out")
    CONNECTION_ERROR = "connection_error", _("Connection error")
    BLOCKED = "blocked", _("Blocked destination")
    AUTH_ERROR = "auth_error", _("Authentication failed")
    INTERRUPTED = "interrupted", _("Interrupted")


class DeliveryAttempt(models.Model):
    """One HTTP request made for a delivery, and what came back.

    Written by the delivery worker before sending (outcome in progress) and
    completed after, so a worker that dies mid-request leaves a row the
    sweeper marks interrupted. Credentials are redacted and the response body
    is capped before anything is stored.
    """

    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="attempts"
    )
    number = models.PositiveIntegerField(_("number"))
    trigger = models.CharField(
        _("trigger"),
        max_length=16,
        choices=AttemptTrigger.choices,
        default=AttemptTrigger.AUTOMATIC,
    )
    started_at = models.DateTimeField(_("started at"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    request_method = models.CharField(_("method"), max_length=8)
    request_url = models.TextField(_("URL"))
    # The URL's host alone, indexed, so staff can find attempts by endpoint.
    endpoint_host = models.CharField(_("endpoint host"), max_length=255, blank=True)
    request_headers = models.JSONField(_("request headers"), default=dict)
    request_body = models.TextField(_("request body"), blank=True)
    response_status = models.PositiveSmallIntegerField(
        _("response status"), null=True, blank=True
    )
    response_headers = models.JSONField(_("response headers"), default=dict)
    response_body = models.TextField(_("response body"), blank=True)
    outcome = models.CharField(
        _("outcome"),
        max_length=20,
        choices=AttemptOutcome.choices,
        default=AttemptOutcome.IN_PROGRESS,
    )
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "number"], name="attempt_unique_number"
            ),
            models.CheckConstraint(
                condition=models.Q(outcome__in=AttemptOutcome.values),
                name="attempt_outcome_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(trigger__in=AttemptTrigger.values),
                name="attempt_trigger_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(number__gte=1), name="attempt_number_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["-started_at"], name="attempt_started_idx"),
            models.Index(fields=["outcome", "-started_at"], name="attempt_outcome_idx"),
            models.Index(
                fields=["response_status"], name="attempt_response_status_idx"
            ),
            models.Index(
                fields=["endpoint_host", "-started_at"], name="attempt_host_idx"
            ),
        ]

    def __str__(self):
        return f"Attempt {self.number} of delivery {self.delivery_id}"
