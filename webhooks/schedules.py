"""The periodic tasks the product needs, kept present in django-q2.

They are written after every ``migrate``, so a new deployment has them without
anyone creating them by hand, and an edited or deleted schedule is put back.
"""

import logging

from django_q.models import Schedule

logger = logging.getLogger(__name__)

# django-q2's scheduler looks for due schedules every 30 seconds; a cron
# expression with a seconds field (croniter's sixth) is due at every look, so
# the sweep runs twice a minute.
SCHEDULES = (
    {
        "name": "webhooks: sweep deliveries",
        "func": "webhooks.tasks.sweep_deliveries",
        "schedule_type": Schedule.CRON,
        "cron": "* * * * * */10",
    },
    {
        "name": "webhooks: purge old deliveries",
        "func": "webhooks.tasks.purge_old_rows",
        "schedule_type": Schedule.DAILY,
        "cron": None,
    },
)


def ensure_schedules(**kwargs) -> None:
    """Create or restore every schedule in SCHEDULES; a post_migrate receiver."""
    for definition in SCHEDULES:
        values = {key: value for key, value in definition.items() if key != "name"}
        schedule, created = Schedule.objects.get_or_create(
            name=definition["name"], defaults={**values, "repeats": -1}
        )
        stale = {
            key: value
            for key, value in values.items()
            if getattr(schedule, key) != value
        }
        if not created and (stale or schedule.repeats != -1):
            for key, value in stale.items():
                setattr(schedule, key, value)
            schedule.repeats = -1
            schedule.save()
        if created or stale:
            logger.info("schedule written name=%s", definition["name"])
