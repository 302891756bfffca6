import pytest
from django_q.models import Schedule

from webhooks.schedules import SCHEDULES, ensure_schedules

pytestmark = pytest.mark.django_db


def test_migrate_leaves_every_schedule_in_place():
    names = set(Schedule.objects.values_list("name", flat=True))

    assert {definition["name"] for definition in SCHEDULES} <= names


def test_a_deleted_or_edited_schedule_is_restored():
    Schedule.objects.filter(name="webhooks: purge old deliveries").delete()
    Schedule.objects.filter(name="webhooks: sweep deliveries").update(
        cron="0 * * * *", repeats=0
    )

    ensure_schedules()

    sweep = Schedule.objects.get(name="webhooks: sweep deliveries")
    assert (sweep.cron, sweep.repeats) == ("* * * * * */10", -1)
    purge = Schedule.objects.get(name="webhooks: purge old deliveries")
    assert (purge.func, purge.schedule_type) == (
        "webhooks.tasks.purge_old_rows",
        Schedule.DAILY,
    )


def test_ensuring_twice_creates_nothing_new():
    before = Schedule.objects.count()

    ensure_schedules()

    assert Schedule.objects.count() == before
