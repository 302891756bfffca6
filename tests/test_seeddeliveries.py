import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Max, Min
from django.utils import timezone

from webhooks.models import (
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
    Workspace,
)

# The SQL path runs on PostgreSQL, the ORM path everywhere else.
pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def seed(**options):
    out = StringIO()
    call_command("seeddeliveries", stdout=out, **options)
    return out.getvalue()


def test_seeding_fills_every_table_with_a_realistic_mix():
    output = seed(deliveries=300, attempts_per_delivery=2, workspaces=3, seed=7)

    assert output.startswith(
        "Seeded 300 deliveries (300 events, 600 attempts) across 3 workspaces in "
    )
    assert list(Workspace.objects.values_list("slug", flat=True)) == [
        "seed-1",
        "seed-2",
        "seed-3",
    ]
    assert (Event.objects.count(), Delivery.objects.count()) == (300, 300)
    assert set(
        Delivery.objects.annotate(rows=Count("attempts")).values_list("rows", flat=True)
    ) == {2}
    statuses = set(Delivery.objects.values_list("status", flat=True))
    assert {DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED} <= statuses
    outcomes = set(DeliveryAttempt.objects.values_list("outcome", flat=True))
    assert {AttemptOutcome.SUCCEEDED, AttemptOutcome.HTTP_ERROR} <= outcomes
    assert Delivery.objects.values("workspace").distinct().count() == 3
    assert Delivery.objects.values("event_type").distinct().count() == 5


def test_seeded_deliveries_tell_a_consistent_story():
    seed(deliveries=200, attempts_per_delivery=3, workspaces=2, seed=3)

    succeeded = Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED)
    last_attempts = DeliveryAttempt.objects.filter(number=3)
    assert set(
        last_attempts.filter(delivery__in=succeeded).values_list("outcome", flat=True)
    ) == {AttemptOutcome.SUCCEEDED}
    assert not succeeded.filter(completed_at__isnull=True).exists()
    assert not Delivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__isnull=True
    ).exists()
    assert set(
        DeliveryAttempt.objects.filter(number__lt=3).values_list("outcome", flat=True)
    ).isdisjoint({AttemptOutcome.SUCCEEDED})
    hosts = set(DeliveryAttempt.objects.values_list("endpoint_host", flat=True))
    assert hosts == {"hooks.seed-1.example.com", "hooks.seed-2.example.com"}


def test_seeded_times_spread_over_the_days_asked_for():
    seed(deliveries=100, days=10)

    span = Delivery.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    now = timezone.now()
    assert now - datetime.timedelta(days=10, minutes=1) <= span["first"]
    assert span["first"] < now - datetime.timedelta(days=9)
    assert span["last"] <= now + datetime.timedelta(minutes=1)
    assert not Delivery.objects.filter(
        status=DeliveryStatus.PENDING, created_at__lt=now - datetime.timedelta(days=2)
    ).exists()


def test_seeding_again_adds_to_the_same_workspaces():
    seed(deliveries=10, workspaces=2)

    seed(deliveries=10, workspaces=2)

    assert Workspace.objects.count() == 2
    assert Delivery.objects.count() == 20


def test_seeding_nothing_is_refused():
    with pytest.raises(
        CommandError,
        match=r"^--deliveries, --attempts-per-delivery and --workspaces must be at "
        r"least 1\.$",
    ):
        seed(deliveries=0)
