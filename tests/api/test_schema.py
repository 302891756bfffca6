import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from seen_events.wsgi import application

pytestmark = pytest.mark.django_db

CDN_HOSTS = ("cdn.jsdelivr", "unpkg", "cdnjs", "googleapis")


@pytest.fixture
def wsgi_app():
    """The project's WSGI application, kept off the test's database connection.

    Like Django's test client, it must not close the connection at the end of
    each request: the test's transaction lives on it.
    """
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield application
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


def test_the_schema_describes_the_event_endpoint(client):
    response = client.get("/api/schema/?format=json")

    schema = response.json()
    operation = schema["paths"]["/api/v1/events"]["post"]
    assert response.status_code == 200
    assert schema["openapi"].startswith("3.")
    assert list(operation["requestBody"]["content"]) == [
        "application/json",
        "text/plain",
    ]
    assert sorted(operation["responses"]) == [
        "202",
        "400",
        "401",
        "403",
        "411",
        "413",
        "415",
        "429",
    ]
    assert operation["security"] == [
        {"WorkspaceKeyHeader": []},
        {"WorkspaceKeyQuery": []},
    ]
    assert schema["components"]["securitySchemes"]["WorkspaceKeyQuery"] == {
        "type": "apiKey",
        "in": "query",
        "name": "key",
    }
    assert schema["components"]["schemas"]["Event"]["additionalProperties"] is False


def test_the_docs_are_served_without_a_cdn(client):
    page = client.get("/api/docs/")
    script = client.get("/api/docs/?script=")

    html = page.content.decode()
    assert page.status_code == 200
    assert script.status_code == 200
    assert (
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    )
    for text in (html, script.content.decode()):
        assert not any(host in text for host in CDN_HOSTS)
        assert "<script>" not in text


def test_the_docs_assets_are_served_by_this_server(client):
    response = client.get(
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    )

    assert response.status_code == 200


def test_the_event_endpoint_keeps_to_its_schema(workspace, wsgi_app):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    operation = schema["/api/v1/events"]["POST"]
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]

    # Valid bodies and bodies that break the schema on purpose, alike.
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case):
        case.call_and_validate(
            headers={"X-Workspace-Key": workspace.ingest_key}, checks=checks
        )

    call()
