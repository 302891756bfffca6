"""What a player may send to the event endpoint, and what it is answered.

A body is one event object or ``{"events": [...]}``. Validation is all or
nothing: every problem of every event is listed, by field and, in a batch, by
the event's index, and a request with any problem stores nothing.
"""

import datetime
import json

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.fields import ISO_8601
from rest_framework.settings import api_settings

from webhooks.ingest import EventOutcome, IngestResult
from webhooks.models import EventType

MAX_EVENTS = 100
MAX_ID_LENGTH = 128
MAX_URL_LENGTH = 2048
MAX_DATA_BYTES = 4096
MAX_DATA_DEPTH = 8
MAX_FUTURE = datetime.timedelta(minutes=5)
MAX_AGE = datetime.timedelta(days=7)
WATCHED_PERCENT = 80
VIDEO_TYPES = frozenset({EventType.VIDEO_PLAYED, EventType.VIDEO_WATCHED})

UNKNOWN_FIELD = _("Unknown field.")
NOT_AN_OBJECT = _('Send one event object, or {"events": [...]} with 1 to 100 events.')
NOT_AN_EVENT = _("Send an event object.")

validate_http_url = URLValidator(
    schemes=["http", "https"], message=_("Enter a valid http:// or https:// URL.")
)


class ClosedSerializerMixin:
    """Refuse fields the serializer does not declare, instead of dropping them.

    A misspelt field silently dropped would be data the player believes it
    sent. Unknown fields are listed together with every other problem.
    """

    not_an_object = NOT_AN_OBJECT

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: [self.not_an_object]}
            )
        errors = {name: [UNKNOWN_FIELD] for name in data if name not in self.fields}
        try:
            values = super().to_internal_value(data)
        except ValidationError as error:
            raise ValidationError({**errors, **error.detail}) from None
        errors.update(self.cross_field_errors(values))
        if errors:
            raise ValidationError(errors)
        return values

    def cross_field_errors(self, values: dict) -> dict:
        """Return problems that only show once every field is valid."""
        return {}


class UUIDTextField(serializers.UUIDField):
    """A UUID written as text; DRF would also take a number as one."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.URI)
class HttpUrlField(serializers.CharField):
    """An http(s) URL: other schemes, such as javascript:, are refused."""

    def __init__(self, **kwargs):
        super().__init__(max_length=MAX_URL_LENGTH, **kwargs)
        self.validators.append(validate_http_url)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time that names its timezone."""

    default_error_messages = {
        "naive": _("Include a timezone, as in 2026-05-01T12:00:00Z."),
    }

    def __init__(self, **kwargs):
        super().__init__(input_formats=[ISO_8601], **kwargs)

    def to_internal_value(self, value):
        # Without a timezone, the time would be read as the server's own.
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)


EVENT_DATA_SCHEMA = {
    "type": "object",
    "description": (
        "Type-specific details, at most 4096 bytes as JSON. Known fields are "
        "checked when present; others are passed on as they are."
    ),
    "properties": {
        "percent": {"type": "number", "minimum": 0, "maximum": 100},
        "cta_id": {"type": "string", "maxLength": MAX_ID_LENGTH},
        "cta_url": {"type": "string", "format": "uri", "maxLength": MAX_URL_LENGTH},
        "share_target": {"type": "string", "maxLength": MAX_ID_LENGTH},
    },
    "additionalProperties": True,
}


@extend_schema_field(EVENT_DATA_SCHEMA)
class EventDataField(serializers.Field):
    """A small JSON object of type-specific details."""

    default_error_messages = {
        "not_an_object": _("Send an object."),
        "too_large": _("Too large: at most 4096 bytes as JSON."),
        "too_deep": _("Nested too deeply: at most 8 levels."),
        "bad_text": _("Text cannot contain NUL or unpaired surrogate characters."),
    }

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_an_object")
        # Checked before encoding: the database refuses such text, and depth
        # bounds the work of every later step.
        problem = find_unstorable_json(data)
        if problem:
            self.fail(problem)
        encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if len(encoded.encode()) > MAX_DATA_BYTES:
            self.fail("too_large")
        errors = known_data_errors(data)
        if errors:
            raise ValidationError(errors)
        return data

    def to_representation(self, value):
        return value


def find_unstorable_json(value) -> str:
    """Return "too_deep" or "bad_text" when a JSON value cannot be kept, else ""."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DATA_DEPTH:
            return "too_deep"
        if isinstance(item, dict):
            pending.extend((key, depth) for key in item)
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and not is_storable_text(item):
            return "bad_text"
    return ""


def is_storable_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def known_data_errors(data: dict) -> dict:
    """Check the type-specific fields that are present, by name."""
    errors = {}
    percent = data.get("percent")
    if "percent" in data and (
        isinstance(percent, bool)
        or not isinstance(percent, int | float)
        or not 0 <= percent <= 100
    ):
        errors["percent"] = [_("Send a number from 0 to 100.")]
    for name in ("cta_id", "share_target"):
        value = data.get(name)
        if name in data and (
            not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH
        ):
            errors[name] = [_("Send text of 1 to 128 characters.")]
    if "cta_url" in data and not is_http_url(data["cta_url"]):
        errors["cta_url"] = [_("Enter a valid http:// or https:// URL.")]
    return errors


def is_http_url(value) -> bool:
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH:
        return False
    try:
        validate_http_url(value)
    except DjangoValidationError:
        return False
    return True


class EventListSerializer(serializers.ListSerializer):
    """A batch's events, with each invalid one's problems under its index."""

    default_error_messages = {
        "count": _("Send from 1 to 100 events."),
        "not_a_list": _("Send a list of events."),
    }

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list")
        if not self.min_length <= len(data) <= self.max_length:
            self.fail("count")
        values = []
        errors = {}
        for index, item in enumerate(data):
            try:
                values.append(self.child.run_validation(item))
            except ValidationError as error:
                errors[str(index)] = error.detail
        if errors:
            raise ValidationError(errors)
        return values


class EventSerializer(ClosedSerializerMixin, serializers.Serializer):
    """One viewer event. Fields not listed here are refused."""

    not_an_object = NOT_AN_EVENT

    id = UUIDTextField(
        required=False,
        allow_null=True,
        help_text=_(
            "The player's own id for the event. Sending it makes retries "
            "safe: an id seen before is answered as a duplicate."
        ),
    )
    type = serializers.ChoiceField(choices=EventType.choices)
    session_id = serializers.CharField(
        max_length=MAX_ID_LENGTH,
        help_text=_("Names one load of the player; made up by the player."),
    )
    video_id = serializers.CharField(
        max_length=MAX_ID_LENGTH,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text=_("Required for video-played and video-watched."),
    )
    viewer_id = serializers.CharField(
        max_length=MAX_ID_LENGTH, required=False, allow_null=True, allow_blank=True
    )
    occurred_at = AwareDateTimeField(
        required=False,
        allow_null=True,
        help_text=_(
            "When it happened, with a timezone. Defaults to the time received; "
            "at most 5 minutes ahead of it and 7 days behind it."
        ),
    )
    page_url = HttpUrlField(required=False, allow_null=True, allow_blank=True)
    data = EventDataField(required=False, allow_null=True)

    def validate_occurred_at(self, value):
        if value is None:
            return value
        received_at = self.context["received_at"]
        if value > received_at + MAX_FUTURE:
            raise ValidationError(
                _("More than 5 minutes in the future: check the device's clock.")
            )
        if value < received_at - MAX_AGE:
            raise ValidationError(
                _("More than 7 days old: events are accepted for 7 days.")
            )
        return value

    def cross_field_errors(self, values):
        errors = {}
        if values["type"] in VIDEO_TYPES and not values.get("video_id"):
            errors["video_id"] = [
                _("Required for %(type)s.") % {"type": values["type"]}
            ]
        percent = (values.get("data") or {}).get("percent")
        if (
            values["type"] == EventType.VIDEO_WATCHED
            and percent is not None
            and percent < WATCHED_PERCENT
        ):
            message = _(
                "video-watched means at least 80 %% of the video was watched; "
                "this says %(percent)s."
            )
            errors["data"] = {"percent": [message % {"percent": percent}]}
        return errors

    class Meta:
        list_serializer_class = EventListSerializer


class EventBatchSerializer(ClosedSerializerMixin, serializers.Serializer):
    """Up to 100 events, accepted or refused together."""

    events = EventSerializer(many=True, min_length=1, max_length=MAX_EVENTS)


def validate_events(*, payload, received_at: datetime.datetime) -> list[dict]:
    """Return a request's events, validated, or raise every problem at once.

    A body with an "events" key is a batch; any other object is one event.
    """
    context = {"received_at": received_at}
    if isinstance(payload, dict) and "events" in payload:
        serializer = EventBatchSerializer(data=payload, context=context)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data["events"]
    if not isinstance(payload, dict):
        raise ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [NOT_AN_OBJECT]})
    serializer = EventSerializer(data=payload, context=context)
    serializer.is_valid(raise_exception=True)
    return [serializer.validated_data]


class AcceptedEventSerializer(serializers.Serializer):
    index = serializers.IntegerField(
        help_text=_("Position of the event in the request; 0 for a single event.")
    )
    id = serializers.UUIDField(
        allow_null=True, help_text=_("The id the player sent, if any.")
    )
    event_id = serializers.UUIDField(
        help_text=_(
            "The stored event's id (for a duplicate, the event stored first): "
            "the webhook-id its delivery carries."
        )
    )


class IgnoredEventSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    id = serializers.UUIDField(allow_null=True)
    reason = serializers.CharField(help_text=_("The occurrence rule it broke."))


# render_answer() builds this answer: the serializer is its documentation,
# without DRF's cost of copying every field on each request.
class IngestAnswerSerializer(serializers.Serializer):
    """What became of each event of the request, listed by index."""

    accepted = AcceptedEventSerializer(many=True)
    duplicates = AcceptedEventSerializer(many=True)
    ignored = IgnoredEventSerializer(many=True)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


def render_answer(result: IngestResult) -> dict:
    """Return the 202 answer's body, shaped as IngestAnswerSerializer."""
    return {
        "accepted": [_stored(outcome) for outcome in result.accepted],
        "duplicates": [_stored(outcome) for outcome in result.duplicates],
        "ignored": [
            {
                "index": outcome.index,
                "id": _text(outcome.client_id),
                "reason": outcome.reason,
            }
            for outcome in result.ignored
        ],
    }


def _stored(outcome: EventOutcome) -> dict:
    return {
        "index": outcome.index,
        "id": _text(outcome.client_id),
        "event_id": _text(outcome.event_id),
    }


def _text(value) -> str | None:
    return None if value is None else str(value)
