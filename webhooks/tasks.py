"""django-q2 entry points: thin wrappers that carry ids to the services.

A queued task holds ids only, never a model or a secret: the worker reads the
current state from the database, which is the source of truth. The queue only
wakes a worker up; a lost message is made good by the sweeper.
"""

import functools
import logging

from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task

from webhooks.delivery import attempt_delivery

logger = logging.getLogger(__name__)

DELIVER_TASK = "webhooks.tasks.deliver"


def deliver(delivery_id: int) -> None:
    """Attempt one delivery: the task the queue runs for each queued id."""
    attempt_delivery(delivery_id=delivery_id)


def sweep_deliveries() -> None:
    """Reclaim lapsed leases and queue due deliveries; scheduled every 30 s."""
    # Imported here: the sweeper queues deliveries through this module.
    from webhooks.sweeper import sweep_deliveries as sweep

    sweep()


def purge_old_rows() -> None:
    """Delete rows past their retention; scheduled daily."""
    from webhooks.retention import purge_old_rows as purge

    purge()


def queue_delivery(*, delivery_id: int) -> None:
    """Queue the task that attempts one delivery.

    A broker that cannot be reached is logged, not raised: the pending
    delivery row is already committed, and the sweeper queues due deliveries
    again, so the caller's request must not fail for it.
    """
    try:
        async_task(
            DELIVER_TASK,
            delivery_id,
            broker=get_task_broker(),
            q_options={"task_name": f"deliver-{delivery_id}", "group": "deliveries"},
        )
    except Exception:
        # Any failure of the broker (Redis down, the database locked) lands
        # here; the row stays pending and due.
        logger.warning("delivery not queued delivery=%s", delivery_id, exc_info=True)


@functools.cache
def get_task_broker() -> Broker:
    """Return this process's one broker.

    django-q2 builds a new broker, and so a new Redis connection, for every
    task queued without one; sharing it halves the cost of queueing.
    """
    return get_broker()
