"""Deliveries of events to endpoints, and each HTTP attempt they took."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from webhooks.models.events import Event, EventType
from webhooks.models.workspaces import Workspace


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
