"""Deciding what one attempt sends: method, URL, headers, body and signature.

Nothing here touches the network except an OAuth token request, which goes
through the same guarded session as the delivery itself. The request is built
from the configuration as it is when the attempt starts, so a change the
admin saved after the event arrived applies to the next attempt.
"""

import dataclasses
import datetime
import json
import time
from urllib.parse import urlencode, urlsplit, urlunsplit

from webhooks.credentials import (
    FormResponse,
    auth_headers,
    redact_headers,
    redacted_header_names,
)
from webhooks.models import AuthKind, Event, HttpMethod, WebhookConfig
from webhooks.outbound import OutboundFailure, send_request
from webhooks.signing import (
    append_query,
    build_envelope,
    encode_body,
    encode_query,
    signature_headers,
    signing_secrets,
)


@dataclasses.dataclass(frozen=True)
class PreparedRequest:
    """One request ready to send, and its redacted copy for the audit row.

    ``error`` is set, and nothing is to be sent, when the request could not be
    completed (an OAuth token could not be had).
    """

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    audit_headers: dict[str, str]
    error: str = ""

    @property
    def body_text(self) -> str:
        return self.body.decode() if self.body else ""


def prepare_request(
    *,
    event: Event,
    config: WebhookConfig,
    now: datetime.datetime,
    ends_at: float,
) -> PreparedRequest:
    """Build the signed, authenticated request for ``event``.

    ``ends_at`` (a time.monotonic() reading) bounds any OAuth token request.
    The signature covers the body, or for GET the query string exactly as it
    is sent. Credentials, the signature and configured header values are
    redacted in ``audit_headers``.
    """
    # The body, or for GET the query string, carries the envelope.
    envelope = build_envelope(event=event)
    if config.http_method == HttpMethod.GET:
        url, signed_content = append_query(
            url=config.endpoint_url, query=encode_query(envelope=envelope)
        )
        body = None
    else:
        url = config.endpoint_url
        body = encode_body(envelope=envelope)
        signed_content = body

    # Configured headers first; authentication and signature are ours and
    # win over a configured header of the same name.
    headers = {header.name: header.value for header in config.headers.all()}
    authentication = auth_headers(
        auth=config.auth, post_form=guarded_form_sender(ends_at=ends_at), now=now
    )
    _set_headers(headers, authentication.headers)
    _set_headers(
        headers,
        signature_headers(
            msg_id=str(event.id),
            timestamp=int(now.timestamp()),
            content=signed_content,
            secrets=signing_secrets(config=config, now=now),
        ),
    )
    return PreparedRequest(
        method=config.http_method,
        url=url,
        headers=headers,
        body=body,
        audit_headers=redact_headers(
            headers=headers, names=redacted_header_names(config=config)
        ),
        error=authentication.error,
    )


def uses_oauth(config: WebhookConfig) -> bool:
    return config.auth.kind == AuthKind.OAUTH2


def guarded_form_sender(*, ends_at: float):
    """Return a form poster for OAuth token requests, bounded by ``ends_at``."""

    def post_form(*, url: str, data: dict[str, str], headers: dict[str, str]):
        result = send_request(
            method="POST",
            url=url,
            headers={
                **headers,
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            body=urlencode(data).encode(),
            deadline=remaining(ends_at=ends_at),
        )
        if isinstance(result, OutboundFailure):
            return FormResponse(status=None, body=None, error=result.message)
        try:
            parsed = json.loads(result.body) if not result.truncated else None
        except ValueError:
            parsed = None
        return FormResponse(status=result.status, body=parsed)

    return post_form


def audit_url(url: str) -> str:
    """Return ``url`` as the audit trail keeps it: without any userinfo."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def remaining(*, ends_at: float) -> float:
    """Return the seconds left before ``ends_at``, never below a tenth."""
    return max(ends_at - time.monotonic(), 0.1)


def _set_headers(headers: dict[str, str], extra: dict[str, str]) -> None:
    # Header names are case-insensitive: a configured "authorization" row must
    # not travel next to the Authorization the auth settings produce.
    for name, value in extra.items():
        for existing in [key for key in headers if key.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value
