"""Deleting events, deliveries and attempts once their retention has passed."""

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webhooks.models import Delivery, DeliveryAttempt, Event

logger = logging.getLogger(__name__)

# Rows deleted per statement: small enough that each transaction holds its
# locks (the whole database, on SQLite) for a few milliseconds only.
BATCH_SIZE = 1000


def purge_old_rows(
    *, now: datetime.datetime | None = None, batch_size: int = BATCH_SIZE
) -> dict[str, int]:
    """Delete rows older than WEBHOOK_RETENTION_DAYS and return counts by table.

    Attempts go first, then deliveries, then events, each in batches of its
    own transaction, so readers and the delivery worker are never held up by
    one long delete. A delivery is as old as its event, so nothing younger
    than the cut-off is touched.
    """
    cutoff = (now or timezone.now()) - datetime.timedelta(
        days=settings.WEBHOOK_RETENTION_DAYS
    )
    deleted = {
        "attempts": _delete_in_batches(
            DeliveryAttempt.objects.filter(delivery__created_at__lt=cutoff),
            batch_size=batch_size,
        ),
        "deliveries": _delete_in_batches(
            Delivery.objects.filter(created_at__lt=cutoff), batch_size=batch_size
        ),
        "events": _delete_in_batches(
            Event.objects.filter(received_at__lt=cutoff, delivery__isnull=True),
            batch_size=batch_size,
        ),
    }
    logger.info(
        "old rows purged cutoff=%s attempts=%s deliveries=%s events=%s",
        cutoff.isoformat(),
        deleted["attempts"],
        deleted["deliveries"],
        deleted["events"],
    )
    return deleted


def _delete_in_batches(queryset, *, batch_size: int) -> int:
    total = 0
    model = queryset.model
    while True:
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True)[:batch_size])
            if not ids:
                return total
            model.objects.filter(pk__in=ids).delete()
        total += len(ids)
