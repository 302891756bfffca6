import datetime

import pytest
from rest_framework.exceptions import ValidationError

from tests.factories import EventPayloadFactory
from webhooks.api.serializers import validate_events

RECEIVED_AT = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
FUTURE = "More than 5 minutes in the future: check the device's clock."
TOO_OLD = "More than 7 days old: events are accepted for 7 days."


def at(delta: datetime.timedelta) -> str:
    return (RECEIVED_AT + delta).isoformat()


@pytest.mark.parametrize(
    "delta",
    [
        datetime.timedelta(minutes=5),
        datetime.timedelta(0),
        -datetime.timedelta(days=7),
    ],
)
def test_occurred_at_is_accepted_from_7_days_before_to_5_minutes_after(delta):
    events = validate_events(
        payload=EventPayloadFactory(occurred_at=at(delta)), received_at=RECEIVED_AT
    )

    assert events[0]["occurred_at"] == RECEIVED_AT + delta


@pytest.mark.parametrize(
    ("delta", "message"),
    [
        (datetime.timedelta(minutes=5, seconds=1), FUTURE),
        (-datetime.timedelta(days=7, seconds=1), TOO_OLD),
    ],
)
def test_occurred_at_outside_the_window_is_refused(delta, message):
    with pytest.raises(ValidationError) as refused:
        validate_events(
            payload=EventPayloadFactory(occurred_at=at(delta)),
            received_at=RECEIVED_AT,
        )

    assert refused.value.detail == {"occurred_at": [message]}


def test_each_event_of_a_batch_is_judged_against_the_same_moment():
    events = [
        EventPayloadFactory(occurred_at=at(datetime.timedelta(minutes=1))),
        EventPayloadFactory(occurred_at=at(datetime.timedelta(minutes=6))),
    ]

    with pytest.raises(ValidationError) as refused:
        validate_events(payload={"events": events}, received_at=RECEIVED_AT)

    assert refused.value.detail == {"events": {"1": {"occurred_at": [FUTURE]}}}


def test_an_absent_occurred_at_is_left_to_the_time_received():
    events = validate_events(payload=EventPayloadFactory(), received_at=RECEIVED_AT)

    assert "occurred_at" not in events[0]


def test_optional_fields_may_be_null():
    payload = EventPayloadFactory(
        id=None,
        video_id=None,
        viewer_id=None,
        occurred_at=None,
        page_url=None,
        data=None,
    )

    events = validate_events(payload=payload, received_at=RECEIVED_AT)

    assert events[0]["id"] is None
    assert events[0]["data"] is None
