"""Sending one request and reporting what happened, as a value.

send_request() is the only way this product makes an HTTP request. It checks
the URL, sends through the session of ``webhooks.outbound.session``, reads
at most WEBHOOK_RESPONSE_BODY_LIMIT bytes of the answer, and returns an
OutboundResponse or an OutboundFailure: transport failures are never raised.
"""

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from django.conf import settings

from webhooks.destinations import (
    DestinationError,
    ResolutionTimeoutError,
    Resolver,
    UnresolvableHostError,
    check_destination_url,
    parse_destination,
)
from webhooks.outbound.session import USER_AGENT, get_session, request_scope

logger = logging.getLogger(__name__)

READ_CHUNK_SIZE = 8192


class FailureKind(StrEnum):
    """Why no complete response came back.

    Values match AttemptOutcome's where the attempt outcome is the same.
    """

    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    TLS_ERROR = "tls_error"
    BLOCKED = "blocked"
    INVALID_REQUEST = "invalid_request"


@dataclass(frozen=True)
class OutboundResponse:
    """A response that came back, whatever its status.

    ``body`` holds at most WEBHOOK_RESPONSE_BODY_LIMIT bytes, as received
    (no content decoding); ``truncated`` tells whether more was sent.
    ``headers`` merges repeated headers with ", ".
    """

    status: int
    headers: dict[str, str]
    body: bytes
    truncated: bool
    elapsed_ms: int

    @property
    def location(self) -> str | None:
        """Return the Location header, which a redirect carries."""
        for name, value in self.headers.items():
            if name.lower() == "location":
                return value
        return None

    @property
    def text(self) -> str:
        """Return the kept body as text, undecodable bytes replaced."""
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class OutboundFailure:
    """A request that got no complete response.

    ``message`` says what went wrong in a sentence fit for the audit trail.
    ``response`` holds what had arrived when a failure cut the body short:
    status, headers and the body read so far.
    """

    kind: FailureKind
    message: str
    elapsed_ms: int
    response: OutboundResponse | None = None


OutboundResult = OutboundResponse | OutboundFailure


def send_request(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    params: Mapping[str, str] | None = None,
    deadline: float | None = None,
    resolve: Resolver | None = None,
) -> OutboundResult:
    """Send one HTTP request through the guarded session; return the outcome.

    ``deadline`` is the seconds the whole request may take (default
    WEBHOOK_HTTP_DEADLINE). ``resolve`` replaces the system resolver, for
    tests. The User-Agent is always this product's. Transport failures are
    returned as OutboundFailure, never raised; a response of any status,
    3xx included, is an OutboundResponse.
    """
    started = time.monotonic()
    if deadline is None:
        deadline = settings.WEBHOOK_HTTP_DEADLINE
    if deadline <= 0:
        return _failure(
            FailureKind.TIMEOUT, "No time was left for the request.", started=started
        )
    ends_at = started + deadline
    proxy = settings.WEBHOOK_EGRESS_PROXY
    if proxy and urlsplit(proxy).scheme not in ("http", "https"):
        return _failure(
            FailureKind.INVALID_REQUEST,
            "WEBHOOK_EGRESS_PROXY must be an http:// or https:// URL.",
            started=started,
        )

    # Refuse a malformed URL before anything leaves. Through a proxy, the
    # host is also resolved and checked here, since the connection this
    # process opens is the proxy's.
    try:
        if proxy:
            check_destination_url(url=url, resolve=resolve, timeout=ends_at - started)
        else:
            parse_destination(url=url)
    except DestinationError as error:
        return _destination_failure(error, url=url, started=started)

    # Send, with the deadline and resolver visible to the connection code.
    request_headers = {
        name: value
        for name, value in (headers or {}).items()
        if name.lower() != "user-agent"
    }
    request_headers["User-Agent"] = USER_AGENT
    with request_scope(ends_at=ends_at, resolve=resolve):
        return _exchange(
            method=method,
            url=url,
            headers=request_headers,
            body=body,
            params=params,
            proxy=proxy,
            started=started,
            ends_at=ends_at,
        )


def _exchange(
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    params: Mapping[str, str] | None,
    proxy: str,
    started: float,
    ends_at: float,
) -> OutboundResult:
    """Send the request and read the capped body, turning errors into values."""
    remaining = max(ends_at - time.monotonic(), 0.001)
    connect_timeout = min(settings.WEBHOOK_CONNECT_TIMEOUT, remaining)
    try:
        response = get_session().request(
            method,
            url,
            params=params,
            data=body,
            headers=headers,
            # Redirects are refused: a receiver could otherwise send the
            # signed request on to an address the guard never saw.
            allow_redirects=False,
            stream=True,
            timeout=(connect_timeout, remaining),
            proxies={"http": proxy, "https": proxy} if proxy else {},
        )
    except DestinationError as error:
        return _destination_failure(error, url=url, started=started)
    except ValueError as error:
        # requests' own invalid-request errors are ValueErrors too, as are
        # http.client's refusals of a malformed method or path.
        kind = FailureKind.INVALID_REQUEST
        return _failure(kind, _describe(error, kind), started=started)
    except (requests.RequestException, OSError) as error:
        kind = _classify(error, ends_at)
        return _failure(kind, _describe(error, kind), started=started)

    with response:
        received = _read_capped_body(response, ends_at=ends_at)
    kept = OutboundResponse(
        status=response.status_code,
        headers=dict(response.headers),
        body=received.body,
        truncated=received.truncated,
        elapsed_ms=_elapsed_ms(started),
    )
    if received.error is not None:
        kind = _classify(received.error, ends_at)
        message = _describe(received.error, kind)
        return _failure(kind, message, started=started, response=kept)
    logger.debug(
        "outbound response url=%s status=%s elapsed_ms=%s",
        sanitize_url_for_log(url),
        kept.status,
        kept.elapsed_ms,
    )
    return kept


@dataclass(frozen=True)
class _ReceivedBody:
    body: bytes
    truncated: bool
    error: Exception | None


def _read_capped_body(response: requests.Response, *, ends_at: float) -> _ReceivedBody:
    """Read at most the body limit, stopping early on failure.

    Nothing past the limit is read: closing the response then closes the
    connection instead of draining it, so a huge or endless body costs no
    more than the limit in memory and no more time than the deadline.
    """
    limit = settings.WEBHOOK_RESPONSE_BODY_LIMIT
    chunks = []
    size = 0
    try:
        # One byte past the limit tells a body of exactly the limit from a
        # longer one.
        while size <= limit:
            if time.monotonic() >= ends_at:
                raise TimeoutError("The request deadline passed.")
            chunk = response.raw.read(
                min(READ_CHUNK_SIZE, limit + 1 - size), decode_content=False
            )
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (urllib3.exceptions.HTTPError, OSError) as error:
        return _ReceivedBody(b"".join(chunks)[:limit], False, error)
    body = b"".join(chunks)
    return _ReceivedBody(body[:limit], len(body) > limit, None)


def _classify(error: Exception, ends_at: float) -> FailureKind:
    """Return the failure kind of a transport error."""
    if isinstance(error, requests.exceptions.SSLError | urllib3.exceptions.SSLError):
        return FailureKind.TLS_ERROR
    # A deadline cut can surface as a reset or a short read; the clock tells.
    timed_out = isinstance(
        error,
        requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError,
    )
    if timed_out or time.monotonic() >= ends_at:
        return FailureKind.TIMEOUT
    return FailureKind.CONNECTION_ERROR


def _describe(error: Exception, kind: FailureKind) -> str:
    """Return what went wrong in a sentence for the audit trail."""
    if kind == FailureKind.TIMEOUT:
        if isinstance(error, requests.ConnectTimeout):
            return "Timed out while connecting."
        return "Timed out before the response was complete."
    cause = _root_cause(error)
    if isinstance(cause, OSError) and cause.strerror:
        return f"{cause.strerror}."
    return f"{type(cause).__name__}: {cause}"


def _root_cause(error: BaseException) -> BaseException:
    """Unwrap the layers requests and urllib3 put around a socket error."""
    seen = set()
    while id(error) not in seen:
        seen.add(id(error))
        inner = getattr(error, "reason", None) or error.__cause__
        if inner is None and error.args and isinstance(error.args[0], BaseException):
            inner = error.args[0]
        if not isinstance(inner, BaseException):
            break
        error = inner
    return error


def _destination_failure(
    error: DestinationError, *, url: str, started: float
) -> OutboundFailure:
    if isinstance(error, ResolutionTimeoutError):
        kind = FailureKind.TIMEOUT
    elif isinstance(error, UnresolvableHostError):
        kind = FailureKind.CONNECTION_ERROR
    else:
        kind = FailureKind.BLOCKED
        logger.info(
            "outbound request blocked url=%s reason=%s",
            sanitize_url_for_log(url),
            error.message,
        )
    return _failure(kind, error.message, started=started)


def _failure(
    kind: FailureKind,
    message: str,
    *,
    started: float,
    response: OutboundResponse | None = None,
) -> OutboundFailure:
    return OutboundFailure(
        kind=kind, message=message, elapsed_ms=_elapsed_ms(started), response=response
    )


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def sanitize_url_for_log(url: str) -> str:
    """Return a URL fit for a log line: no user name, password or query values.

    Query keys are kept so the line still says what was asked; the fragment
    is dropped.
    """
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<malformed URL>"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    query = "&".join(
        f"{field.split('=', 1)[0]}=***" if "=" in field else field
        for field in parts.query.split("&")
        if field
    )
    return urlunsplit((parts.scheme, host + port, parts.path, query, ""))
