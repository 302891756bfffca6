import datetime

import pytest

from tests.factories import UserFactory, WorkspaceFactory
from webhooks.models import Membership, Role, WebhookConfig
from webhooks.workspaces import (
    create_workspace,
    rotate_ingest_key,
    rotate_signing_secret,
    unique_slug_for,
)

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def test_create_workspace_makes_a_disabled_webhook_with_defaults():
    admin = UserFactory()

    workspace = create_workspace(name="Acme Video", admin=admin)

    config = WebhookConfig.objects.get(workspace=workspace)
    assert workspace.slug == "acme-video"
    assert config.enabled is False
    assert [(h.name, h.value) for h in config.headers.all()] == [
        ("Content-Type", "application/json")
    ]
    assert config.auth.kind == "none"
    assert Membership.objects.get(workspace=workspace).role == Role.ADMIN


def test_create_workspace_makes_the_slug_unique():
    WorkspaceFactory(slug="acme")
    WorkspaceFactory(slug="acme-2")

    assert create_workspace(name="Acme").slug == "acme-3"


def test_slug_of_a_name_without_letters_falls_back():
    assert unique_slug_for(name="!!!") == "workspace"


def test_rotating_the_ingest_key_keeps_the_previous_one():
    workspace = WorkspaceFactory()
    old_key = workspace.ingest_key

    new_key = rotate_ingest_key(workspace=workspace, now=NOW)

    workspace.refresh_from_db()
    assert new_key != old_key
    assert workspace.ingest_key == new_key
    assert workspace.previous_ingest_key == old_key
    assert workspace.ingest_key_rotated_at == NOW


def test_rotating_the_signing_secret_keeps_the_previous_one():
    config = WorkspaceFactory().webhook
    old_secret = config.signing_secret

    new_secret = rotate_signing_secret(config=config, now=NOW)

    config.refresh_from_db()
    assert new_secret.startswith("whsec_")
    assert config.signing_secret == new_secret != old_secret
    assert config.previous_signing_secret == old_secret
    assert config.signing_secret_rotated_at == NOW
