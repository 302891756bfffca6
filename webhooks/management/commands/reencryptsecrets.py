"""Re-encrypt every stored secret with the newest encryption key."""

import logging

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models.functions import Cast

from webhooks.encryption import DecryptionError, EncryptedTextField, reencrypt_secret

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


class Command(BaseCommand):
    help = (
        "Re-encrypt every secret stored in an encrypted field with the first "
        "key of WEBHOOK_ENCRYPTION_KEYS. Run it after putting a new key first; "
        "remove an old key only once it has succeeded. Each batch of rows is "
        "written in its own transaction, so the command can be run again after "
        "an interruption."
    )

    def handle(self, *args, **options):
        total = 0
        for model, fields in find_encrypted_fields():
            count = reencrypt_model(model=model, fields=fields)
            total += count
            names = ", ".join(field.name for field in fields)
            self.stdout.write(f"{model._meta.label} ({names}): {count} re-encrypted")
        self.stdout.write(f"Re-encrypted with the newest key: {total} values.")


def find_encrypted_fields():
    """Return (model, encrypted fields) for every model that has any."""
    found = []
    for model in apps.get_models():
        # Local fields only: a child model of multi-table inheritance would
        # otherwise re-encrypt its parent's columns a second time.
        fields = [
            field
            for field in model._meta.local_concrete_fields
            if isinstance(field, EncryptedTextField)
        ]
        if fields:
            found.append((model, fields))
    return found


def reencrypt_model(*, model, fields) -> int:
    """Re-encrypt the non-empty values of ``fields`` in every row of ``model``.

    Returns how many values were re-encrypted. Raises CommandError naming the
    model, field and primary key of a value that no key decrypts, leaving its
    batch unchanged.
    """
    count = 0
    last_pk = None
    while True:
        # One transaction per batch: a failure leaves its batch as it was,
        # and the batches before it are readable with the newest key.
        with transaction.atomic():
            rows = read_ciphertexts(model=model, fields=fields, after=last_pk)
            count += reencrypt_rows(model=model, fields=fields, rows=rows)
        if len(rows) < BATCH_SIZE:
            break
        last_pk = rows[-1][0]
    logger.info("secrets re-encrypted model=%s count=%s", model._meta.label, count)
    return count


def reencrypt_rows(*, model, fields, rows) -> int:
    """Write back the non-empty ciphertexts of ``rows`` under the newest key."""
    count = 0
    for pk, *ciphertexts in rows:
        changes = {
            field.name: reencrypted(
                model=model, field=field, pk=pk, ciphertext=ciphertext
            )
            for field, ciphertext in zip(fields, ciphertexts, strict=True)
            if ciphertext
        }
        if changes:
            model._base_manager.filter(pk=pk).update(**changes)
            count += len(changes)
    return count


def read_ciphertexts(*, model, fields, after):
    """Return the next batch of (pk, ciphertext, ...) rows, locked for update.

    The columns are cast to plain text so that the encrypted field does not
    decrypt them on the way out.
    """
    queryset = model._base_manager.select_for_update().order_by("pk")
    if after is not None:
        queryset = queryset.filter(pk__gt=after)
    raw = {
        f"raw_{field.attname}": Cast(field.attname, output_field=models.TextField())
        for field in fields
    }
    return list(queryset.annotate(**raw).values_list("pk", *raw)[:BATCH_SIZE])


def reencrypted(*, model, field, pk, ciphertext):
    """Return ``ciphertext`` under the newest key, as an expression to store.

    Wrapping it in a plain-text Value keeps the encrypted field from
    encrypting the new ciphertext a second time on the way in.
    """
    try:
        token = reencrypt_secret(ciphertext)
    except (DecryptionError, UnicodeError) as error:
        # The value itself is never shown: it may be a secret stored in clear.
        raise CommandError(
            f"{model._meta.label}.{field.name} of the row with pk {pk} cannot be "
            "decrypted with any key in WEBHOOK_ENCRYPTION_KEYS; its batch was "
            "left unchanged (earlier batches are re-encrypted). Put back the key "
            "it was encrypted with and run the command again."
        ) from error
    return models.Value(token, output_field=models.TextField())
