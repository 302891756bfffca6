import base64
import datetime
import socket
from urllib.parse import parse_qs

import pytest
import requests
from django.core.cache import cache

from webhooks.credentials import (
    AuthResult,
    FormResponse,
    auth_headers,
    invalidate_token,
    redact_headers,
    redacted_header_names,
)
from webhooks.models import AuthKind, WebhookHeader

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 5, 1, 12, 0, tzinfo=datetime.UTC)
CLIENT_SECRET = "s3cr3t/with+base64="


def post_form_with_requests(*, url, data, headers):
    """Send the token request as the HTTP session will, with plain requests."""
    try:
        response = requests.post(
            url, data=data, headers=headers, timeout=5, allow_redirects=False
        )
    except requests.RequestException as error:
        return FormResponse(status=None, body=None, error=type(error).__name__)
    try:
        body = response.json()
    except ValueError:
        body = None
    return FormResponse(status=response.status_code, body=body)


def refuse_post_form(*, url, data, headers):
    raise AssertionError("no token request expected")


@pytest.fixture
def auth(workspace):
    return workspace.webhook.auth


@pytest.fixture
def oauth(auth, httpserver):
    auth.kind = AuthKind.OAUTH2
    auth.token_url = httpserver.url_for("/token")
    auth.client_id = "client-1"
    auth.client_secret = CLIENT_SECRET
    auth.scope = "events:write"
    auth.save()
    return auth


def token_requests(httpserver):
    return [request for request, _ in httpserver.log]


def form_of(request):
    return parse_qs(request.get_data(as_text=True))


def headers_for(auth, *, now=NOW):
    return auth_headers(auth=auth, post_form=post_form_with_requests, now=now)


def test_no_authentication_adds_no_header(auth):
    result = auth_headers(auth=auth, post_form=refuse_post_form)

    assert result == AuthResult(headers={})
    assert result.ok


def test_basic_encodes_username_and_password_as_utf8(auth):
    auth.kind, auth.username, auth.password = AuthKind.BASIC, "zoë", "pässwörd"

    result = auth_headers(auth=auth, post_form=refuse_post_form)

    expected = base64.b64encode("zoë:pässwörd".encode()).decode()
    assert result.headers == {"Authorization": f"Basic {expected}"}
    assert expected == "em/Dqzpww6Rzc3fDtnJk"


def test_bearer_sends_the_token(auth):
    auth.kind, auth.token = AuthKind.BEARER, "tok_123"

    result = auth_headers(auth=auth, post_form=refuse_post_form)

    assert result.headers == {"Authorization": "Bearer tok_123"}


def test_api_key_goes_in_the_named_header(auth):
    auth.kind, auth.api_key_header, auth.api_key = AuthKind.API_KEY, "X-Api-Key", "k1"

    result = auth_headers(auth=auth, post_form=refuse_post_form)

    assert result.headers == {"X-Api-Key": "k1"}


def test_api_key_without_a_header_name_is_an_error(auth):
    auth.kind, auth.api_key = AuthKind.API_KEY, "k1"

    result = auth_headers(auth=auth, post_form=refuse_post_form)

    assert result == AuthResult(
        headers={}, error="API key authentication has no header."
    )
    assert not result.ok


def test_oauth_token_is_requested_with_basic_client_credentials(oauth, httpserver):
    httpserver.expect_request("/token", method="POST").respond_with_json(
        {"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600}
    )

    result = headers_for(oauth)

    assert result.headers == {"Authorization": "Bearer tok-1"}
    (request,) = token_requests(httpserver)
    client = base64.b64encode(b"client-1:s3cr3t%2Fwith%2Bbase64%3D").decode()
    assert request.headers["Authorization"] == f"Basic {client}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form_of(request) == {
        "grant_type": ["client_credentials"],
        "scope": ["events:write"],
    }


def test_oauth_leaves_out_an_empty_scope(oauth, httpserver):
    oauth.scope = ""
    oauth.save()
    httpserver.expect_request("/token").respond_with_json({"access_token": "tok-1"})

    headers_for(oauth)

    assert form_of(token_requests(httpserver)[0]) == {
        "grant_type": ["client_credentials"]
    }


def test_oauth_token_is_fetched_once_and_reused(oauth, httpserver):
    httpserver.expect_request("/token").respond_with_json(
        {"access_token": "tok-1", "expires_in": 3600}
    )

    first = headers_for(oauth)
    second = headers_for(oauth, now=NOW + datetime.timedelta(minutes=59))

    assert first.headers == second.headers == {"Authorization": "Bearer tok-1"}
    assert len(token_requests(httpserver)) == 1


def test_oauth_token_is_fetched_again_shortly_before_it_expires(oauth, httpserver):
    httpserver.expect_ordered_request("/token").respond_with_json(
        {"access_token": "tok-1", "expires_in": 3600}
    )
    httpserver.expect_ordered_request("/token").respond_with_json(
        {"access_token": "tok-2", "expires_in": 3600}
    )

    headers_for(oauth)
    still_cached = headers_for(oauth, now=NOW + datetime.timedelta(seconds=3569))
    renewed = headers_for(oauth, now=NOW + datetime.timedelta(seconds=3570))

    assert still_cached.headers == {"Authorization": "Bearer tok-1"}
    assert renewed.headers == {"Authorization": "Bearer tok-2"}
    assert len(token_requests(httpserver)) == 2


def test_oauth_token_without_a_lifetime_is_kept_five_minutes(oauth, httpserver):
    httpserver.expect_ordered_request("/token").respond_with_json(
        {"access_token": "tok-1"}
    )
    httpserver.expect_ordered_request("/token").respond_with_json(
        {"access_token": "tok-2"}
    )

    headers_for(oauth)
    still_cached = headers_for(oauth, now=NOW + datetime.timedelta(seconds=299))
    renewed = headers_for(oauth, now=NOW + datetime.timedelta(seconds=300))

    assert still_cached.headers == {"Authorization": "Bearer tok-1"}
    assert renewed.headers == {"Authorization": "Bearer tok-2"}


def test_oauth_lifetime_given_as_text_is_understood(oauth, httpserver):
    httpserver.expect_ordered_request("/token").respond_with_json(
        {"access_token": "tok-1", "expires_in": "60"}
    )
    httpserver.expect_ordered_request("/token").respond_with_json(
        {"access_token": "tok-2", "expires_in": "60"}
    )

    headers_for(oauth)
    still_cached = headers_for(oauth, now=NOW + datetime.timedelta(seconds=29))
    renewed = headers_for(oauth, now=NOW + datetime.timedelta(seconds=30))

    assert still_cached.headers == {"Authorization": "Bearer tok-1"}
    assert renewed.headers == {"Authorization": "Bearer tok-2"}


def test_oauth_token_is_fetched_again_after_invalidation(oauth, httpserver):
    httpserver.expect_ordered_request("/token").respond_with_json(
        {"access_token": "tok-1", "expires_in": 3600}
    )
    httpserver.expect_ordered_request("/token").respond_with_json(
        {"access_token": "tok-2", "expires_in": 3600}
    )
    headers_for(oauth)

    invalidate_token(auth=oauth)
    result = headers_for(oauth)

    assert result.headers == {"Authorization": "Bearer tok-2"}
    assert len(token_requests(httpserver)) == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("client_secret", "another-secret"),
        ("client_id", "client-2"),
        ("scope", "events:read"),
        ("token_url", "/other-token"),
    ],
)
def test_changed_credentials_do_not_reuse_the_old_token(
    oauth, httpserver, field, value
):
    httpserver.expect_ordered_request("/token").respond_with_json(
        {"access_token": "tok-1", "expires_in": 3600}
    )
    httpserver.expect_ordered_request(
        value if field == "token_url" else "/token"
    ).respond_with_json({"access_token": "tok-2", "expires_in": 3600})
    headers_for(oauth)

    setattr(oauth, field, httpserver.url_for(value) if field == "token_url" else value)
    oauth.save()
    result = headers_for(oauth)

    assert result.headers == {"Authorization": "Bearer tok-2"}


def test_the_cache_holds_no_plaintext_token(oauth, httpserver, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }
    httpserver.expect_request("/token").respond_with_json(
        {"access_token": "tok-plaintext-canary", "expires_in": 3600}
    )

    headers_for(oauth)

    # The local-memory backend keeps each value pickled, as it would be sent
    # to Redis: what is stored is exactly what the backend holds.
    stored = b"".join(cache._cache.values())
    assert stored
    assert b"tok-plaintext-canary" not in stored
    assert CLIENT_SECRET.encode() not in stored
    assert not any(CLIENT_SECRET in key for key in cache._cache)


def test_a_server_refusing_basic_is_asked_with_credentials_in_the_body(
    oauth, httpserver
):
    httpserver.expect_ordered_request("/token").respond_with_json(
        {"error": "invalid_client"}, status=401
    )
    httpserver.expect_ordered_request("/token").respond_with_json(
        {"access_token": "tok-1", "expires_in": 3600}
    )

    result = headers_for(oauth)

    assert result.headers == {"Authorization": "Bearer tok-1"}
    basic, body = token_requests(httpserver)
    assert "client_secret" not in form_of(basic)
    assert "Authorization" not in body.headers
    assert form_of(body) == {
        "grant_type": ["client_credentials"],
        "scope": ["events:write"],
        "client_id": ["client-1"],
        "client_secret": [CLIENT_SECRET],
    }


def test_a_refused_token_request_is_a_clear_error_without_the_secret(oauth, httpserver):
    httpserver.expect_request("/token").respond_with_json(
        {"error": "invalid_client", "error_description": f"bad {CLIENT_SECRET}"},
        status=401,
    )

    result = headers_for(oauth)

    assert result == AuthResult(
        headers={},
        error="OAuth token request failed: HTTP 401 from the token URL "
        "(invalid_client).",
    )
    assert len(token_requests(httpserver)) == 2


def test_a_token_endpoint_error_code_that_is_not_a_code_is_left_out(oauth, httpserver):
    httpserver.expect_request("/token").respond_with_json(
        {"error": "<script>alert(1)</script>"}, status=500
    )

    result = headers_for(oauth)

    assert result.error == "OAuth token request failed: HTTP 500 from the token URL."
    assert len(token_requests(httpserver)) == 1


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"token_type": "Bearer"}, "OAuth token response had no access_token."),
        ({"access_token": ""}, "OAuth token response had no access_token."),
        ({"access_token": 42}, "OAuth token response had no access_token."),
        (
            {"access_token": "tok\r\nX-Injected: 1"},
            "OAuth token response had an unusable access_token.",
        ),
        (["tok-1"], "OAuth token response was not a JSON object."),
    ],
)
def test_an_unusable_token_response_is_a_clear_error(oauth, httpserver, answer, error):
    httpserver.expect_request("/token").respond_with_json(answer)

    result = headers_for(oauth)

    assert result == AuthResult(headers={}, error=error)


def test_a_token_response_that_is_not_json_is_a_clear_error(oauth, httpserver):
    httpserver.expect_request("/token").respond_with_data("<html>hi</html>")

    result = headers_for(oauth)

    assert result.error == "OAuth token response was not a JSON object."


def test_an_unreachable_token_url_is_a_clear_error(oauth):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    oauth.token_url = f"http://127.0.0.1:{port}/token"
    oauth.save()

    result = headers_for(oauth)

    assert result.error == "OAuth token request failed: ConnectionError"


def test_a_failed_token_request_is_not_cached(oauth, httpserver):
    httpserver.expect_ordered_request("/token").respond_with_json({}, status=503)
    httpserver.expect_ordered_request("/token").respond_with_json(
        {"access_token": "tok-1"}
    )

    failed = headers_for(oauth)
    retried = headers_for(oauth)

    assert failed.error == "OAuth token request failed: HTTP 503 from the token URL."
    assert retried.headers == {"Authorization": "Bearer tok-1"}


def test_audit_redacts_credentials_signature_and_every_configured_header(auth):
    config = auth.config
    WebhookHeader.objects.create(config=config, position=1, name="X-Team", value="a")
    auth.kind, auth.api_key_header, auth.api_key = AuthKind.API_KEY, "X-Api-Key", "k"
    auth.save()

    names = redacted_header_names(config=config)

    assert names == {
        "authorization",
        "proxy-authorization",
        "webhook-signature",
        "content-type",
        "x-team",
        "x-api-key",
    }


def test_redaction_replaces_values_whatever_the_case_of_the_name():
    headers = {
        "Authorization": "Bearer tok",
        "X-API-KEY": "k",
        "webhook-id": "evt",
        "User-Agent": "SEEN",
    }

    redacted = redact_headers(headers=headers, names={"authorization", "x-api-key"})

    assert redacted == {
        "Authorization": "[redacted]",
        "X-API-KEY": "[redacted]",
        "webhook-id": "evt",
        "User-Agent": "SEEN",
    }


def test_tokens_are_still_fetched_while_the_cache_is_down(oauth, httpserver, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }
    httpserver.expect_request("/token").respond_with_json({"access_token": "tok-1"})

    first = headers_for(oauth)
    second = headers_for(oauth)

    assert first.headers == second.headers == {"Authorization": "Bearer tok-1"}
    assert len(token_requests(httpserver)) == 2
