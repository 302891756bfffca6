from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection

from tests.conftest import OLD_TEST_ENCRYPTION_KEY, TEST_ENCRYPTION_KEY
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory
from webhooks.management.commands import reencryptsecrets
from webhooks.models import (
    Membership,
    Role,
    WebhookAuth,
    WebhookConfig,
    WebhookHeader,
    Workspace,
)

NEW_ENCRYPTION_KEY = "bmV3LXRlc3QtZW5jcnlwdGlvbi1rZXktMDAwMDAwMDA="
UNKNOWN_ENCRYPTION_KEY = "Z29uZS10ZXN0LWVuY3J5cHRpb24ta2V5LTAwMDAwMDA="

pytestmark = pytest.mark.django_db


def run(*args):
    """Run a management command and return what it wrote to stdout."""
    stdout, stderr = StringIO(), StringIO()
    call_command(*args, stdout=stdout, stderr=stderr)
    return stdout.getvalue()


def parse_fields(output):
    """Return the "key: value" lines of a command's output as a dict."""
    pairs = [line.split(": ", 1) for line in output.splitlines() if ": " in line]
    return {key.strip(): value for key, value in pairs}


def stored_rows():
    """Return every row the commands may write, as stored, ciphertexts included."""
    models = (
        get_user_model(),
        Workspace,
        Membership,
        WebhookConfig,
        WebhookHeader,
        WebhookAuth,
    )
    rows = {}
    with connection.cursor() as cursor:
        for model in models:
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"SELECT * FROM {table} ORDER BY id")  # noqa: S608
            rows[model._meta.label] = cursor.fetchall()
    return rows


# The SQL below names a model's own table and column, never test input.


def stored_ciphertext(model, field, pk):
    table, column = quoted_column(model, field)
    with connection.cursor() as cursor:
        sql = f"SELECT {column} FROM {table} WHERE id = %s"  # noqa: S608
        cursor.execute(sql, [pk])
        return cursor.fetchone()[0]


def store_ciphertext(model, field, pk, ciphertext):
    table, column = quoted_column(model, field)
    with connection.cursor() as cursor:
        sql = f"UPDATE {table} SET {column} = %s WHERE id = %s"  # noqa: S608
        cursor.execute(sql, [ciphertext, pk])


def quoted_column(model, field):
    quote = connection.ops.quote_name
    return quote(model._meta.db_table), quote(model._meta.get_field(field).column)


def set_auth(workspace, **fields):
    auth = workspace.webhook.auth
    for name, value in fields.items():
        setattr(auth, name, value)
    auth.save()
    return auth


# createworkspace


def test_createworkspace_creates_the_workspace_and_a_new_admin_with_a_password():
    output = run("createworkspace", "Acme Corp", "--admin", "alice")

    fields = parse_fields(output)
    workspace = Workspace.objects.get()
    alice = get_user_model().objects.get(username="alice")
    assert fields["slug"] == "acme-corp" == workspace.slug
    assert fields["ingest_key"] == workspace.ingest_key
    assert f"\nslug: acme-corp\ningest_key: {workspace.ingest_key}\n" in output
    assert alice.check_password(fields["password"])
    assert workspace.name == "Acme Corp"
    assert workspace.webhook.enabled is False
    assert workspace.webhook.headers.get().name == "Content-Type"
    assert Membership.objects.get(workspace=workspace).user == alice
    assert Membership.objects.get(workspace=workspace).role == Role.ADMIN


def test_createworkspace_leaves_an_existing_users_password_alone():
    alice = UserFactory(username="alice")

    output = run("createworkspace", "Acme", "--admin", "alice")

    alice.refresh_from_db()
    assert "password" not in output
    assert alice.check_password("correct horse")
    assert Membership.objects.get().user == alice
    assert get_user_model().objects.count() == 1


def test_createworkspace_makes_a_derived_slug_unique():
    WorkspaceFactory(name="Acme", slug="acme")

    output = run("createworkspace", "Acme", "--admin", "alice")

    assert parse_fields(output)["slug"] == "acme-2"
    assert Workspace.objects.filter(slug="acme-2", name="Acme").exists()


def test_createworkspace_uses_an_explicit_slug():
    output = run("createworkspace", "Acme Corp", "--admin", "alice", "--slug", "ac")

    assert parse_fields(output)["slug"] == "ac"
    assert Workspace.objects.get().slug == "ac"


def test_createworkspace_strips_the_name():
    run("createworkspace", "  Acme  ", "--admin", "alice")

    assert Workspace.objects.get().name == "Acme"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["   "], "Invalid workspace name: This field cannot be blank."),
        (
            ["x" * 101],
            "Invalid workspace name: Ensure this value has at most 100 characters "
            "(it has 101).",
        ),
        (
            ["Acme", "--slug", "not a slug"],
            "Invalid slug: Enter a valid “slug” consisting of letters, numbers, "
            "underscores or hyphens.",
        ),
        (["Acme", "--slug", ""], "Invalid slug: This field cannot be blank."),
        (["Acme", "--slug", "taken"], 'The slug "taken" is already taken by '),
    ],
)
def test_createworkspace_refuses_invalid_input_and_writes_nothing(args, message):
    WorkspaceFactory(name="Taken Inc", slug="taken")
    before = stored_rows()

    with pytest.raises(CommandError) as raised:
        run("createworkspace", *args, "--admin", "alice")

    assert str(raised.value).startswith(message)
    assert stored_rows() == before


def test_createworkspace_names_the_workspace_that_holds_a_taken_slug():
    WorkspaceFactory(name="Taken Inc", slug="taken")

    with pytest.raises(
        CommandError,
        match='^The slug "taken" is already taken by workspace "Taken Inc".$',
    ):
        run("createworkspace", "Acme", "--admin", "alice", "--slug", "taken")


def test_createworkspace_refuses_an_invalid_username():
    with pytest.raises(
        CommandError,
        match=r"^Invalid username: Enter a valid username. This value may contain "
        r"only letters, numbers, and @/\./\+/-/_ characters.$",
    ):
        run("createworkspace", "Acme", "--admin", "alice smith")

    assert not Workspace.objects.exists()
    assert not get_user_model().objects.exists()


def test_createworkspace_requires_an_admin():
    with pytest.raises(CommandError, match="the following arguments are required"):
        run("createworkspace", "Acme")


def test_createworkspace_writes_nothing_when_the_database_refuses_a_row(monkeypatch):
    # As when another process takes the slug between the check and the insert.
    def refuse(**kwargs):
        raise IntegrityError("UNIQUE constraint failed: webhooks_workspace.slug")

    monkeypatch.setattr("webhooks.workspaces.create_webhook_config", refuse)
    before = stored_rows()

    with pytest.raises(CommandError, match="^Another process created the same"):
        run("createworkspace", "Acme", "--admin", "alice")

    assert stored_rows() == before


# configurewebhook: showing the configuration


def test_configurewebhook_prints_a_new_workspaces_configuration():
    WorkspaceFactory(name="Acme", slug="acme")

    output = run("configurewebhook", "acme")

    assert output == (
        "Webhook of acme (Acme)\n"
        "  enabled: no\n"
        "  method: POST\n"
        "  URL: not set\n"
        "  events: none\n"
        "  headers:\n"
        "    Content-Type: ******\n"
        "  authentication: none\n"
        "  signing secret: whsec_******\n"
    )


def test_configurewebhook_masks_every_secret_when_printing():
    workspace = WorkspaceFactory(name="Acme", slug="acme", enabled=True)
    header = workspace.webhook.headers.get()
    header.value = "header-secret-value"
    header.save()
    WebhookHeader.objects.create(config=workspace.webhook, position=1, name="X-Empty")
    set_auth(workspace, kind="basic", username="alice", password="password-secret")

    output = run("configurewebhook", "acme")

    assert output == (
        "Webhook of acme (Acme)\n"
        "  enabled: yes\n"
        "  method: POST\n"
        "  URL: https://receiver.example.com/hooks\n"
        "  events: player-opened, video-played, video-watched, share-clicked, "
        "cta-clicked\n"
        "  headers:\n"
        "    Content-Type: ******\n"
        "    X-Empty: (empty)\n"
        "  authentication: basic\n"
        "    username: alice\n"
        "    password: set\n"
        "  signing secret: whsec_******\n"
    )
    assert "header-secret-value" not in output
    assert "password-secret" not in output
    assert workspace.webhook.signing_secret not in output


@pytest.mark.parametrize(
    ("fields", "lines"),
    [
        ({"kind": "bearer", "token": "s3cr3t-token"}, ["bearer token: set"]),
        (
            {"kind": "api_key", "api_key_header": "X-Api-Key", "api_key": "s3cr3t"},
            ["API key header: X-Api-Key", "API key: set"],
        ),
        (
            {
                "kind": "oauth2",
                "token_url": "https://auth.example.com/token",
                "client_id": "client-1",
                "client_secret": "s3cr3t-client",
            },
            [
                "token URL: https://auth.example.com/token",
                "client id: client-1",
                "client secret: set",
                "scope: not set",
            ],
        ),
    ],
)
def test_configurewebhook_shows_credentials_only_as_set(fields, lines):
    workspace = WorkspaceFactory(slug="acme", enabled=True)
    set_auth(workspace, **fields)

    output = run("configurewebhook", "acme")

    expected = [f"  authentication: {fields['kind']}", *(f"    {x}" for x in lines)]
    assert "\n".join(expected) + "\n  signing secret: whsec_******\n" in output
    assert "s3cr3t" not in output


def test_configurewebhook_reveals_the_signing_secret_alone():
    workspace = WorkspaceFactory(slug="acme")

    output = run("configurewebhook", "acme", "--reveal-signing-secret")

    assert output == workspace.webhook.signing_secret + "\n"


def test_configurewebhook_reveals_the_signing_secret_only_without_other_options():
    workspace = WorkspaceFactory(slug="acme", enabled=True)
    before = stored_rows()

    with pytest.raises(
        CommandError,
        match="^--reveal-signing-secret prints the signing secret alone; run it "
        "without other options.$",
    ):
        run("configurewebhook", "acme", "--reveal-signing-secret", "--disable")

    assert stored_rows() == before
    assert workspace.webhook.signing_secret


def test_configurewebhook_refuses_an_unknown_workspace():
    with pytest.raises(CommandError, match='^Workspace "nope" does not exist.$'):
        run("configurewebhook", "nope")


# configurewebhook: changing the configuration


def test_configurewebhook_enables_and_configures_the_webhook():
    workspace = WorkspaceFactory(name="Acme", slug="acme")

    output = run(
        "configurewebhook",
        "acme",
        "--enable",
        "--method",
        "put",
        "--url",
        "https://receiver.example.com/in",
        "--events",
        "cta-clicked, video-played",
    )

    config = WebhookConfig.objects.get(workspace=workspace)
    assert config.enabled is True
    assert config.http_method == "PUT"
    assert config.endpoint_url == "https://receiver.example.com/in"
    assert config.event_types == ["video-played", "cta-clicked"]
    assert config.updated_by is None
    assert [(h.name, h.value) for h in config.headers.all()] == [
        ("Content-Type", "application/json")
    ]
    assert output.startswith(
        "Webhook of acme saved.\n"
        "Webhook of acme (Acme)\n"
        "  enabled: yes\n"
        "  method: PUT\n"
        "  URL: https://receiver.example.com/in\n"
        "  events: video-played, cta-clicked\n"
    )


def test_configurewebhook_disables_the_webhook_and_keeps_its_settings():
    workspace = WorkspaceFactory(slug="acme", enabled=True)
    set_auth(workspace, kind="bearer", token="token-secret")

    output = run("configurewebhook", "acme", "--disable")

    config = WebhookConfig.objects.get(workspace=workspace)
    assert config.enabled is False
    assert config.endpoint_url == "https://receiver.example.com/hooks"
    assert config.auth.token == "token-secret"
    assert config.headers.get().value == "application/json"
    assert "  enabled: no\n" in output


def test_configurewebhook_keeps_settings_that_are_not_given():
    workspace = WorkspaceFactory(slug="acme", enabled=True, webhook__http_method="GET")
    set_auth(workspace, kind="basic", username="alice", password="password-secret")

    run("configurewebhook", "acme", "--username", "bob")

    config = WebhookConfig.objects.get(workspace=workspace)
    assert config.http_method == "GET"
    assert config.endpoint_url == "https://receiver.example.com/hooks"
    assert len(config.event_types) == 5
    assert config.headers.get().value == "application/json"
    assert config.auth.username == "bob"
    assert config.auth.password == "password-secret"


def test_configurewebhook_replaces_the_headers_in_the_order_given():
    workspace = WorkspaceFactory(slug="acme", enabled=True)
    WebhookHeader.objects.create(
        config=workspace.webhook, position=1, name="X-Old", value="old"
    )

    run(
        "configurewebhook",
        "acme",
        "--header",
        "X-Api-Version: 2",
        "--header",
        "content-type:text/plain; charset=utf-8",
        "--header",
        "X-Empty:",
    )

    headers = WebhookHeader.objects.filter(config__workspace=workspace)
    assert [(h.position, h.name, h.value) for h in headers] == [
        (0, "X-Api-Version", "2"),
        (1, "content-type", "text/plain; charset=utf-8"),
        (2, "X-Empty", ""),
    ]


def test_configurewebhook_clears_the_headers():
    workspace = WorkspaceFactory(slug="acme", enabled=True)

    output = run("configurewebhook", "acme", "--clear-headers")

    assert not WebhookHeader.objects.filter(config__workspace=workspace).exists()
    assert "  headers: none\n" in output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--auth", "none"], {"kind": "none"}),
        (
            ["--auth", "basic", "--username", "alice", "--password", "pw"],
            {"kind": "basic", "username": "alice", "password": "pw"},
        ),
        (["--auth", "bearer", "--token", "tk"], {"kind": "bearer", "token": "tk"}),
        (
            ["--auth", "api_key", "--api-key-header", "X-Key", "--api-key", "k"],
            {"kind": "api_key", "api_key_header": "X-Key", "api_key": "k"},
        ),
        (
            [
                "--auth",
                "oauth2",
                "--token-url",
                "https://auth.example.com/token",
                "--client-id",
                "client-1",
                "--client-secret",
                "cs",
                "--scope",
                "events:write",
            ],
            {
                "kind": "oauth2",
                "token_url": "https://auth.example.com/token",
                "client_id": "client-1",
                "client_secret": "cs",
                "scope": "events:write",
            },
        ),
    ],
)
def test_configurewebhook_saves_each_kind_of_authentication(args, expected):
    workspace = WorkspaceFactory(slug="acme", enabled=True)
    set_auth(workspace, kind="basic", username="old-user", password="old-password")

    run("configurewebhook", "acme", *args)

    auth = WebhookAuth.objects.get(config__workspace=workspace)
    stored = {
        name: getattr(auth, name)
        for name in (
            "kind",
            "username",
            "password",
            "token",
            "api_key_header",
            "api_key",
            "token_url",
            "client_id",
            "client_secret",
            "scope",
        )
    }
    assert stored == {name: expected.get(name, "") for name in stored}


def test_configurewebhook_enables_with_headers_and_authentication_in_one_go():
    workspace = WorkspaceFactory(slug="acme")

    run(
        "configurewebhook",
        "acme",
        "--enable",
        "--url",
        "https://receiver.example.com/in",
        "--events",
        "share-clicked",
        "--header",
        "X-Tenant: acme",
        "--auth",
        "bearer",
        "--token",
        "tk",
    )

    config = WebhookConfig.objects.get(workspace=workspace)
    assert config.enabled is True
    assert [(h.name, h.value) for h in config.headers.all()] == [("X-Tenant", "acme")]
    assert config.auth.kind == "bearer"
    assert config.auth.token == "tk"


# configurewebhook: refusing invalid changes


ENABLED_ERRORS = [
    (
        ["--enable"],
        "  Endpoint URL: An enabled webhook needs an endpoint URL.\n"
        "  Subscribed events: Choose at least one event to send.",
    ),
    (
        ["--enable", "--url", "https://receiver.example.com/in"],
        "  Subscribed events: Choose at least one event to send.",
    ),
]


@pytest.mark.parametrize(("args", "errors"), ENABLED_ERRORS)
def test_configurewebhook_needs_a_url_and_events_to_enable(args, errors):
    WorkspaceFactory(slug="acme")
    before = stored_rows()

    with pytest.raises(CommandError) as raised:
        run("configurewebhook", "acme", *args)

    assert str(raised.value) == f'The webhook of "acme" was not changed:\n{errors}'
    assert stored_rows() == before


@pytest.mark.parametrize(
    ("args", "errors"),
    [
        (["--events", ""], ["Subscribed events: Choose at least one event to send."]),
        (
            ["--events", "video-played,nope"],
            [
                "Subscribed events: Select a valid choice. nope is not one of the "
                "available choices."
            ],
        ),
        (["--url", ""], ["Endpoint URL: An enabled webhook needs an endpoint URL."]),
        (["--url", "not a url"], ["Endpoint URL: Enter a valid URL."]),
        (
            ["--url", "ftp://receiver.example.com/in"],
            ["Endpoint URL: The endpoint URL must start with http:// or https://."],
        ),
        (
            ["--url", "https://user:pw@receiver.example.com/in"],
            [
                "Endpoint URL: Put credentials under Authentication, not in the "
                "URL: a user name or password in the URL would be stored "
                "unencrypted."
            ],
        ),
        (
            ["--header", "Host: evil.example"],
            [
                "Header 1 name: “Host” is set by External Events on every request "
                "and cannot be configured."
            ],
        ),
        (
            ["--header", "X-Ok: 1", "--header", "webhook-id: forged"],
            [
                "Header 2 name: “webhook-id” is set by External Events on every "
                "request and cannot be configured."
            ],
        ),
        (
            ["--header", "Bad Name: 1"],
            [
                "Header 1 name: “Bad Name” is not a valid header name: use letters, "
                "digits and - _ . ! # $ % & ' * + ^ ` | ~ only, without spaces."
            ],
        ),
        (["--header", ": 1"], ["Header 1 name: This field is required."]),
        (
            ["--header", "X-Tenant: a", "--header", "x-tenant: b"],
            [
                "Header 2 name: “x-tenant” is already set in another row: a header "
                "can be sent only once."
            ],
        ),
        (
            ["--auth", "basic"],
            [
                "Username: Basic authentication needs this.",
                "Password: Basic authentication needs this.",
            ],
        ),
        (
            ["--auth", "basic", "--username", "alice"],
            ["Password: Basic authentication needs this."],
        ),
        (
            ["--auth", "bearer"],
            ["Bearer token: Bearer token authentication needs this."],
        ),
        (
            ["--auth", "api_key"],
            [
                "API key header: API key authentication needs this.",
                "API key: API key authentication needs this.",
            ],
        ),
        (
            ["--auth", "api_key", "--api-key-header", "Authorization value"],
            [
                "API key: API key authentication needs this.",
                "API key header: “Authorization value” is not a valid header name: "
                "use letters, digits and - _ . ! # $ % & ' * + ^ ` | ~ only, "
                "without spaces.",
            ],
        ),
        (
            ["--auth", "oauth2"],
            [
                "Token URL: OAuth 2.0 client credentials authentication needs this.",
                "Client id: OAuth 2.0 client credentials authentication needs this.",
                "Client secret: OAuth 2.0 client credentials authentication needs "
                "this.",
            ],
        ),
        (
            [
                "--auth",
                "oauth2",
                "--token-url",
                "ftp://auth.example.com/token",
                "--client-id",
                "c",
                "--client-secret",
                "s",
            ],
            ["Token URL: The endpoint URL must start with http:// or https://."],
        ),
    ],
)
def test_configurewebhook_lists_every_error_and_changes_nothing(args, errors):
    workspace = WorkspaceFactory(slug="acme", enabled=True)
    WebhookHeader.objects.create(
        config=workspace.webhook, position=1, name="X-Old", value="old"
    )
    before = stored_rows()

    with pytest.raises(CommandError) as raised:
        run("configurewebhook", "acme", *args)

    assert str(raised.value) == "\n".join(
        ['The webhook of "acme" was not changed:', *(f"  {e}" for e in errors)]
    )
    assert stored_rows() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--url", "https://receiver.example.com/in", "--events", "share-clicked"],
            'The webhook of "acme" is disabled, and its settings can only be '
            "changed while it is enabled: add --enable to change --url, --events.",
        ),
        (
            ["--header", "X-Tenant: acme"],
            'The webhook of "acme" is disabled, and its settings can only be '
            "changed while it is enabled: add --enable to change --header.",
        ),
        (
            ["--auth", "bearer", "--token", "tk"],
            'The webhook of "acme" is disabled, and its settings can only be '
            "changed while it is enabled: add --enable to change --auth, --token.",
        ),
        (
            ["--disable", "--method", "GET"],
            "--disable cannot be combined with --method: a disabled webhook's "
            "settings are kept as they are and cannot be changed.",
        ),
    ],
)
def test_configurewebhook_changes_settings_only_of_an_enabled_webhook(args, message):
    WorkspaceFactory(slug="acme")
    before = stored_rows()

    with pytest.raises(CommandError) as raised:
        run("configurewebhook", "acme", *args)

    assert str(raised.value) == message
    assert stored_rows() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--password", "pw"],
            "Without authentication, --password cannot be used.",
        ),
        (
            ["--auth", "bearer", "--token", "tk", "--username", "alice"],
            "Bearer token authentication does not use --username; it uses --token.",
        ),
        (
            ["--auth", "basic", "--username", "a", "--password", "b", "--scope", "x"],
            "Basic authentication does not use --scope; it uses --username, "
            "--password.",
        ),
        (
            ["--header", "no colon here"],
            '--header takes "Name: value"; got "no colon here".',
        ),
        (
            [arg for index in range(21) for arg in ("--header", f"X-{index}: 1")],
            "At most 20 headers can be set; 21 were given.",
        ),
    ],
)
def test_configurewebhook_refuses_options_the_form_would_ignore(args, message):
    WorkspaceFactory(slug="acme", enabled=True)
    before = stored_rows()

    with pytest.raises(CommandError) as raised:
        run("configurewebhook", "acme", *args)

    assert str(raised.value) == message
    assert stored_rows() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "delete"], "argument --method: invalid choice: 'DELETE'"),
        (["--auth", "digest"], "argument --auth: invalid choice: 'digest'"),
        (["--enable", "--disable"], "argument --disable: not allowed with"),
        (
            ["--clear-headers", "--header", "X-A: 1"],
            "argument --header: not allowed with argument --clear-headers",
        ),
    ],
)
def test_configurewebhook_rejects_unknown_choices(args, message):
    WorkspaceFactory(slug="acme", enabled=True)

    with pytest.raises(CommandError, match=message):
        run("configurewebhook", "acme", *args)


# demo


def test_demo_creates_the_admin_and_the_demo_workspace_once():
    first = run("demo")
    second = run("demo")

    admin = get_user_model().objects.get()
    workspace = Workspace.objects.get()
    password = parse_fields(first)["password"]
    assert admin.username == "admin"
    assert admin.email == "admin@example.com"
    assert admin.is_superuser
    assert admin.is_staff
    assert admin.check_password(password)
    assert (workspace.name, workspace.slug) == ("Demo", "demo")
    assert workspace.webhook.enabled is False
    assert Membership.objects.get().user == admin
    assert Membership.objects.get().role == Role.ADMIN
    assert "Sign in to the admin at /admin/ as admin." in first
    assert password not in second
    assert "password:" not in second
    assert "`python manage.py changepassword admin`" in second
    assert "Sign in to the admin at /admin/ as admin." in second


def test_demo_keeps_an_existing_admin_and_workspace():
    admin = UserFactory(username="admin")
    MembershipFactory(user=admin, workspace__slug="demo", admin=True)
    before = stored_rows()

    output = run("demo")

    assert stored_rows() == before
    assert "password:" not in output
    assert f"ingest key: {Workspace.objects.get().ingest_key}" in output


# reencryptsecrets


def test_reencryptsecrets_reencrypts_every_secret_with_the_newest_key(settings):
    workspace = WorkspaceFactory(enabled=True)
    set_auth(workspace, kind="basic", username="alice", password="password-secret")
    config = workspace.webhook
    header = config.headers.get()
    settings.WEBHOOK_ENCRYPTION_KEYS = [NEW_ENCRYPTION_KEY, TEST_ENCRYPTION_KEY]

    output = run("reencryptsecrets")

    assert output == (
        "webhooks.WebhookConfig (signing_secret, previous_signing_secret): "
        "1 re-encrypted\n"
        "webhooks.WebhookHeader (value): 1 re-encrypted\n"
        "webhooks.WebhookAuth (password, token, api_key, client_secret): "
        "1 re-encrypted\n"
        "Re-encrypted with the newest key: 3 values.\n"
    )
    new_key = Fernet(NEW_ENCRYPTION_KEY)
    stored = {
        "signing secret": stored_ciphertext(WebhookConfig, "signing_secret", config.pk),
        "header": stored_ciphertext(WebhookHeader, "value", header.pk),
        "password": stored_ciphertext(WebhookAuth, "password", config.auth.pk),
    }
    assert {
        name: new_key.decrypt(value).decode() for name, value in stored.items()
    } == {
        "signing secret": config.signing_secret,
        "header": "application/json",
        "password": "password-secret",
    }
    assert stored_ciphertext(WebhookConfig, "previous_signing_secret", config.pk) == ""
    assert WebhookAuth.objects.get(pk=config.auth.pk).password == "password-secret"
    assert WebhookHeader.objects.get(pk=header.pk).value == "application/json"


def test_reencryptsecrets_moves_values_off_a_retired_key(settings):
    settings.WEBHOOK_ENCRYPTION_KEYS = [OLD_TEST_ENCRYPTION_KEY]
    workspace = WorkspaceFactory()
    secret = workspace.webhook.signing_secret
    settings.WEBHOOK_ENCRYPTION_KEYS = [TEST_ENCRYPTION_KEY, OLD_TEST_ENCRYPTION_KEY]

    run("reencryptsecrets")

    stored = stored_ciphertext(WebhookConfig, "signing_secret", workspace.webhook.pk)
    with pytest.raises(InvalidToken):
        Fernet(OLD_TEST_ENCRYPTION_KEY).decrypt(stored)
    settings.WEBHOOK_ENCRYPTION_KEYS = [TEST_ENCRYPTION_KEY]
    assert WebhookConfig.objects.get(pk=workspace.webhook.pk).signing_secret == secret


def test_reencryptsecrets_reads_every_batch(settings, monkeypatch):
    monkeypatch.setattr(reencryptsecrets, "BATCH_SIZE", 2)
    configs = [WorkspaceFactory().webhook for _ in range(5)]
    settings.WEBHOOK_ENCRYPTION_KEYS = [NEW_ENCRYPTION_KEY, TEST_ENCRYPTION_KEY]

    output = run("reencryptsecrets")

    new_key = Fernet(NEW_ENCRYPTION_KEY)
    for config in configs:
        stored = stored_ciphertext(WebhookConfig, "signing_secret", config.pk)
        assert new_key.decrypt(stored).decode() == config.signing_secret
    assert "webhooks.WebhookHeader (value): 5 re-encrypted\n" in output


def test_reencryptsecrets_stops_at_a_value_no_key_decrypts(settings):
    good = WorkspaceFactory().webhook.headers.get()
    bad = WorkspaceFactory().webhook.headers.get()
    unreadable = Fernet(UNKNOWN_ENCRYPTION_KEY).encrypt(b"lost-secret").decode()
    store_ciphertext(WebhookHeader, "value", bad.pk, unreadable)
    good_before = stored_ciphertext(WebhookHeader, "value", good.pk)
    settings.WEBHOOK_ENCRYPTION_KEYS = [NEW_ENCRYPTION_KEY, TEST_ENCRYPTION_KEY]

    with pytest.raises(CommandError) as raised:
        run("reencryptsecrets")

    assert str(raised.value).startswith(
        f"webhooks.WebhookHeader.value of the row with pk {bad.pk} cannot be "
        "decrypted with any key in WEBHOOK_ENCRYPTION_KEYS; its batch was left "
        "unchanged"
    )
    assert "lost-secret" not in str(raised.value)
    assert unreadable not in str(raised.value)
    assert stored_ciphertext(WebhookHeader, "value", good.pk) == good_before
    assert stored_ciphertext(WebhookHeader, "value", bad.pk) == unreadable


def test_configurewebhook_replaces_every_header_at_once():
    WorkspaceFactory(slug="acme", enabled=True)
    headers = [arg for index in range(20) for arg in ("--header", f"X-{index}: 1")]

    run("configurewebhook", "acme", *headers)

    names = list(
        Workspace.objects.get(slug="acme").webhook.headers.values_list(
            "name", flat=True
        )
    )
    assert names == [f"X-{index}" for index in range(20)]
