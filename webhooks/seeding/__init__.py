"""Deliveries at production scale, for measuring: what to seed, and how.

On PostgreSQL every table is filled by one INSERT ... SELECT over
generate_series (``webhooks.seeding.sql``), so a million deliveries take a
minute or two; elsewhere rows are built in Python and bulk-inserted
(``webhooks.seeding.rows``), which is slower and meant for small numbers.
Seeded rows belong to workspaces of their own (``seed-1``, ``seed-2``, ...),
whose webhooks point at example.com hosts; no secret other than each
webhook's generated signing secret is involved.
"""

import dataclasses
import datetime

from django.db import connection

from webhooks.models import (
    AttemptOutcome,
    DeliveryStatus,
    EventType,
    WebhookConfig,
    Workspace,
)
from webhooks.workspaces import create_workspace

# The mix of event types, as players send them: most sessions open the
# player and play; fewer watch to the end or click.
EVENT_TYPES = (
    (0.35, EventType.PLAYER_OPENED),
    (0.30, EventType.VIDEO_PLAYED),
    (0.15, EventType.VIDEO_WATCHED),
    (0.12, EventType.CTA_CLICKED),
    (0.08, EventType.SHARE_CLICKED),
)

# How deliveries end. Pending and in-flight deliveries exist only in the last
# day (the retry schedule spans about 27 hours); older ones have failed.
STATUSES = (
    (0.885, DeliveryStatus.SUCCEEDED),
    (0.06, DeliveryStatus.FAILED),
    (0.02, DeliveryStatus.CANCELLED),
    (0.03, DeliveryStatus.PENDING),
    (0.005, DeliveryStatus.IN_FLIGHT),
)
UNFINISHED_WINDOW = datetime.timedelta(days=1)

# Why attempts fail: (outcome, response status, error).
FAILURES = (
    (0.45, (AttemptOutcome.HTTP_ERROR, 500, "HTTP 500")),
    (0.15, (AttemptOutcome.HTTP_ERROR, 503, "HTTP 503")),
    (0.10, (AttemptOutcome.HTTP_ERROR, 404, "HTTP 404")),
    (0.05, (AttemptOutcome.HTTP_ERROR, 429, "HTTP 429")),
    (
        0.03,
        (
            AttemptOutcome.HTTP_ERROR,
            302,
            "HTTP 302: redirect to https://login.example.com/ not followed.",
        ),
    ),
    (0.12, (AttemptOutcome.TIMEOUT, None, "The request took longer than 15 s.")),
    (0.10, (AttemptOutcome.CONNECTION_ERROR, None, "Connection refused.")),
)
CANCELLED_REASON = "The webhook was switched off before this delivery was sent."

# Minutes between a delivery's attempts, before the n-th attempt (n >= 2).
RETRY_SPACING_MINUTES = 5
VIDEOS = 5000
VIEWERS = 200_000


@dataclasses.dataclass(frozen=True)
class SeedPlan:
    """What to seed: ``deliveries`` with ``attempts`` each over ``span``.

    ``run`` tells this run's rows apart (it prefixes their session ids);
    ``seed`` makes the random mix repeatable.
    """

    workspaces: list[Workspace]
    deliveries: int
    attempts: int
    now: datetime.datetime
    span: datetime.timedelta
    run: str
    seed: int | None = None

    @property
    def start(self) -> datetime.datetime:
        return self.now - self.span

    @property
    def workspace_shares(self) -> list[tuple[float, Workspace]]:
        """Return each workspace's share: a half, then a quarter, and so on."""
        weights = [0.5**index for index in range(len(self.workspaces))]
        return [
            (weight / sum(weights), workspace)
            for weight, workspace in zip(weights, self.workspaces, strict=True)
        ]


def seed_deliveries(*, plan: SeedPlan) -> None:
    """Insert the plan's events, deliveries and attempts, the fastest way here."""
    # Imported here: both modules build on this one's constants.
    from webhooks.seeding.rows import seed_with_orm
    from webhooks.seeding.sql import seed_with_sql

    if connection.vendor == "postgresql":
        seed_with_sql(plan=plan)
    else:
        seed_with_orm(plan=plan)


def seed_workspaces(*, count: int) -> list[Workspace]:
    """Return the seed workspaces, creating any that are missing."""
    workspaces = []
    for number in range(1, count + 1):
        slug = f"seed-{number}"
        workspace = Workspace.objects.filter(slug=slug).first()
        if workspace is None:
            workspace = create_workspace(name=f"Seed workspace {number}", slug=slug)
            # Written directly: the destination guard would look the name up.
            WebhookConfig.objects.filter(workspace=workspace).update(
                enabled=True,
                endpoint_url=f"https://hooks.{slug}.example.com/events",
                event_types=list(EventType.values),
            )
        workspaces.append(workspace)
    return workspaces


def pick(choices, draw: float):
    """Return the value of ``choices`` whose share of [0, 1) ``draw`` falls in."""
    edge = 0.0
    for share, value in choices:
        edge += share
        if draw < edge:
            return value
    return choices[-1][1]
