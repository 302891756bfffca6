import json

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.test_schema import wsgi_app  # noqa: F401 (a fixture)
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory
from webhooks.models import WebhookConfig

pytestmark = pytest.mark.django_db

URL = "https://receiver.example.com/hooks"

FULL_CONFIGURATION = {
    "enabled": True,
    "http_method": "PUT",
    "endpoint_url": URL,
    "event_types": ["video-played", "cta-clicked"],
    "headers": [
        {"name": "Content-Type", "value": "application/json"},
        {"name": "X-Team", "value": "growth"},
    ],
    "authentication": {"kind": "bearer", "token": "api-token-SECRET"},
}


@pytest.fixture
def membership():
    return MembershipFactory(admin=True)


@pytest.fixture
def config(membership):
    return membership.workspace.webhook


@pytest.fixture
def token(membership):
    return Token.objects.create(user=membership.user).key


@pytest.fixture
def api(client, token):
    """Call the configuration endpoint with the admin's token."""

    def call(method, workspace, body=None, *, key=token, **extra):
        headers = {"Authorization": f"Token {key}"} if key else {}
        return getattr(client, method)(
            f"/api/v1/workspaces/{workspace.slug}/webhook",
            data=None if body is None or method == "get" else json.dumps(body),
            content_type="application/json",
            headers=headers,
            **extra,
        )

    return call


def reload(config):
    return WebhookConfig.objects.get(pk=config.pk)


def test_get_answers_the_configuration_without_secrets(api, config):
    response = api("get", config.workspace)

    assert response.status_code == 200
    assert response.json() == {
        "workspace": config.workspace.slug,
        "enabled": False,
        "http_method": "POST",
        "endpoint_url": "",
        "event_types": [],
        "headers": [{"name": "Content-Type", "value_set": True}],
        "authentication": {
            "kind": "none",
            "username": "",
            "password_set": False,
            "token_set": False,
            "api_key_header": "",
            "api_key_set": False,
            "token_url": "",
            "client_id": "",
            "client_secret_set": False,
            "scope": "",
        },
        "signing_secret_rotated_at": None,
        "failing_since": None,
        "disabled_reason": "",
        "updated_at": response.json()["updated_at"],
    }


def test_put_replaces_the_configuration(api, config, membership):
    response = api("put", config.workspace, FULL_CONFIGURATION)

    body = response.json()
    config = reload(config)
    assert response.status_code == 200
    assert (config.enabled, config.http_method, config.endpoint_url) == (
        True,
        "PUT",
        URL,
    )
    assert config.event_types == ["video-played", "cta-clicked"]
    assert [(h.name, h.value) for h in config.headers.all()] == [
        ("Content-Type", "application/json"),
        ("X-Team", "growth"),
    ]
    assert (config.auth.kind, config.auth.token) == ("bearer", "api-token-SECRET")
    assert config.updated_by == membership.user
    assert body["authentication"]["token_set"] is True
    assert "api-token-SECRET" not in response.content.decode()


def test_put_needs_the_whole_configuration(api, config):
    response = api("put", config.workspace, {"enabled": True})

    assert response.status_code == 400
    assert response.json() == {
        "http_method": ["This field is required."],
        "endpoint_url": ["This field is required."],
        "event_types": ["This field is required."],
        "headers": ["This field is required."],
        "authentication": ["This field is required."],
    }


def test_a_configuration_read_can_be_written_back_unchanged(api, config):
    api("put", config.workspace, FULL_CONFIGURATION)
    read = api("get", config.workspace).json()

    response = api("put", config.workspace, read)

    config = reload(config)
    assert response.status_code == 200, response.json()
    assert config.auth.token == "api-token-SECRET"
    assert [h.value for h in config.headers.all()] == ["application/json", "growth"]


def test_patch_changes_only_what_it_names(api, config):
    api("put", config.workspace, FULL_CONFIGURATION)

    response = api("patch", config.workspace, {"http_method": "PATCH"})

    config = reload(config)
    assert response.status_code == 200
    assert config.http_method == "PATCH"
    assert (config.endpoint_url, config.event_types) == (
        URL,
        ["video-played", "cta-clicked"],
    )
    assert [h.name for h in config.headers.all()] == ["Content-Type", "X-Team"]
    assert config.auth.token == "api-token-SECRET"


def test_patch_merges_authentication_fields(api, config):
    api(
        "put",
        config.workspace,
        {
            **FULL_CONFIGURATION,
            "authentication": {"kind": "basic", "username": "u", "password": "p"},
        },
    )

    api("patch", config.workspace, {"authentication": {"username": "v"}})

    auth = reload(config).auth
    assert (auth.kind, auth.username, auth.password) == ("basic", "v", "p")


def test_headers_keep_their_values_by_name_and_the_order_given(api, config):
    api("put", config.workspace, FULL_CONFIGURATION)

    response = api(
        "patch",
        config.workspace,
        {"headers": [{"name": "X-New", "value": "n"}, {"name": "x-team"}]},
    )

    assert response.status_code == 200, response.json()
    assert [(h.name, h.value) for h in reload(config).headers.all()] == [
        ("X-New", "n"),
        ("x-team", "growth"),
    ]
    assert response.json()["headers"] == [
        {"name": "X-New", "value_set": True},
        {"name": "x-team", "value_set": True},
    ]


def test_errors_come_back_by_field_and_nothing_is_saved(api, config):
    body = {
        **FULL_CONFIGURATION,
        "endpoint_url": "",
        "headers": [{"name": "X-A", "value": "1"}, {"name": "Host", "value": "x"}],
        "authentication": {"kind": "basic", "username": "u"},
    }

    response = api("put", config.workspace, body)

    assert response.status_code == 400
    assert response.json() == {
        "endpoint_url": ["An enabled webhook needs an endpoint URL."],
        "headers": {
            "1": {
                "name": [
                    "“Host” is set by External Events on every request and cannot "
                    "be configured."
                ]
            }
        },
        "authentication": {"password": ["Basic authentication needs this."]},
    }
    assert reload(config).enabled is False
    assert [h.name for h in config.headers.all()] == ["Content-Type"]


def test_header_errors_name_the_headers_index_in_the_request(api, config):
    api("put", config.workspace, FULL_CONFIGURATION)

    response = api(
        "patch",
        config.workspace,
        {
            "headers": [
                {"name": "X-New", "value": "bad\nvalue"},
                {"name": "Content-Type"},
                {"name": "content-type", "value": "again"},
            ]
        },
    )

    assert response.json() == {
        "headers": {
            "0": {
                "value": ["Header values cannot contain line breaks or NUL characters."]
            },
            "2": {
                "name": [
                    "“content-type” is already set in another row: a header can be "
                    "sent only once."
                ]
            },
        }
    }


def test_unknown_fields_are_refused(api, config):
    response = api("patch", config.workspace, {"colour": "red", "enabled": True})

    assert response.status_code == 400
    assert response.json() == {"colour": ["Unknown field."]}


def test_a_body_that_is_not_an_object_is_refused(api, config):
    response = api("put", config.workspace, ["enabled"])

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Send a JSON object."]}


def test_switching_off_keeps_everything_else(api, config):
    api("put", config.workspace, FULL_CONFIGURATION)

    response = api(
        "put",
        config.workspace,
        {**FULL_CONFIGURATION, "enabled": False, "endpoint_url": "nonsense"},
    )

    config = reload(config)
    assert response.status_code == 200
    assert (config.enabled, config.endpoint_url) == (False, URL)
    assert response.json()["endpoint_url"] == URL


def test_a_token_is_needed(api, config):
    response = api("get", config.workspace, key=None)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_an_unknown_token_is_refused(api, config):
    assert api("get", config.workspace, key="0" * 40).status_code == 401


@pytest.mark.parametrize(
    ("role", "expected"),
    [("none", 404), ("member", 403), ("admin", 200), ("superuser", 200)],
)
def test_the_same_people_as_the_page_may_use_it(api, role, expected):
    workspace = WorkspaceFactory()
    if role == "superuser":
        user = UserFactory(superuser=True)
    elif role == "none":
        user = UserFactory()
    else:
        user = MembershipFactory(workspace=workspace, role=role).user
    key = Token.objects.create(user=user).key

    statuses = {
        method: api(method, workspace, {"http_method": "GET"}, key=key).status_code
        for method in ("get", "patch")
    }

    assert statuses == {"get": expected, "patch": expected}


def test_a_session_works_for_reading_and_with_csrf_for_writing(membership, config):
    client = Client(enforce_csrf_checks=True)
    client.force_login(membership.user)
    url = f"/api/v1/workspaces/{config.workspace.slug}/webhook"
    page = client.get(f"/workspaces/{config.workspace.slug}/settings/external-events/")
    csrf_token = page.cookies["csrftoken"].value
    body = json.dumps({"http_method": "GET"})

    read = client.get(url)
    without = client.patch(url, body, content_type="application/json")
    with_token = client.patch(
        url, body, content_type="application/json", headers={"X-CSRFToken": csrf_token}
    )

    assert read.status_code == 200
    assert without.status_code == 403
    assert "CSRF" in without.json()["detail"]
    assert with_token.status_code == 200


def test_the_schema_documents_the_configuration_endpoint(client):
    schema = client.get("/api/schema/?format=json").json()

    path = schema["paths"]["/api/v1/workspaces/{slug}/webhook"]
    assert sorted(path) == ["get", "patch", "put"]
    assert path["put"]["security"] == [{"tokenAuth": []}, {"cookieAuth": []}]
    assert sorted(path["put"]["responses"]) == ["200", "400", "401", "403", "404"]
    properties = schema["components"]["schemas"]["WebhookAuthentication"]["properties"]
    assert properties["password"]["writeOnly"] is True
    assert properties["password_set"]["readOnly"] is True
    assert (
        schema["components"]["schemas"]["WebhookConfiguration"]["additionalProperties"]
        is False
    )


def test_the_configuration_endpoint_keeps_to_its_schema(
    config,
    token,
    wsgi_app,  # noqa: F811 (the fixture imported above)
):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    operations = [
        schema["/api/v1/workspaces/{slug}/webhook"][method]
        for method in ("GET", "PUT", "PATCH")
    ]
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    cases = st.one_of(
        *(
            operation.as_strategy(mode)
            for operation in operations
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        )
    )

    @given(case=cases)
    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case):
        case.path_parameters = {"slug": config.workspace.slug}
        case.call_and_validate(
            headers={"Authorization": f"Token {token}"}, checks=checks
        )

    call()


def test_a_patched_header_row_without_a_name_is_refused(api, config):
    response = api("patch", config.workspace, {"headers": [{"value": "x"}]})

    assert response.status_code == 400
    assert response.json() == {"headers": {"0": {"name": ["This field is required."]}}}
    assert [header.name for header in reload(config).headers.all()] == ["Content-Type"]
