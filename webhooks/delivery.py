"""Sending a delivery to its workspace's endpoint, one attempt at a time.

An attempt claims the delivery with a conditional update that sets a lease,
so no two workers ever send the same attempt; writes the attempt row before
sending, so a worker that dies mid-request leaves a row the sweeper marks
interrupted; sends through the one guarded session; then records the outcome
and the next step in one transaction. Expected failures (an endpoint down,
slow or refusing) are outcomes written on the attempt, never exceptions.
"""

import dataclasses
import datetime
import logging
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from webhooks import health
from webhooks.credentials import invalidate_token
from webhooks.delivery_request import (
    PreparedRequest,
    audit_url,
    prepare_request,
    remaining,
    uses_oauth,
)
from webhooks.models import (
    AttemptOutcome,
    AttemptTrigger,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
)
from webhooks.outbound import (
    FailureKind,
    OutboundFailure,
    OutboundResponse,
    OutboundResult,
    send_request,
)
from webhooks.retries import NextStep, decide_next_step

logger = logging.getLogger(__name__)

# A due delivery may be started this much early: the sweeper runs every 30
# seconds, and starting a retry a few seconds early costs nothing, while
# starting it up to 30 seconds late is what the schedule promises not to do.
EARLY_START = datetime.timedelta(seconds=10)

# The lease outlasts django-q2's task timeout, after which the task's process
# is killed: only then may the sweeper hand the delivery to someone else.
LEASE_MARGIN = datetime.timedelta(seconds=5)

# Leave the worker this much of the task timeout to record the outcome.
RECORDING_MARGIN = 5.0

FAILURE_OUTCOMES = {
    FailureKind.TIMEOUT: AttemptOutcome.TIMEOUT,
    FailureKind.CONNECTION_ERROR: AttemptOutcome.CONNECTION_ERROR,
    FailureKind.TLS_ERROR: AttemptOutcome.CONNECTION_ERROR,
    FailureKind.BLOCKED: AttemptOutcome.BLOCKED,
    FailureKind.INVALID_REQUEST: AttemptOutcome.BLOCKED,
}


@dataclasses.dataclass(frozen=True)
class AttemptReport:
    """What one attempt did, for the caller that waits on it (a test send)."""

    delivery_id: int
    status: str
    outcome: str = ""
    response_status: int | None = None
    duration_ms: int | None = None
    error: str = ""
    response_excerpt: str = ""


def lease_duration() -> datetime.timedelta:
    """Return how long a claim lasts: the task timeout and a margin."""
    return datetime.timedelta(seconds=settings.Q_CLUSTER["timeout"]) + LEASE_MARGIN


def attempt_delivery(
    *, delivery_id: int, now: datetime.datetime | None = None
) -> AttemptReport | None:
    """Claim the delivery and send one attempt, if it is due.

    Returns None when there is nothing to do: the delivery is not pending,
    not yet due, or another worker claimed it first. Otherwise the attempt is
    recorded and the delivery moves on: succeeded, retried later, failed or
    cancelled.
    """
    now = now or timezone.now()
    lease_expires_at = claim_delivery(delivery_id=delivery_id, now=now)
    if lease_expires_at is None:
        logger.debug("delivery not claimed delivery=%s", delivery_id)
        return None

    delivery = Delivery.objects.select_related("event", "workspace__webhook__auth").get(
        pk=delivery_id
    )
    config = delivery.workspace.webhook

    # A webhook switched off, or an event type dropped, since the event
    # arrived: nothing is sent. A test may try any type before subscribing.
    subscribed = (
        delivery.event.type in config.event_types
        or delivery.next_trigger == AttemptTrigger.TEST
    )
    if not config.enabled or not subscribed:
        reason = (
            "The webhook was switched off before this delivery was sent."
            if not config.enabled
            else f"The webhook no longer subscribes to {delivery.event.type}."
        )
        return cancel_delivery(
            delivery=delivery, lease_expires_at=lease_expires_at, reason=reason
        )

    # Build, record, send, record again.
    ends_at = time.monotonic() + settings.Q_CLUSTER["timeout"] - RECORDING_MARGIN
    request = prepare_request(
        event=delivery.event, config=config, now=now, ends_at=ends_at
    )
    attempt = start_attempt(delivery=delivery, request=request, now=now)
    if request.error:
        return finish_attempt(
            delivery=delivery,
            attempt=attempt,
            lease_expires_at=lease_expires_at,
            outcome=AttemptOutcome.AUTH_ERROR,
            error=request.error,
        )
    result = send_with_token_refresh(
        delivery=delivery, config=config, request=request, now=now, ends_at=ends_at
    )
    return finish_attempt(
        delivery=delivery,
        attempt=attempt,
        lease_expires_at=lease_expires_at,
        **describe_result(result),
    )


def claim_delivery(
    *, delivery_id: int, now: datetime.datetime
) -> datetime.datetime | None:
    """Take the delivery for one attempt; return the lease's end, or None.

    The conditional update is the lock: of several workers given the same
    id, exactly one sees its update change a row.
    """
    lease_expires_at = now + lease_duration()
    claimed = Delivery.objects.filter(
        pk=delivery_id,
        status=DeliveryStatus.PENDING,
        next_attempt_at__lte=now + EARLY_START,
    ).update(
        status=DeliveryStatus.IN_FLIGHT,
        lease_expires_at=lease_expires_at,
        attempt_count=F("attempt_count") + 1,
        updated_at=now,
    )
    return lease_expires_at if claimed else None


def start_attempt(
    *, delivery: Delivery, request: PreparedRequest, now: datetime.datetime
) -> DeliveryAttempt:
    """Write the attempt row, in progress, before anything is sent."""
    return DeliveryAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempt_count,
        trigger=delivery.next_trigger,
        started_at=now,
        request_method=request.method,
        request_url=audit_url(request.url),
        endpoint_host=(urlsplit(request.url).hostname or "")[:255],
        request_headers=request.audit_headers,
        request_body=request.body_text,
        outcome=AttemptOutcome.IN_PROGRESS,
    )


def send_with_token_refresh(
    *, delivery, config, request: PreparedRequest, now, ends_at: float
) -> OutboundResult:
    """Send the request; on a 401 with OAuth, fetch a new token and resend once.

    A cached token the provider has revoked early would otherwise fail every
    attempt until it expired.
    """
    result = send_request(
        method=request.method,
        url=request.url,
        headers=request.headers,
        body=request.body,
        deadline=min(settings.WEBHOOK_HTTP_DEADLINE, remaining(ends_at=ends_at)),
    )
    if not (
        isinstance(result, OutboundResponse)
        and result.status == 401
        and uses_oauth(config)
    ):
        return result

    invalidate_token(auth=config.auth)
    retried = prepare_request(
        event=delivery.event, config=config, now=now, ends_at=ends_at
    )
    if retried.error:
        return result
    logger.info("oauth token refreshed after 401 delivery=%s", delivery.pk)
    return send_request(
        method=retried.method,
        url=retried.url,
        headers=retried.headers,
        body=retried.body,
        deadline=min(settings.WEBHOOK_HTTP_DEADLINE, remaining(ends_at=ends_at)),
    )


def describe_result(result: OutboundResult) -> dict:
    """Return the attempt fields that record ``result``."""
    if isinstance(result, OutboundFailure):
        response = result.response
        return {
            "outcome": FAILURE_OUTCOMES[result.kind],
            "error": result.message,
            "duration_ms": result.elapsed_ms,
            "response": response,
        }
    if 200 <= result.status <= 299:
        outcome, error = AttemptOutcome.SUCCEEDED, ""
    elif 300 <= result.status <= 399:
        # Redirects are never followed: the endpoint URL is what the admin
        # chose, and following could lead to an address never checked.
        outcome = AttemptOutcome.HTTP_ERROR
        error = (
            f"HTTP {result.status}: redirect to {result.location or '(none)'} "
            "not followed."
        )
    else:
        outcome, error = AttemptOutcome.HTTP_ERROR, f"HTTP {result.status}"
    return {
        "outcome": outcome,
        "error": error,
        "duration_ms": result.elapsed_ms,
        "response": result,
    }


def finish_attempt(
    *,
    delivery: Delivery,
    attempt: DeliveryAttempt,
    lease_expires_at: datetime.datetime,
    outcome: str,
    error: str,
    duration_ms: int | None = None,
    response: OutboundResponse | None = None,
) -> AttemptReport:
    """Record the attempt's outcome and move the delivery to its next step."""
    now = timezone.now()
    status_code = response.status if response else None
    retry_after = _header(response, "Retry-After") if response else None
    # A failure may carry the status of an answer cut short: the answer
    # never completed, so only its outcome counts.
    answered = outcome in (AttemptOutcome.SUCCEEDED, AttemptOutcome.HTTP_ERROR)
    decision = decide_next_step(
        attempt_number=delivery.attempt_count,
        outcome=outcome,
        status_code=status_code if answered else None,
        retry_after=retry_after,
        now=now,
    )
    # A manual resend or a test is one attempt; it is not retried.
    if (
        decision.step is NextStep.RETRY
        and delivery.next_trigger != AttemptTrigger.AUTOMATIC
    ):
        decision = dataclasses.replace(decision, step=NextStep.FAILED)

    changes = {
        "lease_expires_at": None,
        "last_status_code": status_code,
        "last_error": error or decision.reason,
        "next_trigger": AttemptTrigger.AUTOMATIC,
        "updated_at": now,
    }
    if decision.step is NextStep.RETRY:
        # The queue message that led here is spent: the sweeper queues the
        # retry when it comes due.
        changes.update(
            status=DeliveryStatus.PENDING,
            next_attempt_at=decision.next_attempt_at,
            queued_at=None,
        )
    else:
        changes.update(
            status=(
                DeliveryStatus.SUCCEEDED
                if decision.step is NextStep.SUCCEEDED
                else DeliveryStatus.FAILED
            ),
            next_attempt_at=None,
            completed_at=now,
        )
        if decision.step is NextStep.GONE:
            changes["last_error"] = decision.reason

    with transaction.atomic():
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(
            outcome=outcome,
            error=error,
            duration_ms=duration_ms,
            response_status=status_code,
            response_headers=dict(response.headers) if response else {},
            response_body=response.text if response else "",
        )
        # Only the holder of this lease may move the delivery on.
        moved = Delivery.objects.filter(
            pk=delivery.pk,
            status=DeliveryStatus.IN_FLIGHT,
            lease_expires_at=lease_expires_at,
        ).update(**changes)
        # A test send says nothing about the endpoint's health.
        if moved and delivery.next_trigger != AttemptTrigger.TEST:
            config_id = delivery.workspace.webhook.pk
            if decision.step is NextStep.SUCCEEDED:
                health.record_success(config_id=config_id)
            elif decision.step is NextStep.GONE:
                health.disable_webhook(config_id=config_id, reason=decision.reason)
            else:
                health.record_failure(config_id=config_id, now=now, error=error)

    logger.log(
        logging.INFO if outcome == AttemptOutcome.SUCCEEDED else logging.WARNING,
        "delivery attempted delivery=%s attempt=%s outcome=%s status=%s next=%s",
        delivery.pk,
        attempt.number,
        outcome,
        status_code,
        changes["status"],
    )
    return AttemptReport(
        delivery_id=delivery.pk,
        status=changes["status"],
        outcome=outcome,
        response_status=status_code,
        duration_ms=duration_ms,
        error=error,
        response_excerpt=response.text[:500] if response else "",
    )


def cancel_delivery(
    *, delivery: Delivery, lease_expires_at: datetime.datetime, reason: str
) -> AttemptReport:
    """Cancel a claimed delivery that is no longer wanted; nothing is sent."""
    now = timezone.now()
    Delivery.objects.filter(
        pk=delivery.pk,
        status=DeliveryStatus.IN_FLIGHT,
        lease_expires_at=lease_expires_at,
    ).update(
        status=DeliveryStatus.CANCELLED,
        # The claim counted an attempt that was never made.
        attempt_count=F("attempt_count") - 1,
        lease_expires_at=None,
        next_attempt_at=None,
        last_error=reason,
        completed_at=now,
        updated_at=now,
    )
    logger.info("delivery cancelled delivery=%s", delivery.pk)
    return AttemptReport(
        delivery_id=delivery.pk, status=DeliveryStatus.CANCELLED, error=reason
    )


def _header(response: OutboundResponse, name: str) -> str | None:
    for key, value in response.headers.items():
        if key.lower() == name.lower():
            return value
    return None
