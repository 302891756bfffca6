from tests.factories import WorkspaceFactory


def test_workspace_factory_creates_the_webhook(db):
    workspace = WorkspaceFactory(enabled=True)

    assert workspace.webhook.enabled is True
    assert [h.name for h in workspace.webhook.headers.all()] == ["Content-Type"]
    assert workspace.webhook.auth.kind == "none"
