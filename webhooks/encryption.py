"""Encryption of secrets at rest.

Credentials, header values and signing secrets are stored as Fernet tokens
(AES-128-CBC with an HMAC-SHA256, from the cryptography package), under keys
that belong to this project alone: ``WEBHOOK_ENCRYPTION_KEYS``, never anything
derived from ``SECRET_KEY``. The first key encrypts and every key decrypts, so
keys rotate by putting a new one first and running ``reencryptsecrets``.
"""

import functools
import logging
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from seen_events.local_keys import read_or_create_key

logger = logging.getLogger(__name__)


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


def encrypt_secret(plaintext: str) -> str:
    """Return ``plaintext`` encrypted with the newest key, as text."""
    return _cipher(_current_keys()).encrypt(plaintext.encode()).decode("ascii")


def decrypt_secret(token: str) -> str:
    """Return the plaintext of ``token``.

    Raises DecryptionError when no configured key opens it: a ciphertext is
    never handed back in place of the secret.
    """
    try:
        return _cipher(_current_keys()).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as error:
        raise DecryptionError(
            "A stored secret cannot be decrypted with any key in "
            "WEBHOOK_ENCRYPTION_KEYS. Put back the key it was encrypted with; "
            "remove an old key only after `manage.py reencryptsecrets` has run."
        ) from error


def reencrypt_secret(token: str) -> str:
    """Return ``token`` encrypted again with the newest key."""
    try:
        return _cipher(_current_keys()).rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError) as error:
        raise DecryptionError(
            "A stored secret cannot be decrypted with any key in "
            "WEBHOOK_ENCRYPTION_KEYS, so it cannot be re-encrypted."
        ) from error


def is_valid_key(key: str) -> bool:
    """Tell whether ``key`` is a usable Fernet key."""
    try:
        Fernet(key)
    except (ValueError, TypeError):
        return False
    return True


def _current_keys() -> tuple[str, ...]:
    # Read at call time, so a changed setting takes effect without a restart
    # of the test process and without import-order surprises.
    configured = tuple(settings.WEBHOOK_ENCRYPTION_KEYS)
    if configured:
        return configured
    if not settings.DEBUG:
        raise ImproperlyConfigured(
            "WEBHOOK_ENCRYPTION_KEYS is not set. Generate a key with "
            "`python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`."
        )
    return (_development_key(str(settings.WEBHOOK_DEVELOPMENT_KEY_FILE)),)


@functools.cache
def _development_key(path: str) -> str:
    logger.warning(
        "WEBHOOK_ENCRYPTION_KEYS is not set; secrets are encrypted with the "
        "development key in %s. Set the variable before going to production.",
        path,
    )
    return read_or_create_key(
        path=Path(path), generate=lambda: Fernet.generate_key().decode("ascii")
    )


@functools.lru_cache(maxsize=8)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


class EncryptedTextField(models.TextField):
    """A text column whose non-empty values are stored encrypted.

    Values cannot be filtered on: the same plaintext encrypts differently each
    time. An empty string stays empty, so "not set" remains visible without a
    key.
    """

    description = "Text encrypted at rest"

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return decrypt_secret(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt_secret(value)
