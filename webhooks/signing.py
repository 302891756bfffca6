"""What a receiver gets for one event, and the signature that proves who sent it.

The envelope
    Every request carries the same five fields::

        {"id": "<event id>", "type": "video-watched",
         "timestamp": "2026-05-01T12:00:00.000Z", "workspace": "<slug>",
         "data": {...}}

    ``timestamp`` is when the event occurred. ``data`` always starts with
    ``session_id``, ``video_id``, ``viewer_id``, ``page_url``, ``occurred_at``
    and ``received_at``, in that order (``video_id``, ``viewer_id`` and
    ``page_url`` are null when the player did not send them), followed by
    the type-specific fields the player sent, such as ``percent`` or
    ``cta_id``, sorted by key. Should a player's field share a name with one
    of those six, the event's own field wins. Times are UTC, ISO 8601 with
    milliseconds and a ``Z``. Numbers JSON cannot express (infinities)
    become null.

The body (POST, PUT, PATCH)
    Compact UTF-8 JSON: no spaces, non-ASCII characters as they are, the five
    fields in the order above, the six event fields first in ``data``, and
    every other object key sorted, so the same event always encodes to the
    same bytes.

The query string (GET)
    The same fields as query parameters, in the same order as the body. The
    rule for ``data``:

    - each field is a parameter named ``data.<key>``: ``data.percent=92``;
    - a nested object adds its keys: ``data.player.width=640``;
    - a list adds 0-based positions: ``data.tags.0=a&data.tags.1=b``;
    - true and false are written ``true`` and ``false``, null as an empty
      value (``data.viewer_id=``), numbers as in JSON;
    - an empty object or list is one parameter with an empty value;
    - names and values are UTF-8, percent-encoded except for letters, digits
      and ``-._~``: a space is ``%20`` and ``+`` is ``%2B``, so decoders of
      either URL or form encoding read the same text.

    A dot inside a player's own key (``{"a.b": 1}``) reads like nesting
    (``data.a.b=1``); receivers that need to tell them apart use POST.

Signatures (Standard Webhooks)
    ``webhook-signature`` is ``v1,<base64 HMAC-SHA256>`` over
    ``<webhook-id>.<webhook-timestamp>.<content>``, where the content is the
    body, or for GET the query string exactly as sent. While a rotated
    signing secret is in its grace period, the header carries one signature
    per secret, separated by a space, the current secret's first, so a
    receiver holding either one verifies the request.
"""

import base64
import datetime
import hashlib
import hmac
import json
import math
from urllib.parse import quote, urlsplit, urlunsplit

from django.utils import timezone

from webhooks.models import SIGNING_SECRET_PREFIX, Event, WebhookConfig
from webhooks.workspaces import ROTATION_GRACE

ENVELOPE_FIELDS = ("id", "type", "timestamp", "workspace", "data")
EVENT_FIELDS = (
    "session_id",
    "video_id",
    "viewer_id",
    "page_url",
    "occurred_at",
    "received_at",
)
SIGNATURE_VERSION = "v1"


def build_envelope(*, event: Event) -> dict:
    """Return the envelope a receiver gets for ``event``, as described above."""
    fields = {
        "session_id": event.session_id,
        "video_id": event.video_id or None,
        "viewer_id": event.viewer_id or None,
        "page_url": event.page_url or None,
        "occurred_at": format_timestamp(moment=event.occurred_at),
        "received_at": format_timestamp(moment=event.received_at),
    }
    # The player writes ``data`` freely; it must not pass for the fields the
    # product vouches for, such as the session a receiver counts by.
    extra = {
        key: value for key, value in (event.data or {}).items() if key not in fields
    }
    return {
        "id": str(event.id),
        "type": event.type,
        "timestamp": format_timestamp(moment=event.occurred_at),
        "workspace": event.workspace.slug,
        "data": {**fields, **_canonical(extra)},
    }


def format_timestamp(*, moment: datetime.datetime) -> str:
    """Return ``moment`` in UTC as ISO 8601 with milliseconds and a ``Z``."""
    utc = moment.astimezone(datetime.UTC)
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def encode_body(*, envelope: dict) -> bytes:
    """Return the request body for POST, PUT and PATCH: compact UTF-8 JSON."""
    return json.dumps(
        _ordered(envelope), ensure_ascii=False, separators=(",", ":")
    ).encode()


def encode_query(*, envelope: dict) -> str:
    """Return the query string for GET, without the leading ``?``.

    The string is what gets sent and what gets signed: encode it once and use
    the same text for both.
    """
    envelope = _ordered(envelope)
    pairs = [(name, envelope[name]) for name in ENVELOPE_FIELDS[:-1]]
    pairs.extend(_flatten("data", envelope["data"]))
    return "&".join(
        f"{quote(name, safe='')}={quote(_query_text(value), safe='')}"
        for name, value in pairs
    )


def append_query(*, url: str, query: str) -> tuple[str, str]:
    """Return ``url`` with ``query`` added, and the query string as sent.

    A query the endpoint URL already has is kept, and ours follows it after
    ``&``; the second value is then the whole query string, the content to
    sign, since a receiver verifies what it received. A fragment is dropped:
    it is never sent.
    """
    parts = urlsplit(url)
    sent = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit(parts._replace(query=sent, fragment="")), sent


def sign(
    *, msg_id: str, timestamp: int, content: bytes | str, secrets: list[str]
) -> str:
    """Return the ``webhook-signature`` header value, one signature per secret.

    ``secrets`` are ``whsec_`` + base64 of the key, current first. Raises
    ValueError when there is none.
    """
    if not secrets:
        raise ValueError("Signing needs at least one secret.")
    if isinstance(content, str):
        content = content.encode()
    signed = f"{msg_id}.{timestamp}.".encode() + content
    return " ".join(_signature(secret=secret, signed=signed) for secret in secrets)


def signing_secrets(
    *, config: WebhookConfig, now: datetime.datetime | None = None
) -> list[str]:
    """Return the secrets that sign a request now: the current one first.

    The previous secret follows while it is within ROTATION_GRACE of the
    rotation, so receivers still holding it keep verifying requests.
    """
    now = now or timezone.now()
    secrets = [config.signing_secret]
    rotated_at = config.signing_secret_rotated_at
    if (
        config.previous_signing_secret
        and rotated_at is not None
        and now - rotated_at < ROTATION_GRACE
    ):
        secrets.append(config.previous_signing_secret)
    return secrets


def signature_headers(
    *, msg_id: str, timestamp: int, content: bytes | str, secrets: list[str]
) -> dict[str, str]:
    """Return the three Standard Webhooks headers for one request."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(
            msg_id=msg_id, timestamp=timestamp, content=content, secrets=secrets
        ),
    }


def _signature(*, secret: str, signed: bytes) -> str:
    encoded = secret.removeprefix(SIGNING_SECRET_PREFIX)
    # Standard Webhooks libraries accept secrets without base64 padding.
    key = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def _ordered(envelope: dict) -> dict:
    # The event's own fields lead, in their documented order; every other
    # key is sorted, so the bytes never depend on how the player or the
    # database ordered them.
    data = envelope["data"]
    leading = {key: data[key] for key in EVENT_FIELDS if key in data}
    rest = _canonical({key: data[key] for key in data if key not in leading})
    return {
        **{name: envelope[name] for name in ENVELOPE_FIELDS[:-1]},
        "data": {**leading, **rest},
    }


def _canonical(value):
    if isinstance(value, dict):
        return {str(key): _canonical(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _flatten(prefix: str, value):
    if isinstance(value, dict | list) and not value:
        yield prefix, None
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(f"{prefix}.{key}", item)
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _flatten(f"{prefix}.{position}", item)
    else:
        yield prefix, value


def _query_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return str(value)
