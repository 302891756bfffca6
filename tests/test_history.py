import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.authtoken.models import Token

from tests.factories import MembershipFactory, WorkspaceFactory
from tests.test_forms import settings_data
from webhooks.models import WebhookAuth, WebhookConfig, WebhookHeader
from webhooks.workspaces import rotate_signing_secret

pytestmark = pytest.mark.django_db

SECRETS = {
    "header": "history-header-SECRET-1",
    "password": "history-password-SECRET-2",
    "token": "history-token-SECRET-3",
    "api_key": "history-api-key-SECRET-4",
    "client_secret": "history-client-secret-SECRET-5",
}
HISTORY_TABLES = (
    "webhooks_historicalwebhookconfig",
    "webhooks_historicalwebhookheader",
    "webhooks_historicalwebhookauth",
)


@pytest.fixture
def membership():
    return MembershipFactory(admin=True)


@pytest.fixture
def admin_client(client, membership):
    client.force_login(membership.user)
    return client


@pytest.fixture
def config(membership):
    return membership.workspace.webhook


def page_url(config):
    return f"/workspaces/{config.workspace.slug}/settings/external-events/"


def changed_fields(history):
    """Return the names of the fields the latest record changed."""
    latest = history.first()
    return sorted(
        change.field for change in latest.diff_against(latest.prev_record).changes
    )


def dump_history_tables() -> str:
    rows = []
    with connection.cursor() as cursor:
        for table in HISTORY_TABLES:
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608
            rows.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(rows)


def stored_ciphertexts() -> list[str]:
    """Return every encrypted value in the live tables, as stored."""
    queries = [
        "SELECT signing_secret, previous_signing_secret FROM webhooks_webhookconfig",
        "SELECT value FROM webhooks_webhookheader",
        "SELECT password, token, api_key, client_secret FROM webhooks_webhookauth",
    ]
    values = []
    with connection.cursor() as cursor:
        for query in queries:
            cursor.execute(query)
            values.extend(value for row in cursor.fetchall() for value in row if value)
    return values


def test_a_change_on_the_page_is_recorded_with_who_made_it(
    admin_client, config, membership
):
    admin_client.post(
        page_url(config), settings_data(config, endpoint_url="https://a.example.com/")
    )

    record = config.history.first()
    assert record.history_user == membership.user
    assert record.history_type == "~"
    assert record.endpoint_url == "https://a.example.com/"
    assert "endpoint_url" in changed_fields(config.history)
    assert "enabled" in changed_fields(config.history)


def test_a_change_from_the_command_line_has_no_user(config):
    call_command("configurewebhook", config.workspace.slug, "--disable", stdout=None)

    record = config.history.first()
    assert record.history_user is None


def test_a_change_through_the_api_is_recorded_with_the_tokens_user(
    client, config, membership
):
    token = Token.objects.create(user=membership.user)

    client.patch(
        f"/api/v1/workspaces/{config.workspace.slug}/webhook",
        {
            "enabled": True,
            "http_method": "PUT",
            "endpoint_url": "https://receiver.example.com/hooks",
            "event_types": ["video-played"],
        },
        content_type="application/json",
        headers={"Authorization": f"Token {token.key}"},
    )

    record = config.history.first()
    assert record.http_method == "PUT"
    assert record.history_user == membership.user


def test_a_new_header_value_shows_as_a_change_without_the_value(admin_client, config):
    header = config.headers.get()

    admin_client.post(
        page_url(config),
        settings_data(config, headers=[("Content-Type", SECRETS["header"])]),
    )

    created = WebhookHeader.history.filter(history_type="+").latest("history_id")
    assert created.value_revision == 1
    assert not hasattr(created, "value")
    assert header.history.filter(history_type="-").exists()


def test_a_kept_header_value_is_not_a_change(admin_client, config):
    header = config.headers.get()
    before = header.history.count()

    admin_client.post(page_url(config), settings_data(config))

    assert header.history.count() == before
    assert WebhookHeader.objects.get(pk=header.pk).value_revision == 1


def test_an_edited_header_value_bumps_its_revision(admin_client, config):
    header = config.headers.get()
    data = settings_data(config)
    data["headers-0-value"] = SECRETS["header"]

    admin_client.post(page_url(config), data)

    assert WebhookHeader.objects.get(pk=header.pk).value_revision == 2
    assert changed_fields(header.history) == ["value_revision"]


def test_changed_credentials_show_as_a_new_revision(admin_client, config):
    auth = config.auth

    admin_client.post(
        page_url(config),
        settings_data(config, auth={"kind": "bearer", "token": SECRETS["token"]}),
    )
    admin_client.post(
        page_url(config),
        settings_data(config, auth={"kind": "bearer", "token": ""}),
    )

    records = list(auth.history.all())
    assert [record.credentials_revision for record in records] == [1, 0]
    assert changed_fields(auth.history) == ["credentials_revision", "kind"]


def test_rotating_the_signing_secret_shows_as_a_new_revision(config):
    before = config.signing_secret_revision

    rotate_signing_secret(config=config)

    assert WebhookConfig.objects.get(pk=config.pk).signing_secret_revision == (
        before + 1
    )
    assert changed_fields(config.history) == [
        "signing_secret_revision",
        "signing_secret_rotated_at",
    ]


def test_no_secret_reaches_the_history_tables(admin_client, config):
    for kind, fields in [
        ("basic", {"username": "someone", "password": SECRETS["password"]}),
        ("bearer", {"token": SECRETS["token"]}),
        ("api_key", {"api_key_header": "X-Key", "api_key": SECRETS["api_key"]}),
        (
            "oauth2",
            {
                "token_url": "https://auth.example.com/token",
                "client_id": "c",
                "client_secret": SECRETS["client_secret"],
            },
        ),
    ]:
        admin_client.post(
            page_url(config),
            settings_data(
                config,
                headers=[("X-Secret", SECRETS["header"])],
                auth={"kind": kind, **fields},
            ),
        )
    rotate_signing_secret(config=WebhookConfig.objects.get(pk=config.pk))
    # Several kinds' secrets at once, as a direct write would leave them.
    WebhookAuth.objects.filter(pk=config.auth.pk).update(
        password=SECRETS["password"], token=SECRETS["token"]
    )
    auth = WebhookAuth.objects.get(pk=config.auth.pk)
    auth.scope = "read"
    auth.save()
    config = WebhookConfig.objects.get(pk=config.pk)

    dump = dump_history_tables()

    assert "X-Secret" in dump
    assert "someone" in dump
    for secret in [*SECRETS.values(), config.signing_secret]:
        assert secret not in dump
    ciphertexts = stored_ciphertexts()
    assert len(ciphertexts) >= 6
    for ciphertext in ciphertexts:
        assert ciphertext not in dump


def test_history_rows_keep_only_non_secret_columns():
    with connection.cursor() as cursor:
        columns = {
            table: {
                column.name
                for column in connection.introspection.get_table_description(
                    cursor, table
                )
            }
            for table in HISTORY_TABLES
        }

    secret_columns = {
        "signing_secret",
        "previous_signing_secret",
        "value",
        "password",
        "token",
        "api_key",
        "client_secret",
    }
    for names in columns.values():
        assert not names & secret_columns


def test_creating_a_workspace_records_its_configuration(db):
    config = WorkspaceFactory().webhook

    assert config.history.get().history_type == "+"
    assert config.headers.get().history.get().value_revision == 1
    assert config.auth.history.get().credentials_revision == 0
