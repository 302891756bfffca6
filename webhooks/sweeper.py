"""The sweeper: the database, not the queue, decides what gets delivered.

Every 30 seconds (django-q2's scheduler) it gives back deliveries whose worker
died mid-attempt and queues again the due deliveries no worker is working on:
retries whose time has come, and anything a lost queue message left behind.
"""

import datetime
import functools
import logging

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from webhooks.delivery import EARLY_START
from webhooks.models import (
    AttemptOutcome,
    AttemptTrigger,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
)
from webhooks.retries import NextStep, decide_next_step
from webhooks.tasks import queue_delivery

logger = logging.getLogger(__name__)

# Rows handled per sweep and per kind: a backlog is worked off over several
# sweeps instead of one long transaction.
BATCH_SIZE = 500

# A delivery queued this recently is left to the worker it was queued for,
# so that a backlog in the queue is not multiplied by the sweeper.
REQUEUE_AFTER = datetime.timedelta(seconds=60)

INTERRUPTED = "The worker stopped before the attempt finished."


def sweep_deliveries(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Reclaim lapsed leases and queue due deliveries; return the counts."""
    now = now or timezone.now()
    counts = {
        "reclaimed": reclaim_lapsed_leases(now=now),
        "queued": queue_due_deliveries(now=now),
    }
    if counts["reclaimed"] or counts["queued"]:
        logger.info(
            "deliveries swept reclaimed=%s queued=%s",
            counts["reclaimed"],
            counts["queued"],
        )
    return counts


def reclaim_lapsed_leases(*, now: datetime.datetime) -> int:
    """Give back in-flight deliveries whose worker's lease has run out.

    The attempt the worker was making is marked interrupted, and the delivery
    goes on as after any failed attempt: retried on the schedule, or failed.
    """
    reclaimed = 0
    with transaction.atomic():
        lapsed = list(
            _locked(
                Delivery.objects.filter(
                    status=DeliveryStatus.IN_FLIGHT, lease_expires_at__lt=now
                ).order_by("lease_expires_at")
            )[:BATCH_SIZE]
        )
        for delivery in lapsed:
            DeliveryAttempt.objects.filter(
                delivery=delivery, outcome=AttemptOutcome.IN_PROGRESS
            ).update(outcome=AttemptOutcome.INTERRUPTED, error=INTERRUPTED)
            decision = decide_next_step(
                attempt_number=delivery.attempt_count,
                outcome=AttemptOutcome.INTERRUPTED,
                status_code=None,
                retry_after=None,
                now=now,
            )
            retry = (
                decision.step is NextStep.RETRY
                and delivery.next_trigger == AttemptTrigger.AUTOMATIC
            )
            reclaimed += Delivery.objects.filter(
                pk=delivery.pk,
                status=DeliveryStatus.IN_FLIGHT,
                lease_expires_at=delivery.lease_expires_at,
            ).update(
                status=DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED,
                next_attempt_at=decision.next_attempt_at if retry else None,
                completed_at=None if retry else now,
                lease_expires_at=None,
                queued_at=None,
                next_trigger=AttemptTrigger.AUTOMATIC,
                last_error=INTERRUPTED,
                updated_at=now,
            )
    return reclaimed


def queue_due_deliveries(*, now: datetime.datetime) -> int:
    """Queue pending deliveries that are due and not recently queued."""
    with transaction.atomic():
        due = list(
            _locked(
                Delivery.objects.filter(
                    status=DeliveryStatus.PENDING,
                    next_attempt_at__lte=now + EARLY_START,
                )
                .filter(
                    Q(queued_at__isnull=True) | Q(queued_at__lt=now - REQUEUE_AFTER)
                )
                .order_by("next_attempt_at")
                .values_list("pk", flat=True)
            )[:BATCH_SIZE]
        )
        Delivery.objects.filter(pk__in=due).update(queued_at=now)
        for delivery_id in due:
            transaction.on_commit(
                functools.partial(queue_delivery, delivery_id=delivery_id),
                robust=True,
            )
    return len(due)


def _locked(queryset):
    # On PostgreSQL, several sweepers (one per worker machine) split the work:
    # each skips the rows another holds. SQLite has one writer at a time.
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True)
    return queryset
