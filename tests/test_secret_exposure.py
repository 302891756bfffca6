"""No stored secret reaches the browser or a script unless explicitly revealed."""

import json

import pytest
from rest_framework.authtoken.models import Token

from tests.factories import MembershipFactory
from tests.test_forms import settings_data
from webhooks.models import WebhookAuth, WebhookConfig, WebhookHeader
from webhooks.workspaces import rotate_signing_secret

pytestmark = pytest.mark.django_db

HEADER_SECRET = "header-value-DISTINCT-1"
AUTH_SECRETS = {
    "password": "password-DISTINCT-2",
    "token": "token-DISTINCT-3",
    "api_key": "api-key-DISTINCT-4",
    "client_secret": "client-secret-DISTINCT-5",
}
TYPED_SECRET = "typed-but-invalid-DISTINCT-6"


@pytest.fixture
def setup(client):
    """A webhook holding every kind of secret, and its admin signed in."""
    membership = MembershipFactory(admin=True)
    config = membership.workspace.webhook
    WebhookConfig.objects.filter(pk=config.pk).update(
        enabled=True,
        endpoint_url="https://receiver.example.com/hooks",
        event_types=["video-played"],
    )
    header = WebhookHeader.objects.create(
        config=config, position=1, name="X-Api-Key", value=HEADER_SECRET
    )
    # Every kind's secret at once, as only a direct write would leave them.
    WebhookAuth.objects.filter(config=config).update(
        kind="basic", username="someone", **AUTH_SECRETS
    )
    previous = config.signing_secret
    rotate_signing_secret(config=config)
    config = WebhookConfig.objects.get(pk=config.pk)
    client.force_login(membership.user)
    token = Token.objects.create(user=membership.user).key
    secrets = [
        HEADER_SECRET,
        *AUTH_SECRETS.values(),
        config.signing_secret,
        previous,
    ]
    return client, config, header, token, secrets


def assert_no_secret(response, secrets):
    text = response.content.decode()
    for secret in secrets:
        assert secret not in text, f"{secret} in {response.request['PATH_INFO']}"


def test_pages_never_carry_a_stored_secret(setup):
    client, config, _header, _token, secrets = setup
    page = f"/workspaces/{config.workspace.slug}/settings/external-events/"
    invalid = settings_data(
        config,
        endpoint_url="",
        headers=[("X-Api-Key", TYPED_SECRET)],
        auth={"kind": "basic", "password": TYPED_SECRET},
    )

    responses = [
        client.get("/"),
        client.get(page),
        client.post(page, invalid),
        client.post(page, settings_data(config), follow=True),
        client.post(page + "ingest-key/rotate/", follow=True),
        client.post(page + "signing-secret/rotate/", follow=True),
    ]

    assert responses[2].status_code == 200
    for response in responses:
        assert_no_secret(response, [*secrets, TYPED_SECRET])


def test_api_answers_never_carry_a_secret(setup):
    client, config, _header, token, secrets = setup
    url = f"/api/v1/workspaces/{config.workspace.slug}/webhook"
    headers = {"Authorization": f"Token {token}"}

    def send(method, body=None):
        return getattr(client, method)(
            url,
            data=json.dumps(body) if body is not None else None,
            content_type="application/json",
            headers=headers,
        )

    read = send("get")
    responses = [
        read,
        send("put", read.json()),
        send("patch", {"authentication": {"password": TYPED_SECRET}}),
        send("patch", {"endpoint_url": "", "headers": [{"name": "X-Api-Key"}]}),
    ]

    assert [response.status_code for response in responses] == [200, 200, 200, 400]
    for response in responses:
        assert_no_secret(response, [*secrets, TYPED_SECRET])
    assert read.json()["authentication"]["password_set"] is True


def test_reveals_answer_exactly_the_one_secret_asked_for(setup):
    client, config, header, _token, secrets = setup
    page = f"/workspaces/{config.workspace.slug}/settings/external-events/"

    signing = client.post(
        page + "signing-secret/reveal/", headers={"Accept": "application/json"}
    )
    header_value = client.post(
        page + f"headers/{header.pk}/reveal/", headers={"Accept": "application/json"}
    )
    signing_page = client.post(page + "signing-secret/reveal/")

    assert signing.json() == {"value": config.signing_secret}
    assert header_value.json() == {"value": HEADER_SECRET}
    for response in (signing, header_value, signing_page):
        assert "no-store" in response["Cache-Control"]
    assert config.signing_secret in signing_page.content.decode()
    assert_no_secret(
        signing_page, [secret for secret in secrets if secret != config.signing_secret]
    )
