import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from tests.conftest import OLD_TEST_ENCRYPTION_KEY, TEST_ENCRYPTION_KEY
from tests.factories import WorkspaceFactory
from webhooks.encryption import DecryptionError, decrypt_secret, encrypt_secret
from webhooks.models import AuthKind, WebhookAuth, WebhookConfig, WebhookHeader

SECRETS = {
    "header": "header-value-PLAINTEXT-1",
    "password": "basic-password-PLAINTEXT-2",
    "token": "bearer-token-PLAINTEXT-3",
    "api_key": "api-key-PLAINTEXT-4",
    "client_secret": "client-secret-PLAINTEXT-5",
}


def dump_all_tables() -> str:
    """Return every row of every table as text, read with raw SQL."""
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608
            rows.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(rows)


def test_raw_tables_hold_no_plaintext_secret(db):
    workspace = WorkspaceFactory()
    config = workspace.webhook
    WebhookHeader.objects.create(
        config=config, position=1, name="X-Token", value=SECRETS["header"]
    )
    auth = config.auth
    for kind, fields in [
        (AuthKind.BASIC, {"username": "someone", "password": SECRETS["password"]}),
        (AuthKind.BEARER, {"token": SECRETS["token"]}),
    ]:
        auth.kind = kind
        for name, value in fields.items():
            setattr(auth, name, value)
        auth.save()
    # Several kinds' secrets at once, as a direct write would leave them.
    WebhookAuth.objects.filter(pk=auth.pk).update(
        api_key=SECRETS["api_key"], client_secret=SECRETS["client_secret"]
    )

    dump = dump_all_tables()

    assert config.signing_secret.startswith("whsec_")
    for secret in [*SECRETS.values(), config.signing_secret]:
        assert secret not in dump
    assert "Content-Type" in dump
    assert "application/json" not in dump


def test_secrets_read_back_decrypted(db):
    config = WorkspaceFactory().webhook
    WebhookHeader.objects.create(config=config, position=1, name="X-A", value="one")

    reloaded = WebhookConfig.objects.get(pk=config.pk)

    assert reloaded.signing_secret == config.signing_secret
    assert [h.value for h in reloaded.headers.all()] == ["application/json", "one"]


def test_empty_secret_is_stored_empty(db):
    auth = WorkspaceFactory().webhook.auth

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT token FROM webhooks_webhookauth WHERE id = %s", [auth.pk]
        )
        (raw,) = cursor.fetchone()

    assert raw == ""


def test_value_encrypted_with_an_old_key_still_decrypts(settings):
    settings.WEBHOOK_ENCRYPTION_KEYS = [OLD_TEST_ENCRYPTION_KEY]
    token = encrypt_secret("kept")
    settings.WEBHOOK_ENCRYPTION_KEYS = [TEST_ENCRYPTION_KEY, OLD_TEST_ENCRYPTION_KEY]

    assert decrypt_secret(token) == "kept"


def test_value_no_key_opens_fails_loudly(db, settings):
    config = WorkspaceFactory().webhook
    settings.WEBHOOK_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(DecryptionError, match="cannot be decrypted with any key"):
        WebhookConfig.objects.get(pk=config.pk)


def test_decryption_error_does_not_repeat_the_ciphertext(settings):
    token = encrypt_secret("secret")
    settings.WEBHOOK_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(DecryptionError) as raised:
        decrypt_secret(token)

    assert token not in str(raised.value)


def test_missing_keys_without_debug_refuse_to_encrypt(settings):
    settings.WEBHOOK_ENCRYPTION_KEYS = []
    settings.DEBUG = False

    with pytest.raises(
        ImproperlyConfigured, match="WEBHOOK_ENCRYPTION_KEYS is not set"
    ):
        encrypt_secret("anything")


def test_missing_keys_in_debug_use_the_local_key_file(settings, tmp_path, caplog):
    settings.WEBHOOK_ENCRYPTION_KEYS = []
    settings.DEBUG = True
    settings.WEBHOOK_DEVELOPMENT_KEY_FILE = tmp_path / "dev.key"

    token = encrypt_secret("local")
    again = encrypt_secret("local")

    key = (tmp_path / "dev.key").read_text().strip()
    assert Fernet(key).decrypt(token.encode()) == b"local"
    assert decrypt_secret(again) == "local"
    assert (tmp_path / "dev.key").stat().st_mode & 0o777 == 0o600
    warnings = [r for r in caplog.records if "development key" in r.getMessage()]
    assert len(warnings) == 1
