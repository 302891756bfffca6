"""Time the delivery audit's admin pages on a large database.

Run it with DATABASE_URL naming a PostgreSQL database seeded by
``manage.py seeddeliveries --deliveries 1000000 --attempts-per-delivery 2``
(``make bench`` creates, migrates and seeds one, then runs this):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/seen_events_bench \\
        python bench/admin_pages.py

Each page is fetched with Django's test client as a logged-in superuser, once
to warm up and then RUNS times. The script prints each page's median and p95
in milliseconds and the median's ratio to the baseline's (the admin index,
which touches none of the audit tables) measured in the same run, and flags
every page whose p95 is over its budget; the exit status is 1 if any is.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seen_events.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from webhooks.models import (  # noqa: E402
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
    Workspace,
)

RUNS = int(os.environ.get("BENCH_RUNS", "15"))
LIST_BUDGET_MS = 300
DELIVERY_PAGE_BUDGET_MS = 100
OTHER_PAGE_BUDGET_MS = 300
BENCH_USER = "bench-admin"


def main() -> int:
    if connection.vendor != "postgresql":
        print("The figures mean something on PostgreSQL only; DATABASE_URL is not.")
    sample = find_sample()
    client = Client(HTTP_HOST="localhost")
    client.force_login(bench_user())

    print(
        f"{table_size(Delivery):,} deliveries, {table_size(DeliveryAttempt):,} "
        f"attempts, {table_size(Event):,} events (planner estimates); "
        f"{RUNS} runs per page after one warm-up.\n"
    )
    baseline = measure(client, reverse("admin:index"))
    rows = [("admin index (baseline)", baseline, None)]
    over = []
    for name, url, budget in pages(sample):
        timings = measure(client, url)
        rows.append((name, timings, budget))
        if percentile(timings, 0.95) > budget:
            over.append(name)

    base = statistics.median(baseline)
    print(f"{'page':58} {'median':>8} {'p95':>8} {'× base':>7} {'budget':>7}")
    for name, timings, budget in rows:
        median = statistics.median(timings)
        flag = "  OVER" if name in over else ""
        print(
            f"{name:58} {median:8.1f} {percentile(timings, 0.95):8.1f} "
            f"{median / base:7.1f} {budget or '':>7}{flag}"
        )
    print()
    if over:
        print(f"{len(over)} page(s) over budget: {', '.join(over)}")
        return 1
    print("Every page is within its budget.")
    return 0


def pages(sample):
    """Yield (name, url, budget in ms) for every page measured."""
    deliveries = reverse("admin:webhooks_delivery_changelist")
    attempts = reverse("admin:webhooks_deliveryattempt_changelist")
    events = reverse("admin:webhooks_event_changelist")
    today = sample["today"]
    month = f"created_at__year={today.year}&created_at__month={today.month}"
    day = f"{month}&created_at__day={today.day}"
    small = sample["small_workspace"]

    for name, query in [
        ("all", ""),
        ("status failed", "status__exact=failed"),
        ("status pending", "status__exact=pending"),
        ("status in flight", "status__exact=in_flight"),
        ("event type cta-clicked", "event_type__exact=cta-clicked"),
        ("workspace (smallest)", f"workspace__id__exact={small}"),
        ("last response 2xx", "response=2xx"),
        ("last response 3xx", "response=3xx"),
        ("last response 5xx", "response=5xx"),
        ("no response", "response=none"),
        ("this month", month),
        ("today", day),
        (
            "workspace + failed + 5xx",
            f"workspace__id__exact={small}&status__exact=failed&response=5xx",
        ),  # noqa: E501
        ("search delivery id", f"q={sample['delivery'].pk}"),
        ("search event id", f"q={sample['delivery'].event_id}"),
        ("search client event id", f"q={sample['client_event_id']}"),
        ("search endpoint host (smallest)", f"q={sample['small_host']}"),
        ("search session id", f"q={sample['session_id']}"),
        ("search video id", f"q={sample['video_id']}"),
        ("search nothing found", "q=no-such-session"),
        ("page 50", "p=50"),
    ]:
        yield f"deliveries: {name}", f"{deliveries}?{query}", LIST_BUDGET_MS

    started = month.replace("created_at", "started_at")
    for name, query in [
        ("all", ""),
        ("outcome timeout", "outcome__exact=timeout"),
        ("outcome in progress", "outcome__exact=in_progress"),
        ("response 3xx", "response=3xx"),
        ("response 5xx", "response=5xx"),
        ("no response", "response=none"),
        ("workspace (smallest)", f"delivery__workspace__id__exact={small}"),
        ("event type share-clicked", "delivery__event_type__exact=share-clicked"),
        ("this month", started),
        ("search delivery id", f"q={sample['delivery'].pk}"),
        ("search event id", f"q={sample['delivery'].event_id}"),
        ("search endpoint host (smallest)", f"q={sample['small_host']}"),
        ("search session id", f"q={sample['session_id']}"),
    ]:
        yield f"attempts: {name}", f"{attempts}?{query}", LIST_BUDGET_MS

    received = month.replace("created_at", "received_at")
    for name, query in [
        ("all", ""),
        ("type video-watched", "type__exact=video-watched"),
        ("workspace (smallest)", f"workspace__id__exact={small}"),
        ("this month", received),
        ("search event id", f"q={sample['delivery'].event_id}"),
        ("search delivery id", f"q={sample['delivery'].pk}"),
        ("search video id", f"q={sample['video_id']}"),
    ]:
        yield f"events: {name}", f"{events}?{query}", LIST_BUDGET_MS

    yield (
        "delivery page",
        reverse("admin:webhooks_delivery_change", args=[sample["delivery"].pk]),
        DELIVERY_PAGE_BUDGET_MS,
    )
    yield (
        "delivery page (failed)",
        reverse("admin:webhooks_delivery_change", args=[sample["failed"].pk]),
        DELIVERY_PAGE_BUDGET_MS,
    )
    yield (
        "attempt page",
        reverse("admin:webhooks_deliveryattempt_change", args=[sample["attempt_id"]]),
        DELIVERY_PAGE_BUDGET_MS,
    )
    yield (
        "workspace page, health (largest)",
        reverse("admin:webhooks_workspace_change", args=[sample["large_workspace"]]),
        OTHER_PAGE_BUDGET_MS,
    )


def find_sample() -> dict:
    """Pick real rows to search for and open, from the newest deliveries."""
    delivery = Delivery.objects.select_related("event").order_by("-created_at").first()
    if delivery is None:
        sys.exit("No delivery: seed the database first (see the module docstring).")
    workspaces = list(
        Workspace.objects.filter(slug__startswith="seed-").order_by("pk")
    ) or list(Workspace.objects.order_by("pk"))
    small = workspaces[-1]
    small_host = (
        DeliveryAttempt.objects.filter(delivery__workspace=small)
        .order_by("-started_at")
        .values_list("endpoint_host", flat=True)
        .first()
    )
    client_event_id = (
        Event.objects.filter(client_event_id__isnull=False)
        .order_by("-received_at")
        .values_list("client_event_id", flat=True)
        .first()
    )
    failed = (
        Delivery.objects.filter(status=DeliveryStatus.FAILED)
        .order_by("-created_at")
        .first()
    )
    return {
        "delivery": delivery,
        "failed": failed or delivery,
        "attempt_id": delivery.attempts.values_list("pk", flat=True).first(),
        "client_event_id": client_event_id,
        "session_id": delivery.event.session_id,
        "video_id": delivery.event.video_id,
        "small_workspace": small.pk,
        "small_host": small_host,
        "large_workspace": workspaces[0].pk,
        "today": delivery.created_at.date(),
    }


def bench_user():
    user, _ = get_user_model().objects.get_or_create(
        username=BENCH_USER, defaults={"is_staff": True, "is_superuser": True}
    )
    return user


def measure(client, url) -> list[float]:
    response = client.get(url)
    if response.status_code != 200 or "e=1" in response.get("Location", ""):
        sys.exit(f"{url} answered {response.status_code}; expected 200.")
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def percentile(values, fraction) -> float:
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def table_size(model) -> int:
    if connection.vendor != "postgresql":
        return model.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            [model._meta.db_table],
        )
        return cursor.fetchone()[0]


if __name__ == "__main__":
    sys.exit(main())
