"""Accepting viewer events: store each one once, and open its delivery.

The API validates what a player sends; this module decides what is stored.
Exactly-once comes from the unique constraints on Event, never from looking
first: two requests racing with the same event both try to insert it, and the
database tells the loser. Everything written for one request is written in
one short transaction, and deliveries are queued only once it has committed.
"""

import dataclasses
import datetime
import enum
import functools
import logging
import uuid

from django.db import IntegrityError, transaction

from webhooks.models import (
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    WebhookConfig,
    Workspace,
)
from webhooks.tasks import queue_delivery

logger = logging.getLogger(__name__)

# Why an event beyond its occurrence rule is ignored, by type. Clicks have no
# rule: every click counts.
OCCURRENCE_RULES = {
    EventType.PLAYER_OPENED: "player-opened is accepted once per player session.",
    EventType.VIDEO_PLAYED: (
        "video-played is accepted once per player session and video."
    ),
    EventType.VIDEO_WATCHED: (
        "video-watched is accepted once per player session and video."
    ),
}


class Disposition(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


@dataclasses.dataclass(frozen=True)
class EventOutcome:
    """What became of one event of a request, by its position in the request.

    ``client_id`` is the player's own id, when it sent one; ``event_id`` is
    the stored event's id (for a duplicate, the one stored first; none for an
    ignored event); ``reason`` says why an event was ignored.
    """

    disposition: Disposition
    index: int
    client_id: uuid.UUID | None
    event_id: uuid.UUID | None = None
    reason: str = ""


@dataclasses.dataclass
class IngestResult:
    """The outcome of every event of one request, and the deliveries opened."""

    accepted: list[EventOutcome] = dataclasses.field(default_factory=list)
    duplicates: list[EventOutcome] = dataclasses.field(default_factory=list)
    ignored: list[EventOutcome] = dataclasses.field(default_factory=list)
    delivery_ids: list[int] = dataclasses.field(default_factory=list)


def accept_events(
    *, workspace_id: int, events: list[dict], received_at: datetime.datetime
) -> IngestResult:
    """Store each new event once and open a pending delivery for it.

    ``events`` are validated already (``webhooks.api.serializers``). Each one
    is accepted, recognised as a duplicate of an event stored with the same
    client id, or ignored by its occurrence rule. An accepted event whose type
    the enabled webhook subscribes to gets a pending delivery, queued after
    the transaction commits. Nothing is written if anything fails.

    Raises Workspace.DoesNotExist when the workspace has been deleted.
    """
    # Read the configuration and build the rows before the transaction: on
    # SQLite, a write transaction holds the database's one write lock, so it
    # must hold nothing but the inserts.
    config = (
        WebhookConfig.objects.filter(workspace_id=workspace_id)
        .values("enabled", "event_types")
        .first()
    )
    if config is None:
        raise Workspace.DoesNotExist(f"No workspace with id {workspace_id}.")
    subscribed = set(config["event_types"]) if config["enabled"] else set()
    candidates = [
        build_event(workspace_id=workspace_id, values=values, received_at=received_at)
        for values in events
    ]

    result = IngestResult()
    with transaction.atomic():
        # Insert each event in its own savepoint, so a refused one leaves the
        # others in place.
        stored = []
        for index, event in enumerate(candidates):
            outcome = store_event(event=event, index=index)
            if outcome.disposition is Disposition.ACCEPTED:
                result.accepted.append(outcome)
                stored.append(event)
            elif outcome.disposition is Disposition.DUPLICATE:
                result.duplicates.append(outcome)
            else:
                result.ignored.append(outcome)

        result.delivery_ids = create_deliveries(
            events=[event for event in stored if event.type in subscribed],
            received_at=received_at,
        )

    logger.debug(
        "events received workspace=%s accepted=%s duplicates=%s ignored=%s",
        workspace_id,
        len(result.accepted),
        len(result.duplicates),
        len(result.ignored),
    )
    return result


def build_event(
    *, workspace_id: int, values: dict, received_at: datetime.datetime
) -> Event:
    """Return the unsaved Event for one validated event of a request."""
    return Event(
        workspace_id=workspace_id,
        type=values["type"],
        client_event_id=values.get("id"),
        session_id=values["session_id"],
        video_id=values.get("video_id") or "",
        viewer_id=values.get("viewer_id") or "",
        page_url=values.get("page_url") or "",
        occurred_at=values.get("occurred_at") or received_at,
        received_at=received_at,
        data=values.get("data") or {},
    )


def store_event(*, event: Event, index: int) -> EventOutcome:
    """Insert one event, or tell why the database refused it.

    Must run inside a transaction. A duplicate's outcome names the event
    stored first; an event beyond its occurrence rule gets a reason. Any
    other integrity error is raised.
    """
    try:
        with transaction.atomic():
            event.save(force_insert=True)
    except IntegrityError:
        # The insert lost to a row that exists (or has just committed): the
        # savepoint is gone, and this query sees that row.
        if event.client_event_id is not None:
            original = (
                Event.objects.filter(
                    workspace_id=event.workspace_id,
                    client_event_id=event.client_event_id,
                )
                .values_list("id", flat=True)
                .first()
            )
            if original is not None:
                return EventOutcome(
                    disposition=Disposition.DUPLICATE,
                    index=index,
                    client_id=event.client_event_id,
                    event_id=original,
                )
        if event.type not in OCCURRENCE_RULES:
            raise
        return EventOutcome(
            disposition=Disposition.IGNORED,
            index=index,
            client_id=event.client_event_id,
            reason=OCCURRENCE_RULES[event.type],
        )
    return EventOutcome(
        disposition=Disposition.ACCEPTED,
        index=index,
        client_id=event.client_event_id,
        event_id=event.id,
    )


def create_deliveries(
    *, events: list[Event], received_at: datetime.datetime
) -> list[int]:
    """Open a pending delivery for each event; queue each once committed.

    Must run inside the transaction that stored the events, so that an event
    and its delivery exist together or not at all. The queued task carries the
    delivery's id only. Returns the ids of the new deliveries.
    """
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(
                event=event,
                workspace_id=event.workspace_id,
                event_type=event.type,
                status=DeliveryStatus.PENDING,
                next_attempt_at=received_at,
                # Queued as soon as the transaction commits.
                queued_at=received_at,
            )
            for event in events
        ]
    )
    for delivery in deliveries:
        transaction.on_commit(
            functools.partial(queue_delivery, delivery_id=delivery.pk), robust=True
        )
    return [delivery.pk for delivery in deliveries]
