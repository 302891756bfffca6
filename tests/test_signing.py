import datetime
import json
import time
import uuid
from urllib.parse import parse_qsl, urlsplit

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.factories import EventFactory, WorkspaceFactory
from webhooks.models import EventType, WebhookConfig, generate_signing_secret
from webhooks.signing import (
    append_query,
    build_envelope,
    encode_body,
    encode_query,
    format_timestamp,
    sign,
    signature_headers,
    signing_secrets,
)
from webhooks.workspaces import ROTATION_GRACE

EVENT_ID = uuid.UUID("6f1c2a4e-0d7b-4c55-9a35-1b2f0c3d4e5f")
OCCURRED_AT = datetime.datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=datetime.UTC)
RECEIVED_AT = datetime.datetime(2026, 5, 1, 12, 0, 1, 500000, tzinfo=datetime.UTC)
NOW = datetime.datetime(2026, 5, 2, 9, 0, tzinfo=datetime.UTC)


def watched_event(**values):
    """Return an unsaved video-watched event with fixed identities and times."""
    return EventFactory.build(
        **{
            "id": EVENT_ID,
            "workspace": WorkspaceFactory.build(slug="acme-video"),
            "type": EventType.VIDEO_WATCHED,
            "session_id": "session-1",
            "video_id": "video-9",
            "viewer_id": "viewer-3",
            "page_url": "https://www.example.com/demo",
            "occurred_at": OCCURRED_AT,
            "received_at": RECEIVED_AT,
            "data": {"percent": 92},
            **values,
        }
    )


def verify(*, secret, content, headers):
    """Verify as a receiver would, with the Standard Webhooks library."""
    return Webhook(secret).verify(content, headers, json_parse=False)


def test_envelope_carries_the_event_fields_then_the_players_data():
    envelope = build_envelope(event=watched_event())

    assert envelope == {
        "id": "6f1c2a4e-0d7b-4c55-9a35-1b2f0c3d4e5f",
        "type": "video-watched",
        "timestamp": "2026-05-01T12:00:00.123Z",
        "workspace": "acme-video",
        "data": {
            "session_id": "session-1",
            "video_id": "video-9",
            "viewer_id": "viewer-3",
            "page_url": "https://www.example.com/demo",
            "occurred_at": "2026-05-01T12:00:00.123Z",
            "received_at": "2026-05-01T12:00:01.500Z",
            "percent": 92,
        },
    }


def test_envelope_has_null_for_fields_the_player_did_not_send():
    event = watched_event(
        type=EventType.PLAYER_OPENED, video_id="", viewer_id="", page_url="", data={}
    )

    data = build_envelope(event=event)["data"]

    assert data == {
        "session_id": "session-1",
        "video_id": None,
        "viewer_id": None,
        "page_url": None,
        "occurred_at": "2026-05-01T12:00:00.123Z",
        "received_at": "2026-05-01T12:00:01.500Z",
    }


def test_event_fields_win_over_player_data_of_the_same_name():
    event = watched_event(data={"session_id": "forged", "cta_id": "buy"})

    data = build_envelope(event=event)["data"]

    assert data["session_id"] == "session-1"
    assert data["cta_id"] == "buy"


def test_timestamps_are_utc_with_milliseconds_and_z():
    paris = datetime.timezone(datetime.timedelta(hours=2))
    moment = datetime.datetime(2026, 5, 1, 14, 0, 0, 999999, tzinfo=paris)

    assert format_timestamp(moment=moment) == "2026-05-01T12:00:00.999Z"


def test_body_is_compact_utf8_json_in_a_fixed_order():
    event = watched_event(data={"percent": 92, "label": "café"})

    body = encode_body(envelope=build_envelope(event=event))

    assert (
        body
        == (
            '{"id":"6f1c2a4e-0d7b-4c55-9a35-1b2f0c3d4e5f","type":"video-watched",'
            '"timestamp":"2026-05-01T12:00:00.123Z","workspace":"acme-video",'
            '"data":{"session_id":"session-1","video_id":"video-9",'
            '"viewer_id":"viewer-3","page_url":"https://www.example.com/demo",'
            '"occurred_at":"2026-05-01T12:00:00.123Z",'
            '"received_at":"2026-05-01T12:00:01.500Z","label":"café","percent":92}}'
        ).encode()
    )


def test_body_does_not_depend_on_the_order_of_the_players_keys():
    first = watched_event(data={"b": 1, "a": {"y": 2, "x": [3, {"d": 4, "c": 5}]}})
    second = watched_event(data={"a": {"x": [3, {"c": 5, "d": 4}], "y": 2}, "b": 1})

    body = encode_body(envelope=build_envelope(event=first))

    assert body == encode_body(envelope=build_envelope(event=second))
    assert b'"a":{"x":[3,{"c":5,"d":4}],"y":2},"b":1' in body


def test_body_turns_numbers_json_cannot_hold_into_null():
    event = watched_event(data={"percent": float("inf")})

    body = encode_body(envelope=build_envelope(event=event))

    assert json.loads(body)["data"]["percent"] is None


def test_query_flattens_data_by_the_documented_rule():
    event = watched_event(
        video_id="",
        data={
            "percent": 92.5,
            "player": {"width": 640, "muted": False, "chapter": None},
            "tags": ["a", "b"],
            "autoplay": True,
            "empty": [],
        },
    )

    query = encode_query(envelope=build_envelope(event=event))

    assert query == (
        "id=6f1c2a4e-0d7b-4c55-9a35-1b2f0c3d4e5f&type=video-watched"
        "&timestamp=2026-05-01T12%3A00%3A00.123Z&workspace=acme-video"
        "&data.session_id=session-1&data.video_id=&data.viewer_id=viewer-3"
        "&data.page_url=https%3A%2F%2Fwww.example.com%2Fdemo"
        "&data.occurred_at=2026-05-01T12%3A00%3A00.123Z"
        "&data.received_at=2026-05-01T12%3A00%3A01.500Z"
        "&data.autoplay=true&data.empty=&data.percent=92.5"
        "&data.player.chapter=&data.player.muted=false&data.player.width=640"
        "&data.tags.0=a&data.tags.1=b"
    )


def test_query_percent_encodes_unicode_and_special_characters():
    event = watched_event(data={"label": "café & tea = 100%+ #1 ?/", "naïve": "日本"})

    query = encode_query(envelope=build_envelope(event=event))

    assert "&data.label=caf%C3%A9%20%26%20tea%20%3D%20100%25%2B%20%231%20%3F%2F" in (
        query
    )
    assert query.endswith("&data.na%C3%AFve=%E6%97%A5%E6%9C%AC")
    assert dict(parse_qsl(query))["data.label"] == "café & tea = 100%+ #1 ?/"


def test_query_reads_back_to_the_same_text_values():
    event = watched_event(
        data={"cta_url": "https://shop.example.com/buy?x=1&y=2", "percent": 92}
    )

    query = encode_query(envelope=build_envelope(event=event))

    assert dict(parse_qsl(query, keep_blank_values=True)) == {
        "id": str(EVENT_ID),
        "type": "video-watched",
        "timestamp": "2026-05-01T12:00:00.123Z",
        "workspace": "acme-video",
        "data.session_id": "session-1",
        "data.video_id": "video-9",
        "data.viewer_id": "viewer-3",
        "data.page_url": "https://www.example.com/demo",
        "data.occurred_at": "2026-05-01T12:00:00.123Z",
        "data.received_at": "2026-05-01T12:00:01.500Z",
        "data.cta_url": "https://shop.example.com/buy?x=1&y=2",
        "data.percent": "92",
    }


def test_query_is_the_same_for_the_same_event():
    first = watched_event(data={"b": [1, 2], "a": {"z": 1, "y": 2}})
    second = watched_event(data={"a": {"y": 2, "z": 1}, "b": [1, 2]})

    query = encode_query(envelope=build_envelope(event=first))

    assert query == encode_query(envelope=build_envelope(event=second))


def test_query_follows_a_query_the_endpoint_url_already_has():
    url, sent = append_query(
        url="https://hooks.example.com/seen?team=growth#top", query="id=1&type=x"
    )

    assert url == "https://hooks.example.com/seen?team=growth&id=1&type=x"
    assert sent == "team=growth&id=1&type=x"


def test_query_is_the_whole_query_of_an_endpoint_without_one():
    url, sent = append_query(url="https://hooks.example.com/seen", query="id=1")

    assert url == "https://hooks.example.com/seen?id=1"
    assert sent == "id=1"


def test_signature_matches_the_standard_webhooks_reference_vector():
    signature = sign(
        msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=1614265330,
        content='{"test": 2432232314}',
        secrets=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )

    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_post_body_verifies_with_the_standard_webhooks_library():
    secret = generate_signing_secret()
    body = encode_body(envelope=build_envelope(event=watched_event()))
    headers = signature_headers(
        msg_id=str(EVENT_ID), timestamp=int(time.time()), content=body, secrets=[secret]
    )

    payload = Webhook(secret).verify(body, headers)

    assert payload["id"] == str(EVENT_ID)
    assert payload["data"]["percent"] == 92
    assert headers["webhook-id"] == str(EVENT_ID)


def test_get_query_string_verifies_with_the_standard_webhooks_library():
    secret = generate_signing_secret()
    event = watched_event(data={"label": "café & tea", "tags": ["x", "y"]})
    url, sent = append_query(
        url="https://hooks.example.com/seen?team=growth",
        query=encode_query(envelope=build_envelope(event=event)),
    )
    headers = signature_headers(
        msg_id=str(EVENT_ID), timestamp=int(time.time()), content=sent, secrets=[secret]
    )

    # The receiver verifies the raw query string of the URL it was called at.
    verify(secret=secret, content=urlsplit(url).query, headers=headers)


def test_a_different_secret_does_not_verify():
    body = encode_body(envelope=build_envelope(event=watched_event()))
    headers = signature_headers(
        msg_id=str(EVENT_ID),
        timestamp=int(time.time()),
        content=body,
        secrets=[generate_signing_secret()],
    )

    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verify(secret=generate_signing_secret(), content=body, headers=headers)


def test_a_changed_body_does_not_verify():
    secret = generate_signing_secret()
    body = encode_body(envelope=build_envelope(event=watched_event()))
    headers = signature_headers(
        msg_id=str(EVENT_ID), timestamp=int(time.time()), content=body, secrets=[secret]
    )

    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verify(secret=secret, content=body.replace(b"92", b"93"), headers=headers)


def test_during_rotation_grace_each_secret_alone_verifies():
    old, new = generate_signing_secret(), generate_signing_secret()
    config = WebhookConfig(
        signing_secret=new,
        previous_signing_secret=old,
        signing_secret_rotated_at=NOW - ROTATION_GRACE + datetime.timedelta(minutes=1),
    )
    body = encode_body(envelope=build_envelope(event=watched_event()))
    secrets = signing_secrets(config=config, now=NOW)

    headers = signature_headers(
        msg_id=str(EVENT_ID), timestamp=int(time.time()), content=body, secrets=secrets
    )

    assert secrets == [new, old]
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(secret=new, content=body, headers=headers)
    verify(secret=old, content=body, headers=headers)


def test_after_rotation_grace_only_the_current_secret_signs():
    config = WebhookConfig(
        signing_secret="whsec_bmV3",
        previous_signing_secret="whsec_b2xk",
        signing_secret_rotated_at=NOW - ROTATION_GRACE,
    )

    assert signing_secrets(config=config, now=NOW) == ["whsec_bmV3"]


def test_a_never_rotated_secret_signs_alone():
    config = WebhookConfig(signing_secret="whsec_bmV3")

    assert signing_secrets(config=config, now=NOW) == ["whsec_bmV3"]


def test_signing_without_a_secret_is_refused():
    with pytest.raises(ValueError, match="at least one secret"):
        sign(msg_id="msg", timestamp=1, content=b"{}", secrets=[])
