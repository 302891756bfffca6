"""Fill the database with deliveries at production scale, for measuring."""

import datetime
import time
import uuid

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from webhooks.seeding import SeedPlan, seed_deliveries, seed_workspaces


class Command(BaseCommand):
    help = (
        "Add events, deliveries and attempts spread over the last days to "
        "workspaces seed-1, seed-2, ... (created when missing), for measuring "
        "the admin at scale. Fast on PostgreSQL; works, slowly, elsewhere. "
        "Never run it against a database holding real data."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--deliveries",
            type=int,
            default=10_000,
            help="Deliveries to add, one event each (default 10,000).",
        )
        parser.add_argument(
            "--attempts-per-delivery",
            type=int,
            default=2,
            help="Attempts of each delivery; the last tells how it ended (default 2).",
        )
        parser.add_argument(
            "--workspaces",
            type=int,
            default=5,
            help="Workspaces to spread them over, the first getting half (default 5).",
        )
        parser.add_argument(
            "--days",
            type=int,
            default=30,
            help="Days back the deliveries reach, evenly spread (default 30).",
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="Random seed, for a repeatable mix."
        )

    def handle(self, *args, **options):
        deliveries = options["deliveries"]
        attempts = options["attempts_per_delivery"]
        if deliveries < 1 or attempts < 1 or options["workspaces"] < 1:
            raise CommandError(
                "--deliveries, --attempts-per-delivery and --workspaces must be "
                "at least 1."
            )
        if not 1 <= options["days"] <= 365:
            raise CommandError("--days must be between 1 and 365.")

        started = time.monotonic()
        workspaces = seed_workspaces(count=options["workspaces"])
        plan = SeedPlan(
            workspaces=workspaces,
            deliveries=deliveries,
            attempts=attempts,
            now=timezone.now(),
            span=datetime.timedelta(days=options["days"]),
            run=uuid.uuid4().hex[:12],
            seed=options["seed"],
        )
        seed_deliveries(plan=plan)
        self.stdout.write(
            f"Seeded {deliveries:,} deliveries ({deliveries:,} events, "
            f"{deliveries * attempts:,} attempts) across {len(workspaces)} "
            f"workspaces in {time.monotonic() - started:.1f} s."
        )
