import datetime
import threading
import uuid

import pytest
from django.db import connections
from django_q.models import OrmQ

from tests.factories import EventFactory, WorkspaceFactory
from webhooks import ingest
from webhooks.ingest import accept_events
from webhooks.models import Delivery, DeliveryStatus, Event, EventType, Workspace

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

RECEIVED_AT = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def event(**values) -> dict:
    """Return a validated event, as the API hands it over."""
    return {"type": EventType.SHARE_CLICKED, "session_id": "session-1", **values}


def test_an_event_and_its_pending_delivery_are_stored_together():
    workspace = WorkspaceFactory(enabled=True)
    client_id = uuid.uuid4()

    result = accept_events(
        workspace_id=workspace.pk,
        events=[event(id=client_id, video_id="v1", data={"share_target": "x"})],
        received_at=RECEIVED_AT,
    )

    stored = Event.objects.get()
    delivery = Delivery.objects.get()
    assert [outcome.event_id for outcome in result.accepted] == [stored.id]
    assert result.delivery_ids == [delivery.pk]
    assert stored.client_event_id == client_id
    assert stored.occurred_at == stored.received_at == RECEIVED_AT
    assert stored.data == {"share_target": "x"}
    assert delivery.event == stored
    assert delivery.workspace == workspace
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at == RECEIVED_AT
    assert delivery.attempt_count == 0


def test_a_disabled_webhook_gets_the_event_but_no_delivery():
    workspace = WorkspaceFactory(webhook__event_types=list(EventType.values))

    result = accept_events(
        workspace_id=workspace.pk, events=[event()], received_at=RECEIVED_AT
    )

    assert len(result.accepted) == 1
    assert Event.objects.count() == 1
    assert not Delivery.objects.exists()


def test_only_subscribed_types_get_deliveries():
    workspace = WorkspaceFactory(enabled=True, webhook__event_types=["cta-clicked"])

    accept_events(
        workspace_id=workspace.pk,
        events=[event(type=EventType.CTA_CLICKED), event()],
        received_at=RECEIVED_AT,
    )

    assert list(Delivery.objects.values_list("event__type", flat=True)) == [
        "cta-clicked"
    ]


def test_a_known_client_id_is_a_duplicate_of_the_first_event():
    original = EventFactory()

    result = accept_events(
        workspace_id=original.workspace_id,
        events=[event(id=original.client_event_id)],
        received_at=RECEIVED_AT,
    )

    assert result.accepted == []
    assert [(o.index, o.client_id, o.event_id) for o in result.duplicates] == [
        (0, original.client_event_id, original.id)
    ]
    assert Event.objects.count() == 1


def test_the_same_client_id_in_another_workspace_is_not_a_duplicate():
    original = EventFactory()
    other = WorkspaceFactory()

    result = accept_events(
        workspace_id=other.pk,
        events=[event(id=original.client_event_id)],
        received_at=RECEIVED_AT,
    )

    assert len(result.accepted) == 1


def test_a_duplicate_beyond_its_rule_is_answered_as_a_duplicate():
    original = EventFactory(type=EventType.PLAYER_OPENED)

    result = accept_events(
        workspace_id=original.workspace_id,
        events=[
            event(
                type=EventType.PLAYER_OPENED,
                session_id=original.session_id,
                id=original.client_event_id,
            )
        ],
        received_at=RECEIVED_AT,
    )

    assert len(result.duplicates) == 1
    assert result.ignored == []


def test_events_beyond_their_rule_are_ignored_with_a_reason():
    workspace = WorkspaceFactory(enabled=True)
    opened = event(type=EventType.PLAYER_OPENED)
    played = event(type=EventType.VIDEO_PLAYED, video_id="v1")
    watched = event(type=EventType.VIDEO_WATCHED, video_id="v1")

    result = accept_events(
        workspace_id=workspace.pk,
        events=[opened, played, watched, opened, played, watched],
        received_at=RECEIVED_AT,
    )

    assert [outcome.index for outcome in result.accepted] == [0, 1, 2]
    assert [(o.index, o.reason) for o in result.ignored] == [
        (3, "player-opened is accepted once per player session."),
        (4, "video-played is accepted once per player session and video."),
        (5, "video-watched is accepted once per player session and video."),
    ]
    assert Event.objects.count() == Delivery.objects.count() == 3


def test_a_deleted_workspace_is_reported():
    workspace = WorkspaceFactory()
    workspace_id = workspace.pk
    workspace.delete()

    with pytest.raises(
        Workspace.DoesNotExist, match=f"No workspace with id {workspace_id}"
    ):
        accept_events(
            workspace_id=workspace_id, events=[event()], received_at=RECEIVED_AT
        )


def test_deliveries_are_queued_only_after_commit(django_capture_on_commit_callbacks):
    workspace = WorkspaceFactory(enabled=True)

    with django_capture_on_commit_callbacks() as callbacks:
        result = accept_events(
            workspace_id=workspace.pk,
            events=[event(), event(type=EventType.CTA_CLICKED)],
            received_at=RECEIVED_AT,
        )
        assert not OrmQ.objects.exists()
    for callback in callbacks:
        callback()

    assert sorted(row.task["args"] for row in OrmQ.objects.all()) == [
        (delivery_id,) for delivery_id in sorted(result.delivery_ids)
    ]


def test_a_failure_after_the_inserts_leaves_no_event_no_delivery_and_no_task(
    transactional_db, monkeypatch
):
    workspace = WorkspaceFactory(enabled=True)
    create_deliveries = ingest.create_deliveries

    def create_then_fail(**kwargs):
        create_deliveries(**kwargs)
        assert Delivery.objects.count() == 1
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(ingest, "create_deliveries", create_then_fail)

    with pytest.raises(RuntimeError, match="the disk is full"):
        accept_events(
            workspace_id=workspace.pk, events=[event()], received_at=RECEIVED_AT
        )

    assert not Event.objects.exists()
    assert not Delivery.objects.exists()
    assert not OrmQ.objects.exists()


def test_five_players_opening_one_session_at_once_count_once(transactional_db):
    workspace = WorkspaceFactory(enabled=True)
    barrier = threading.Barrier(5)
    results = []

    def open_player():
        try:
            barrier.wait(timeout=10)
            results.append(
                accept_events(
                    workspace_id=workspace.pk,
                    events=[event(type=EventType.PLAYER_OPENED, id=uuid.uuid4())],
                    received_at=RECEIVED_AT,
                )
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=open_player) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(len(result.accepted) for result in results) == [0, 0, 0, 0, 1]
    assert sum(len(result.ignored) for result in results) == 4
    assert Event.objects.count() == 1
    assert Delivery.objects.count() == 1
    assert OrmQ.objects.count() == 1


def test_absent_optional_fields_are_stored_empty():
    workspace = WorkspaceFactory()

    accept_events(
        workspace_id=workspace.pk,
        events=[
            event(
                id=None,
                video_id=None,
                viewer_id=None,
                page_url=None,
                occurred_at=None,
                data=None,
            )
        ],
        received_at=RECEIVED_AT,
    )

    stored = Event.objects.get()
    assert stored.client_event_id is None
    assert (stored.video_id, stored.viewer_id, stored.page_url) == ("", "", "")
    assert stored.occurred_at == RECEIVED_AT
    assert stored.data == {}
