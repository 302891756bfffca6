import json
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.factories import EventFactory, WorkspaceFactory
from webhooks.delivery_request import prepare_request
from webhooks.models import Workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug(settings, tmp_path):
    settings.DEBUG = True
    settings.LOCAL_DIR = tmp_path
    return settings


def signed_request(config, event):
    return prepare_request(
        event=event, config=config, now=timezone.now(), ends_at=time.monotonic() + 5
    )


def test_the_receiver_is_absent_without_debug(client, settings):
    settings.DEBUG = False

    assert client.get("/dev/receiver/").status_code == 404
    assert client.post("/dev/receiver/", data="{}", content_type="x").status_code == 404


def test_the_receiver_records_and_verifies_what_it_gets(client, debug):
    workspace = WorkspaceFactory(
        enabled=True, webhook__endpoint_url="http://testserver/dev/receiver/"
    )
    event = EventFactory(workspace=workspace)
    request = signed_request(workspace.webhook, event)
    headers = {
        name: value
        for name, value in request.headers.items()
        if name.lower() != "content-type"
    }

    answer = client.post(
        "/dev/receiver/",
        data=request.body,
        content_type="application/json",
        headers=headers,
    )
    page = client.get("/dev/receiver/")

    assert answer.json() == {"received": True}
    record = json.loads((debug.LOCAL_DIR / "dev-receiver.jsonl").read_text())
    assert record["signature"] == f"valid ({workspace.name})"
    assert record["body"] == request.body.decode()
    assert str(event.id) in page.content.decode()


def test_a_forged_signature_is_shown_as_not_verified(client, debug):
    WorkspaceFactory(
        enabled=True, webhook__endpoint_url="http://testserver/dev/receiver/"
    )

    client.post(
        "/dev/receiver/",
        data="{}",
        content_type="application/json",
        headers={
            "webhook-id": "msg_1",
            "webhook-timestamp": "1700000000",
            "webhook-signature": "v1,Zm9yZ2Vk",
        },
    )

    record = json.loads((debug.LOCAL_DIR / "dev-receiver.jsonl").read_text())
    assert record["signature"] == "not verified"


def test_demo_points_the_demo_webhook_at_the_receiver_with_debug(debug, monkeypatch):
    monkeypatch.setenv("PORT", "8123")

    call_command("demo", stdout=StringIO())

    config = Workspace.objects.get(slug="demo").webhook
    assert config.enabled is True
    assert config.endpoint_url == "http://127.0.0.1:8123/dev/receiver/"
    assert len(config.event_types) == 5


def test_demo_leaves_a_configured_webhook_alone(debug):
    call_command("demo", stdout=StringIO())
    config = Workspace.objects.get(slug="demo").webhook
    config.endpoint_url = "https://hooks.example.com/mine"
    config.save()

    call_command("demo", stdout=StringIO())

    config.refresh_from_db()
    assert config.endpoint_url == "https://hooks.example.com/mine"
