"""Reading a player-event body: JSON, as application/json or text/plain.

Bodies are capped at MAX_BODY_BYTES. The declared length is checked before
anything is read, and the parsers never read past the cap, so no client can
make the server hold more than that in memory.
"""

import json

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser

MAX_BODY_BYTES = 64 * 1024


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("Request body too large: send at most 65536 bytes.")
    default_code = "payload_too_large"


class LengthRequired(APIException):
    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_detail = _("Send the body with a Content-Length header.")
    default_code = "length_required"


def check_declared_length(request) -> None:
    """Refuse a body declared too long, or sent without a declared length.

    Django's WSGI request reads no more than Content-Length, and nothing at
    all without it: a chunked body would silently look empty, so it is
    refused outright instead of being judged as a body with no events.
    """
    declared = request.META.get("CONTENT_LENGTH")
    if not declared:
        if request.headers.get("Transfer-Encoding"):
            raise LengthRequired()
        return
    try:
        length = int(declared)
    except ValueError:
        raise ParseError(_("Content-Length is not a number.")) from None
    if length > MAX_BODY_BYTES:
        raise PayloadTooLarge()


def read_body(stream) -> bytes:
    """Read the whole body, refusing it as soon as it passes the cap."""
    chunks = []
    size = 0
    while size <= MAX_BODY_BYTES:
        chunk = stream.read(MAX_BODY_BYTES + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    return b"".join(chunks)


def load_json(body: bytes):
    """Decode a UTF-8 JSON document, refusing NaN and Infinity."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise ParseError(_("Malformed JSON: the body is not UTF-8.")) from None
    except RecursionError:
        raise ParseError(_("Malformed JSON: nested too deeply.")) from None
    except ValueError as error:
        raise ParseError(
            _("Malformed JSON: %(error)s.") % {"error": str(error).rstrip(".")}
        ) from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class EventJSONParser(BaseParser):
    """JSON bodies, read from the raw stream up to the cap."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        return load_json(read_body(stream))


class EventTextParser(EventJSONParser):
    """JSON sent as text/plain: what sendBeacon and CORS-simple requests send.

    A text/plain body needs no preflight, so browsers on any page can post it
    in one request.
    """

    media_type = "text/plain"
