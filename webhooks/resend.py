"""Resending deliveries by hand: a selection, or every failure of a workspace.

A resend is one more attempt through the normal worker path. The delivery goes
back to pending, due now, with its next trigger set to manual; it is queued
once that change commits, and the worker records a manual attempt with no
retries after it. The receiver sees the same ``webhook-id`` as before (the
event's id), so it can drop a resend it has already processed.
"""

import dataclasses
import datetime
import functools
import logging
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from webhooks.models import (
    AttemptTrigger,
    Delivery,
    DeliveryStatus,
    WebhookConfig,
    Workspace,
)
from webhooks.tasks import queue_delivery

logger = logging.getLogger(__name__)

# How far back a recovery may reach. Older failures have usually been dealt
# with otherwise, and receivers may no longer expect them.
RECOVERY_WINDOW = datetime.timedelta(days=14)

# Deliveries changed per statement (and, for a recovery, per transaction).
BATCH_SIZE = 500

DISABLED = "The webhook of {workspace} is disabled: turn it on before resending."
UNSUBSCRIBED = "The webhook of {workspace} no longer subscribes to {event_type}."


class ResendRefusedError(ValueError):
    """A resend that cannot happen as asked; the message says why."""


@dataclasses.dataclass(frozen=True)
class ResendResult:
    """What a resend did with each delivery it was given.

    ``queued`` went back to pending and were queued; ``skipped`` were in
    flight, a worker attempting them at that moment; ``refused`` maps the
    rest to why they were not resent. Unknown ids appear nowhere.
    """

    queued: tuple[int, ...] = ()
    skipped: tuple[int, ...] = ()
    refused: dict[int, str] = dataclasses.field(default_factory=dict)


def resend_deliveries(
    *, delivery_ids: Iterable[int], now: datetime.datetime | None = None
) -> ResendResult:
    """Queue one manual attempt of each delivery that is not in flight.

    Deliveries whose webhook is disabled, or no longer subscribes to their
    event type, are refused: the worker would only cancel them. Everything
    is decided and changed in one transaction, on rows locked against a
    worker's claim; tasks are queued once it commits.
    """
    now = now or timezone.now()
    ids = sorted(set(delivery_ids))
    queued, skipped, refused = [], [], {}

    with transaction.atomic():
        for batch in _batches(ids):
            # Lock the batch against a worker's claim, and sort it.
            rows = (
                Delivery.objects.filter(pk__in=batch)
                .select_for_update(of=("self",))
                .values_list(
                    "pk",
                    "status",
                    "event_type",
                    "workspace__name",
                    "workspace__webhook__enabled",
                    "workspace__webhook__event_types",
                )
            )
            eligible = []
            for pk, status, event_type, workspace, enabled, event_types in rows:
                if status == DeliveryStatus.IN_FLIGHT:
                    skipped.append(pk)
                elif not enabled:
                    refused[pk] = DISABLED.format(workspace=workspace)
                elif event_type not in (event_types or []):
                    refused[pk] = UNSUBSCRIBED.format(
                        workspace=workspace, event_type=event_type
                    )
                else:
                    eligible.append(pk)

            # Put back what may go, still never one in flight.
            _requeue(
                Delivery.objects.filter(pk__in=eligible).exclude(
                    status=DeliveryStatus.IN_FLIGHT
                ),
                ids=eligible,
                now=now,
            )
            queued += eligible

    logger.info(
        "deliveries resent queued=%s skipped=%s refused=%s",
        len(queued),
        len(skipped),
        len(refused),
    )
    return ResendResult(
        queued=tuple(sorted(queued)),
        skipped=tuple(sorted(skipped)),
        refused=dict(sorted(refused.items())),
    )


def recover_workspace(
    *,
    workspace: Workspace,
    since: datetime.datetime,
    now: datetime.datetime | None = None,
) -> int:
    """Resend every failed delivery of ``workspace`` created since ``since``.

    Returns how many were queued. Raises ValueError when ``since`` is in the
    future or more than RECOVERY_WINDOW back, and ResendRefusedError while
    the webhook is disabled. Failures of event types the webhook no longer
    subscribes to are left alone. Works through the failures in batches,
    each its own short transaction, so a recovery of thousands holds no lock
    for long.
    """
    now = now or timezone.now()
    check_recovery_start(since=since, now=now)
    config = WebhookConfig.objects.only("enabled", "event_types").get(
        workspace=workspace
    )
    if not config.enabled:
        raise ResendRefusedError(DISABLED.format(workspace=workspace.name))

    # The ids first, in one indexed read: a delivery that fails again while
    # the recovery runs must not be picked up a second time.
    failed_ids = list(
        Delivery.objects.filter(
            workspace=workspace,
            status=DeliveryStatus.FAILED,
            created_at__gte=since,
            event_type__in=config.event_types,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )

    # Then each batch: lock what is still failed, and put it back.
    queued = 0
    for batch in _batches(failed_ids):
        with transaction.atomic():
            locked = list(
                Delivery.objects.filter(pk__in=batch, status=DeliveryStatus.FAILED)
                .select_for_update()
                .values_list("pk", flat=True)
            )
            _requeue(Delivery.objects.filter(pk__in=locked), ids=locked, now=now)
        queued += len(locked)

    logger.info(
        "workspace recovered workspace=%s since=%s queued=%s",
        workspace.slug,
        since.isoformat(),
        queued,
    )
    return queued


def check_recovery_start(*, since: datetime.datetime, now: datetime.datetime) -> None:
    """Raise ValueError unless ``since`` lies within RECOVERY_WINDOW before now."""
    if since > now:
        raise ValueError("Choose a time in the past.")
    earliest = now - RECOVERY_WINDOW
    if since < earliest:
        raise ValueError(
            f"A recovery reaches back {RECOVERY_WINDOW.days} days at most: choose "
            f"a time after {earliest:%Y-%m-%d %H:%M} UTC."
        )


def _requeue(queryset, *, ids: list[int], now: datetime.datetime) -> None:
    """Make the deliveries pending, due now, for one manual attempt; queue them.

    Must run inside the transaction that locked them; tasks are queued once
    it commits. ``queued_at`` keeps the sweeper from queueing them again
    meanwhile.
    """
    if not ids:
        return
    queryset.update(
        status=DeliveryStatus.PENDING,
        next_trigger=AttemptTrigger.MANUAL,
        next_attempt_at=now,
        queued_at=now,
        lease_expires_at=None,
        completed_at=None,
        updated_at=now,
    )
    for delivery_id in ids:
        transaction.on_commit(
            functools.partial(queue_delivery, delivery_id=delivery_id), robust=True
        )


def _batches(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), BATCH_SIZE):
        yield ids[start : start + BATCH_SIZE]
