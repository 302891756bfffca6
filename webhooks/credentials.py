"""The credentials an outgoing request carries, and which headers hide them.

Named for what it applies: the receiver's credentials. The API's own
``webhooks.api.authentication`` is the other direction, how a player proves
which workspace it posts for.

OAuth 2.0 client credentials (RFC 6749 §4.4): the token is requested from the
token URL with the client id and secret in HTTP Basic, the method every
authorization server must support (§2.3.1). A server that answers 400 or 401
to that is asked once more with the id and secret in the form body instead,
the other method the RFC names; they are never sent both ways at once, which
strict servers refuse. The token is kept in Django's cache, encrypted, until
shortly before it expires, so every worker sharing the cache reuses it.
Whatever ``token_type`` the server names, the token is sent as a Bearer
token (RFC 6750), the only kind client credentials grants issue in practice.
"""

import base64
import dataclasses
import datetime
import json
import logging
import math
import re
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol
from urllib.parse import quote

from django.core.cache import cache
from django.utils import timezone
from django.utils.crypto import salted_hmac

from webhooks.encryption import DecryptionError, decrypt_secret, encrypt_secret
from webhooks.models import AuthKind, WebhookAuth, WebhookConfig

logger = logging.getLogger(__name__)

REDACTED = "[redacted]"

# A token is used until this long before it expires, so it does not lapse
# between being read from the cache and reaching the receiver.
TOKEN_SAFETY_MARGIN = datetime.timedelta(seconds=30)
# Kept this long when the token response gives no lifetime: short enough that
# a revoked token is not tried for long, and a 401 fetches a new one anyway.
DEFAULT_TOKEN_LIFETIME = datetime.timedelta(minutes=5)
# No token is kept longer than this, whatever the server says.
MAX_TOKEN_LIFETIME = datetime.timedelta(hours=24)
TOKEN_CACHE_PREFIX = "webhooks:oauth-token"  # noqa: S105 (a key prefix)

# The OAuth error codes of RFC 6749 §5.2 are short ASCII words; anything else
# in that field is not repeated in our messages.
OAUTH_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class FormResponse(NamedTuple):
    """What came back from a form POST through the HTTP session.

    ``status`` is None when no response came back, and ``error`` then says
    why (timed out, refused, blocked destination); ``body`` is the parsed
    JSON, or None when the response was not JSON.
    """

    status: int | None
    body: Any
    error: str = ""


class PostForm(Protocol):
    """Send a form-encoded POST through the one guarded HTTP session."""

    def __call__(
        self, *, url: str, data: dict[str, str], headers: dict[str, str]
    ) -> FormResponse: ...


@dataclasses.dataclass(frozen=True)
class AuthResult:
    """The headers that authenticate a request, or why there are none.

    ``error`` is empty on success; otherwise it says what went wrong, without
    any secret, and the request should not be sent.
    """

    headers: dict[str, str]
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def auth_headers(
    *,
    auth: WebhookAuth,
    post_form: PostForm,
    now: datetime.datetime | None = None,
) -> AuthResult:
    """Return the headers that apply ``auth`` to an outgoing request.

    Basic, Bearer and API key need no network. OAuth 2.0 reuses a cached
    token, or requests one through ``post_form``, which must be the guarded
    session's sender. Expected failures (the token endpoint unreachable or
    refusing) are returned as ``AuthResult.error``, never raised.
    """
    kind = auth.kind
    if kind == AuthKind.NONE:
        return AuthResult(headers={})
    if kind == AuthKind.BASIC:
        # RFC 7617: the user-pass is encoded as UTF-8 before base64.
        pair = f"{auth.username}:{auth.password}".encode()
        return AuthResult(
            headers={"Authorization": "Basic " + base64.b64encode(pair).decode()}
        )
    if kind == AuthKind.BEARER:
        return AuthResult(headers={"Authorization": f"Bearer {auth.token}"})
    if kind == AuthKind.API_KEY:
        if not auth.api_key_header:
            return AuthResult(headers={}, error="API key authentication has no header.")
        return AuthResult(headers={auth.api_key_header: auth.api_key})
    if kind == AuthKind.OAUTH2:
        token, error = get_oauth_token(auth=auth, post_form=post_form, now=now)
        if error:
            return AuthResult(headers={}, error=error)
        return AuthResult(headers={"Authorization": f"Bearer {token}"})
    return AuthResult(headers={}, error=f"Unknown authentication kind {kind!r}.")


def get_oauth_token(
    *,
    auth: WebhookAuth,
    post_form: PostForm,
    now: datetime.datetime | None = None,
) -> tuple[str, str]:
    """Return ``(access_token, "")`` from the cache or the token URL.

    On failure, return ``("", message)``. A fetched token is cached,
    encrypted, for its lifetime less TOKEN_SAFETY_MARGIN.
    """
    now = now or timezone.now()
    key = token_cache_key(auth=auth)
    token = _read_cached_token(key=key, now=now)
    if token:
        return token, ""

    token, lifetime, error = _request_token(auth=auth, post_form=post_form)
    if error:
        logger.warning("oauth token request failed auth=%s", auth.pk)
        return "", error

    if lifetime > datetime.timedelta(0):
        _write_cached_token(key=key, token=token, now=now, lifetime=lifetime)
    logger.debug("oauth token fetched auth=%s", auth.pk)
    return token, ""


def invalidate_token(*, auth: WebhookAuth) -> None:
    """Forget the cached token of ``auth``, so the next request fetches one.

    For a 401 answered to a request that carried a cached token: the token
    may have been revoked before it expired.
    """
    cache.delete(token_cache_key(auth=auth))


def token_cache_key(*, auth: WebhookAuth) -> str:
    """Return the cache key of the token for ``auth``'s current credentials.

    Any change to the token URL, client id, secret or scope gives a new key,
    so a token obtained with old credentials is never used again. The key
    holds a keyed hash (SECRET_KEY), from which the secret cannot be guessed
    by trying likely values.
    """
    credentials = "\0".join(
        (auth.token_url, auth.client_id, auth.client_secret, auth.scope)
    )
    digest = salted_hmac(TOKEN_CACHE_PREFIX, credentials, algorithm="sha256")
    return f"{TOKEN_CACHE_PREFIX}:{auth.pk}:{digest.hexdigest()}"


def redacted_header_names(*, config: WebhookConfig) -> set[str]:
    """Return the lower-cased names of headers whose values the audit hides.

    Those are the credentials the product adds (``Authorization``, the API
    key header), the signature, and every configured header: admins put
    secrets in custom headers too, and nothing tells which ones.
    """
    names = {"authorization", "proxy-authorization", "webhook-signature"}
    names.update(header.name.lower() for header in config.headers.all())
    try:
        api_key_header = config.auth.api_key_header
    except WebhookAuth.DoesNotExist:
        api_key_header = ""
    if api_key_header:
        names.add(api_key_header.lower())
    return names


def redact_headers(*, headers: Mapping[str, str], names: set[str]) -> dict[str, str]:
    """Return ``headers`` with the value of each header in ``names`` hidden."""
    return {
        name: REDACTED if name.lower() in names else value
        for name, value in headers.items()
    }


def _read_cached_token(*, key: str, now: datetime.datetime) -> str:
    # The cache only saves token requests: when it is down, deliveries go on
    # with a token fetched each time.
    try:
        stored = cache.get(key)
    except Exception:
        logger.warning("token cache unavailable", exc_info=True)
        return ""
    if not stored:
        return ""
    try:
        entry = json.loads(decrypt_secret(stored))
    except (DecryptionError, ValueError):
        # Encrypted under a key since removed, or not ours: fetch a new one.
        return ""
    if now.timestamp() >= entry["expires_at"]:
        return ""
    return entry["access_token"]


def _write_cached_token(
    *, key: str, token: str, now: datetime.datetime, lifetime: datetime.timedelta
) -> None:
    # Encrypted like every stored secret: the cache may be a Redis that more
    # than this project can read.
    expires_at = (now + lifetime).timestamp()
    stored = json.dumps({"access_token": token, "expires_at": expires_at})
    try:
        cache.set(key, encrypt_secret(stored), timeout=lifetime.total_seconds())
    except Exception:
        logger.warning("token cache unavailable", exc_info=True)


def _request_token(
    *, auth: WebhookAuth, post_form: PostForm
) -> tuple[str, datetime.timedelta, str]:
    # Ask with HTTP Basic first: the method every server supports.
    form = {"grant_type": "client_credentials"}
    if auth.scope:
        form["scope"] = auth.scope
    headers = {"Accept": "application/json"}
    response = post_form(
        url=auth.token_url,
        data=form,
        headers={**headers, "Authorization": _client_basic(auth=auth)},
    )

    # Some servers only take the credentials in the body: ask once that way.
    if response.status in (400, 401):
        response = post_form(
            url=auth.token_url,
            data={
                **form,
                "client_id": auth.client_id,
                "client_secret": auth.client_secret,
            },
            headers=headers,
        )

    return _read_token_response(response)


def _client_basic(*, auth: WebhookAuth) -> str:
    # RFC 6749 §2.3.1: id and secret are form-encoded before Basic encoding.
    # quote() with nothing safe encodes a space as %20, which decoders of
    # form and URL encoding both read back as a space.
    pair = f"{quote(auth.client_id, safe='')}:{quote(auth.client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _read_token_response(
    response: FormResponse,
) -> tuple[str, datetime.timedelta, str]:
    no_token = datetime.timedelta(0)
    if response.status is None:
        return "", no_token, f"OAuth token request failed: {response.error}"
    body = response.body if isinstance(response.body, dict) else {}
    if not 200 <= response.status <= 299:
        message = (
            f"OAuth token request failed: HTTP {response.status} from the token URL"
        )
        code = body.get("error")
        if isinstance(code, str) and OAUTH_ERROR_CODE.match(code):
            message += f" ({code})"
        return "", no_token, message + "."
    if not isinstance(response.body, dict):
        return "", no_token, "OAuth token response was not a JSON object."

    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        return "", no_token, "OAuth token response had no access_token."
    # A line break would let the token add headers of its own.
    if not token.isprintable() or not token.isascii():
        return "", no_token, "OAuth token response had an unusable access_token."
    return token, _token_lifetime(body.get("expires_in")), ""


def _token_lifetime(expires_in) -> datetime.timedelta:
    # Some servers send expires_in as a string of digits.
    if isinstance(expires_in, str) and expires_in.strip().isdigit():
        expires_in = int(expires_in)
    if (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, int | float)
        or not math.isfinite(expires_in)
    ):
        return DEFAULT_TOKEN_LIFETIME
    if expires_in <= 0:
        return datetime.timedelta(0)
    lifetime = datetime.timedelta(
        seconds=min(expires_in, MAX_TOKEN_LIFETIME.total_seconds())
    )
    # A short-lived token keeps at least half its life.
    margin = min(TOKEN_SAFETY_MARGIN, lifetime / 2)
    return min(lifetime - margin, MAX_TOKEN_LIFETIME)
