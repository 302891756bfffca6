"""Seeding with rows built in Python and bulk-inserted (any database)."""

import datetime
import random
import uuid

from django.db import transaction

from webhooks.models import (
    AttemptOutcome,
    AttemptTrigger,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
    EventType,
)
from webhooks.seeding import (
    CANCELLED_REASON,
    EVENT_TYPES,
    FAILURES,
    RETRY_SPACING_MINUTES,
    STATUSES,
    UNFINISHED_WINDOW,
    VIDEOS,
    VIEWERS,
    SeedPlan,
    pick,
)

BATCH_SIZE = 2000


def seed_with_orm(*, plan: SeedPlan) -> None:
    """Insert rows built in Python, a batch at a time (any database)."""
    rand = random.Random(plan.seed)  # noqa: S311 (test data, not a secret)
    step = plan.span / plan.deliveries
    for first in range(0, plan.deliveries, BATCH_SIZE):
        numbers = range(first + 1, min(first + BATCH_SIZE, plan.deliveries) + 1)
        with transaction.atomic():
            events = [
                _build_event(plan=plan, number=number, step=step, rand=rand)
                for number in numbers
            ]
            Event.objects.bulk_create(events)
            deliveries = [
                _build_delivery(plan=plan, event=event, rand=rand) for event in events
            ]
            Delivery.objects.bulk_create(deliveries)
            # bulk_create stamps created_at with the current time; put back
            # the moment each event arrived.
            for delivery, event in zip(deliveries, events, strict=True):
                delivery.created_at = delivery.updated_at = event.received_at
            Delivery.objects.bulk_update(
                deliveries, ["created_at", "updated_at"], batch_size=500
            )
            DeliveryAttempt.objects.bulk_create(
                attempt
                for delivery in deliveries
                for attempt in _build_attempts(plan=plan, delivery=delivery, rand=rand)
            )


def _build_event(*, plan, number, step, rand) -> Event:
    workspace = pick(plan.workspace_shares, rand.random())
    event_type = pick(EVENT_TYPES, rand.random())
    received_at = plan.start + step * (number - 1 + rand.random())
    data = {
        EventType.VIDEO_WATCHED: {"percent": rand.randint(80, 100)},
        EventType.CTA_CLICKED: {
            "cta_id": "buy",
            "cta_url": "https://shop.example.com/buy",
        },
        EventType.SHARE_CLICKED: {"share_target": "linkedin"},
    }.get(event_type, {})
    return Event(
        workspace=workspace,
        type=event_type,
        client_event_id=uuid.uuid4() if rand.random() < 0.9 else None,
        session_id=f"{plan.run}-{number}",
        video_id=f"video-{number % VIDEOS}",
        viewer_id=f"viewer-{number % VIEWERS}",
        page_url=f"https://www.example.com/watch/{number % VIDEOS}",
        occurred_at=received_at - datetime.timedelta(seconds=rand.random() * 2),
        received_at=received_at,
        data=data,
    )


def _build_delivery(*, plan, event, rand) -> Delivery:
    status = pick(STATUSES, rand.random())
    unfinished = status in (DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT)
    if unfinished and event.received_at < plan.now - UNFINISHED_WINDOW:
        status = DeliveryStatus.FAILED
    _, code, error = pick(FAILURES, rand.random())
    finished_at = event.received_at + datetime.timedelta(
        minutes=RETRY_SPACING_MINUTES * (plan.attempts - 1), seconds=1
    )
    delivery = Delivery(
        event=event,
        workspace_id=event.workspace_id,
        event_type=event.type,
        status=status,
        attempt_count=plan.attempts,
        last_status_code=code,
        last_error=error,
    )
    if status == DeliveryStatus.SUCCEEDED:
        delivery.last_status_code, delivery.last_error = 200, ""
    elif status == DeliveryStatus.IN_FLIGHT:
        delivery.last_status_code, delivery.last_error = None, ""
        delivery.lease_expires_at = plan.now + datetime.timedelta(seconds=95)
    elif status == DeliveryStatus.CANCELLED:
        delivery.last_error = CANCELLED_REASON
    if status == DeliveryStatus.PENDING:
        delivery.next_attempt_at = event.received_at + datetime.timedelta(minutes=30)
    elif not unfinished:
        delivery.completed_at = finished_at
    return delivery


def _build_attempts(*, plan, delivery, rand) -> list[DeliveryAttempt]:
    host = f"hooks.seed-{_seed_number(plan, delivery.workspace_id)}.example.com"
    attempts = []
    for number in range(1, plan.attempts + 1):
        outcome, code, error = pick(FAILURES, rand.random())
        if number == plan.attempts:
            if delivery.status == DeliveryStatus.SUCCEEDED:
                outcome, code, error = AttemptOutcome.SUCCEEDED, 200, ""
            elif delivery.status == DeliveryStatus.IN_FLIGHT:
                outcome, code, error = AttemptOutcome.IN_PROGRESS, None, ""
            elif delivery.last_status_code is not None:
                outcome = AttemptOutcome.HTTP_ERROR
                code, error = delivery.last_status_code, delivery.last_error
        started_at = delivery.created_at + datetime.timedelta(
            minutes=RETRY_SPACING_MINUTES * (number - 1)
        )
        attempts.append(
            DeliveryAttempt(
                delivery=delivery,
                number=number,
                trigger=AttemptTrigger.AUTOMATIC,
                started_at=started_at,
                duration_ms=(
                    None
                    if outcome == AttemptOutcome.IN_PROGRESS
                    else 15000
                    if outcome == AttemptOutcome.TIMEOUT
                    else 40 + int(rand.random() ** 4 * 900)
                ),
                request_method="POST",
                request_url=f"https://{host}/events",
                endpoint_host=host,
                request_headers={
                    "Content-Type": "[redacted]",
                    "webhook-id": str(delivery.event_id),
                    "webhook-signature": "[redacted]",
                },
                request_body=(
                    f'{{"id":"{delivery.event_id}","type":"{delivery.event_type}"}}'
                ),
                response_status=code,
                response_headers={"Content-Type": "application/json"} if code else {},
                response_body='{"ok":true}' if outcome == "succeeded" else error,
                outcome=outcome,
                error=error,
            )
        )
    return attempts


def _seed_number(plan, workspace_id) -> int:
    return next(
        index
        for index, workspace in enumerate(plan.workspaces, start=1)
        if workspace.pk == workspace_id
    )
