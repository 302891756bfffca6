"""Test events: a sample sent at once through the real delivery path.

A workspace admin picks an event type and sees straight away what their
endpoint answers. The sample is stored like a player's event, with a
delivery marked as a test, and attempted in the caller's process: one
attempt, no retries, no effect on the endpoint's health.
"""

import datetime
import logging
import uuid

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from webhooks.delivery import AttemptReport, attempt_delivery
from webhooks.models import (
    AttemptTrigger,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    WebhookConfig,
)

logger = logging.getLogger(__name__)

TEST_SESSION_PREFIX = "test-"
TEST_VIDEO_ID = "test-video"

# What a player would send with each type, so receivers see realistic fields.
SAMPLE_DATA = {
    EventType.PLAYER_OPENED: {},
    EventType.VIDEO_PLAYED: {},
    EventType.VIDEO_WATCHED: {"percent": 100},
    EventType.SHARE_CLICKED: {"share_target": "linkedin"},
    EventType.CTA_CLICKED: {
        "cta_id": "test-cta",
        "cta_url": "https://www.example.com/",
    },
}

WEBHOOK_OFF = _("The webhook is off: turn it on and save before sending a test event.")


class WebhookDisabledError(Exception):
    """A test event was asked for while the webhook is off."""

    def __init__(self, message=WEBHOOK_OFF):
        super().__init__(message)
        self.message = message


def send_test_event(
    *,
    config: WebhookConfig,
    event_type: str,
    now: datetime.datetime | None = None,
) -> AttemptReport:
    """Send a sample ``event_type`` event to the webhook now; return the attempt.

    The event and its delivery are committed first, then one attempt is made
    synchronously. Raises WebhookDisabledError while the webhook is off;
    failures of the endpoint are outcomes in the report, not exceptions.
    """
    now = now or timezone.now()
    config = WebhookConfig.objects.select_related("workspace").get(pk=config.pk)
    if not config.enabled:
        raise WebhookDisabledError()

    # Stored like a player's event, in one transaction. queued_at tells the
    # sweeper that someone is already on it.
    with transaction.atomic():
        event = Event.objects.create(
            workspace=config.workspace,
            type=EventType(event_type),
            session_id=f"{TEST_SESSION_PREFIX}{uuid.uuid4()}",
            video_id=TEST_VIDEO_ID,
            occurred_at=now,
            received_at=now,
            data=dict(SAMPLE_DATA[EventType(event_type)]),
        )
        delivery = Delivery.objects.create(
            event=event,
            workspace=config.workspace,
            event_type=event.type,
            status=DeliveryStatus.PENDING,
            next_attempt_at=now,
            next_trigger=AttemptTrigger.TEST,
            queued_at=now,
        )

    report = attempt_delivery(delivery_id=delivery.pk, now=now)
    if report is None:
        # Only a worker claiming the delivery first gets here; it sends the
        # same single test attempt.
        report = AttemptReport(
            delivery_id=delivery.pk,
            status=DeliveryStatus.IN_FLIGHT,
            error=str(_("A worker is sending it; see Recent deliveries.")),
        )
    logger.info(
        "test event sent workspace=%s delivery=%s status=%s",
        config.workspace.slug,
        delivery.pk,
        report.status,
    )
    return report
