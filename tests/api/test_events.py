import datetime
import io
import json
import threading
import uuid

import pytest
from django.db import connections
from django.test import Client, RequestFactory
from django.utils import timezone
from django_q.models import OrmQ

from tests.factories import EventFactory, EventPayloadFactory, WorkspaceFactory
from webhooks.api.parsers import MAX_BODY_BYTES, PayloadTooLarge, read_body
from webhooks.api.views import EventsView
from webhooks.models import Delivery, DeliveryStatus, Event, EventType

pytestmark = pytest.mark.django_db


@pytest.fixture
def enabled_workspace(db):
    return WorkspaceFactory(enabled=True)


def test_one_event_is_stored_and_answered_with_its_ids(post_events, enabled_workspace):
    payload = EventPayloadFactory(
        cta_clicked=True,
        viewer_id="viewer-7",
        page_url="https://www.example.com/watch",
        occurred_at=None,
    )

    response = post_events(payload, key=enabled_workspace.ingest_key)

    event = Event.objects.get()
    assert response.status_code == 202
    assert response.json() == {
        "accepted": [{"index": 0, "id": payload["id"], "event_id": str(event.id)}],
        "duplicates": [],
        "ignored": [],
    }
    assert event.workspace == enabled_workspace
    assert str(event.client_event_id) == payload["id"]
    assert event.type == EventType.CTA_CLICKED
    assert event.session_id == payload["session_id"]
    assert event.viewer_id == "viewer-7"
    assert event.page_url == "https://www.example.com/watch"
    assert event.data == {"cta_id": "buy", "cta_url": "https://shop.example.com/buy"}
    assert event.occurred_at == event.received_at


def test_an_event_without_id_is_answered_with_the_stored_id(post_events, workspace):
    payload = EventPayloadFactory()
    del payload["id"]

    response = post_events(payload, key=workspace.ingest_key)

    event = Event.objects.get()
    assert response.json()["accepted"] == [
        {"index": 0, "id": None, "event_id": str(event.id)}
    ]
    assert event.client_event_id is None


def test_occurred_at_is_stored_as_the_moment_it_names(post_events, workspace):
    moment = timezone.now().replace(microsecond=0) - datetime.timedelta(hours=1)
    paris = datetime.timezone(datetime.timedelta(hours=1))
    payload = EventPayloadFactory(occurred_at=moment.astimezone(paris).isoformat())

    post_events(payload, key=workspace.ingest_key)

    assert Event.objects.get().occurred_at == moment


def test_a_batch_is_answered_event_by_event(post_events, enabled_workspace):
    opened = EventPayloadFactory(player_opened=True)
    again = EventPayloadFactory(player_opened=True, session_id=opened["session_id"])
    played = EventPayloadFactory(video_played=True, session_id=opened["session_id"])

    response = post_events(
        {"events": [opened, again, played, opened]},
        key=enabled_workspace.ingest_key,
    )

    stored = {str(event.client_event_id): event.id for event in Event.objects.all()}
    assert response.status_code == 202
    assert response.json() == {
        "accepted": [
            {"index": 0, "id": opened["id"], "event_id": str(stored[opened["id"]])},
            {"index": 2, "id": played["id"], "event_id": str(stored[played["id"]])},
        ],
        "duplicates": [
            {"index": 3, "id": opened["id"], "event_id": str(stored[opened["id"]])}
        ],
        "ignored": [
            {
                "index": 1,
                "id": again["id"],
                "reason": "player-opened is accepted once per player session.",
            }
        ],
    }
    assert Delivery.objects.count() == 2


def test_json_sent_as_text_plain_with_the_key_in_the_query_is_accepted(
    post_events, workspace
):
    payload = EventPayloadFactory()

    response = post_events(
        json.dumps(payload).encode(),
        content_type="text/plain;charset=UTF-8",
        path=f"/api/v1/events?key={workspace.ingest_key}",
    )

    assert response.status_code == 202
    assert str(Event.objects.get().client_event_id) == payload["id"]


@pytest.mark.postgres
def test_an_invalid_event_in_a_batch_stores_nothing_and_every_problem_is_listed(
    post_events, enabled_workspace
):
    events = EventPayloadFactory.create_batch(5)
    events[1]["colour"] = "red"
    events[3]["type"] = "video-paused"
    events[3]["page_url"] = "javascript:alert(1)"
    events[4] = EventPayloadFactory(video_played=True, video_id="")

    response = post_events({"events": events}, key=enabled_workspace.ingest_key)

    assert response.status_code == 400
    assert response.json() == {
        "events": {
            "1": {"colour": ["Unknown field."]},
            "3": {
                "type": ['"video-paused" is not a valid choice.'],
                "page_url": ["Enter a valid http:// or https:// URL."],
            },
            "4": {"video_id": ["Required for video-played."]},
        }
    }
    assert not Event.objects.exists()
    assert not Delivery.objects.exists()


def test_unknown_fields_of_an_event_are_refused_with_its_other_problems(
    post_events, workspace
):
    payload = EventPayloadFactory(colour="red")
    del payload["session_id"]

    response = post_events(payload, key=workspace.ingest_key)

    assert response.status_code == 400
    assert response.json() == {
        "colour": ["Unknown field."],
        "session_id": ["This field is required."],
    }


def test_unknown_fields_next_to_a_batch_are_refused(post_events, workspace):
    response = post_events(
        {"events": [EventPayloadFactory()], "sent_at": "now"},
        key=workspace.ingest_key,
    )

    assert response.status_code == 400
    assert response.json() == {"sent_at": ["Unknown field."]}
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([], "Send from 1 to 100 events."),
        ("many", "Send a list of events."),
        (["share-clicked"], {"0": {"non_field_errors": ["Send an event object."]}}),
    ],
)
def test_a_batch_holds_1_to_100_event_objects(post_events, workspace, events, message):
    response = post_events({"events": events}, key=workspace.ingest_key)

    assert response.status_code == 400
    assert response.json() == {
        "events": message if isinstance(message, dict) else [message]
    }


def test_a_batch_of_101_events_is_refused(post_events, workspace):
    events = EventPayloadFactory.create_batch(101)

    response = post_events({"events": events}, key=workspace.ingest_key)

    assert response.json() == {"events": ["Send from 1 to 100 events."]}


def test_a_body_that_is_not_an_object_is_refused(post_events, workspace):
    response = post_events([EventPayloadFactory()], key=workspace.ingest_key)

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": [
            'Send one event object, or {"events": [...]} with 1 to 100 events.'
        ]
    }


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"type": ', "Malformed JSON: Expecting value: line 1 column 10 (char 9)."),
        (b'{"percent": NaN}', "Malformed JSON: NaN is not valid JSON."),
        (b"\xff\xfe", "Malformed JSON: the body is not UTF-8."),
        (b"[" * 50_000, "Malformed JSON: nested too deeply."),
    ],
)
def test_malformed_json_is_refused_with_400(post_events, workspace, body, detail):
    response = post_events(body, key=workspace.ingest_key)

    assert response.status_code == 400
    assert response.json() == {"detail": detail}


@pytest.mark.parametrize(
    ("content_type", "detail"),
    [
        (
            "application/x-www-form-urlencoded",
            'Unsupported media type "application/x-www-form-urlencoded" in request.',
        ),
        ("", 'Unsupported media type "" in request.'),
    ],
)
def test_other_content_types_are_refused_with_415(
    post_events, workspace, content_type, detail
):
    response = post_events(
        json.dumps(EventPayloadFactory()).encode(),
        content_type=content_type,
        key=workspace.ingest_key,
    )

    assert response.status_code == 415
    assert response.json() == {"detail": detail}
    assert not Event.objects.exists()


def test_a_body_declared_over_64_kb_is_refused_before_it_is_read(workspace):
    stream = io.BytesIO(b"x" * (MAX_BODY_BYTES + 1))
    request = RequestFactory().post(
        "/api/v1/events",
        content_type="application/json",
        headers={"X-Workspace-Key": workspace.ingest_key},
        CONTENT_LENGTH=str(MAX_BODY_BYTES + 1),
        **{"wsgi.input": stream},
    )

    response = EventsView.as_view()(request)

    assert response.status_code == 413
    assert response.data == {
        "detail": "Request body too large: send at most 65536 bytes."
    }
    assert stream.tell() == 0


def test_a_body_at_the_limit_is_read(post_events, workspace):
    payload = EventPayloadFactory()
    body = json.dumps(payload).encode()
    body += b" " * (MAX_BODY_BYTES - len(body))

    response = post_events(body, key=workspace.ingest_key)

    assert response.status_code == 202


def test_a_streamed_body_without_content_length_is_refused_unread(workspace):
    stream = io.BytesIO(b"x" * (MAX_BODY_BYTES * 4))
    request = RequestFactory().post(
        "/api/v1/events",
        content_type="application/json",
        headers={
            "X-Workspace-Key": workspace.ingest_key,
            "Transfer-Encoding": "chunked",
        },
        **{"wsgi.input": stream},
    )
    del request.META["CONTENT_LENGTH"]

    response = EventsView.as_view()(request)

    assert response.status_code == 411
    assert response.data == {"detail": "Send the body with a Content-Length header."}
    assert stream.tell() == 0


def test_the_parser_reads_no_more_than_one_byte_past_the_limit():
    stream = io.BytesIO(b"x" * (MAX_BODY_BYTES * 4))

    with pytest.raises(PayloadTooLarge, match="at most 65536 bytes"):
        read_body(stream)

    assert stream.tell() == MAX_BODY_BYTES + 1


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        (
            {"type": "video-watched", "data": {"percent": 79.5}},
            {
                "data": {
                    "percent": [
                        "video-watched means at least 80 % of the video was "
                        "watched; this says 79.5."
                    ]
                }
            },
        ),
        (
            {"data": {"percent": "most"}},
            {"data": {"percent": ["Send a number from 0 to 100."]}},
        ),
        (
            {"data": {"percent": 101}},
            {"data": {"percent": ["Send a number from 0 to 100."]}},
        ),
        (
            {"data": {"cta_url": "ftp://example.com"}},
            {"data": {"cta_url": ["Enter a valid http:// or https:// URL."]}},
        ),
        (
            {"data": {"cta_id": ""}},
            {"data": {"cta_id": ["Send text of 1 to 128 characters."]}},
        ),
        (
            {"data": {"share_target": 3}},
            {"data": {"share_target": ["Send text of 1 to 128 characters."]}},
        ),
        ({"data": ["linkedin"]}, {"data": ["Send an object."]}),
        (
            {"data": {"note": "x" * 4100}},
            {"data": ["Too large: at most 4096 bytes as JSON."]},
        ),
        (
            {"data": {"a": [[[[[[[[["deep"]]]]]]]]]}},
            {"data": ["Nested too deeply: at most 8 levels."]},
        ),
        (
            {"data": {"note": "a\u0000b"}},
            {"data": ["Text cannot contain NUL or unpaired surrogate characters."]},
        ),
        (
            {"type": "video-watched", "video_id": None},
            {"video_id": ["Required for video-watched."]},
        ),
        ({"session_id": ""}, {"session_id": ["This field may not be blank."]}),
        (
            {"session_id": "s" * 129},
            {"session_id": ["Ensure this field has no more than 128 characters."]},
        ),
        (
            {"viewer_id": "v" * 129},
            {"viewer_id": ["Ensure this field has no more than 128 characters."]},
        ),
        ({"id": "not-a-uuid"}, {"id": ["Must be a valid UUID."]}),
        ({"id": 5}, {"id": ["Must be a valid UUID."]}),
        (
            {"page_url": "javascript:alert(1)"},
            {"page_url": ["Enter a valid http:// or https:// URL."]},
        ),
        (
            {"occurred_at": "2026-12-03T12:00:00"},
            {"occurred_at": ["Include a timezone, as in 2026-05-01T12:00:00Z."]},
        ),
        (
            {"occurred_at": "yesterday"},
            {
                "occurred_at": [
                    "Datetime has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                ]
            },
        ),
    ],
)
def test_invalid_fields_are_refused_with_a_clear_message(
    post_events, workspace, change, errors
):
    payload = {**EventPayloadFactory(), **change}

    response = post_events(payload, key=workspace.ingest_key)

    assert response.status_code == 400
    assert response.json() == errors
    assert not Event.objects.exists()


@pytest.mark.postgres
def test_the_same_id_sent_again_is_a_duplicate(post_events, enabled_workspace):
    payload = EventPayloadFactory()
    first = post_events(payload, key=enabled_workspace.ingest_key)

    second = post_events(payload, key=enabled_workspace.ingest_key)

    event = Event.objects.get()
    assert first.json()["accepted"][0]["event_id"] == str(event.id)
    assert second.status_code == 202
    assert second.json() == {
        "accepted": [],
        "duplicates": [{"index": 0, "id": payload["id"], "event_id": str(event.id)}],
        "ignored": [],
    }
    assert Delivery.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.parametrize(
    "event_type", [EventType.VIDEO_PLAYED, EventType.VIDEO_WATCHED]
)
def test_video_events_beyond_their_rule_are_ignored(post_events, workspace, event_type):
    first = EventPayloadFactory(type=event_type.value, data={"percent": 100})
    same_video = {**first, "id": str(uuid.uuid4())}
    other_video = {**first, "id": str(uuid.uuid4()), "video_id": "video-2"}

    response = post_events(
        {"events": [first, same_video, other_video]}, key=workspace.ingest_key
    )

    assert [item["index"] for item in response.json()["accepted"]] == [0, 2]
    assert response.json()["ignored"] == [
        {
            "index": 1,
            "id": same_video["id"],
            "reason": f"{event_type.value} is accepted once per player session "
            "and video.",
        }
    ]


@pytest.mark.parametrize("event_type", [EventType.SHARE_CLICKED, EventType.CTA_CLICKED])
def test_every_click_counts(post_events, workspace, event_type):
    clicks = EventPayloadFactory.create_batch(
        3, type=event_type.value, session_id="one-session", data={}
    )

    response = post_events({"events": clicks}, key=workspace.ingest_key)

    assert len(response.json()["accepted"]) == 3


def test_a_new_player_session_opens_again(post_events, workspace):
    EventFactory(workspace=workspace, type=EventType.PLAYER_OPENED, session_id="s1")

    response = post_events(
        EventPayloadFactory(player_opened=True, session_id="s2"),
        key=workspace.ingest_key,
    )

    assert len(response.json()["accepted"]) == 1


def test_a_disabled_webhook_stores_the_event_without_a_delivery(post_events, workspace):
    response = post_events(EventPayloadFactory(), key=workspace.ingest_key)

    assert response.status_code == 202
    assert Event.objects.count() == 1
    assert not Delivery.objects.exists()


def test_only_subscribed_types_get_a_delivery(post_events):
    workspace = WorkspaceFactory(enabled=True, webhook__event_types=["cta-clicked"])
    clicks = [EventPayloadFactory(cta_clicked=True), EventPayloadFactory()]

    post_events({"events": clicks}, key=workspace.ingest_key)

    delivery = Delivery.objects.get()
    assert delivery.event.type == EventType.CTA_CLICKED
    assert Event.objects.count() == 2


def test_an_accepted_event_queues_its_delivery_once_committed(
    post_events, enabled_workspace, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_events(EventPayloadFactory(), key=enabled_workspace.ingest_key)

    delivery = Delivery.objects.get()
    queued = OrmQ.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.workspace == enabled_workspace
    assert queued.task["func"] == "webhooks.tasks.deliver"
    assert queued.task["args"] == (delivery.pk,)


def test_the_path_takes_no_trailing_slash(post_events, workspace):
    response = post_events(
        EventPayloadFactory(), key=workspace.ingest_key, path="/api/v1/events/"
    )

    assert response.status_code == 404
    assert not Event.objects.exists()


def test_the_endpoint_needs_no_csrf_token(workspace):
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        "/api/v1/events",
        data=json.dumps(EventPayloadFactory()),
        content_type="application/json",
        headers={"X-Workspace-Key": workspace.ingest_key},
    )

    assert response.status_code == 202


@pytest.mark.postgres
def test_the_same_id_sent_by_five_clients_at_once_is_stored_once(
    transactional_db, settings
):
    settings.WEBHOOK_INGEST_RATE_PER_ADDRESS = "1000/minute"
    workspace = WorkspaceFactory(enabled=True)
    body = json.dumps(EventPayloadFactory())
    barrier = threading.Barrier(5)
    answers = []

    def send():
        try:
            client = Client()
            barrier.wait(timeout=10)
            response = client.post(
                "/api/v1/events",
                data=body,
                content_type="application/json",
                headers={"X-Workspace-Key": workspace.ingest_key},
            )
            answers.append(response.json())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(answers) == 5
    assert sum(len(answer["accepted"]) for answer in answers) == 1
    assert sum(len(answer["duplicates"]) for answer in answers) == 4
    assert Event.objects.count() == 1
    assert Delivery.objects.count() == 1
    assert OrmQ.objects.count() == 1
