"""The retry policy: after each attempt, what happens to the delivery next.

``decide_next_step`` is the one place that decides; the delivery engine only
carries its decision out. The rules, in order:

1. Any 2xx answer: the delivery succeeded.
2. 410 Gone: the receiver says the endpoint is gone for good. The delivery
   stops and the webhook is disabled with that reason.
3. No attempt left in ``WEBHOOK_RETRY_SCHEDULE``: the delivery failed.
4. Otherwise the next attempt waits the next delay of the schedule, varied
   by up to ±20 % so that deliveries failing together do not all come back
   at the same moment, and then:

   - after a timeout or a 429, at least 60 seconds, since the receiver is
     overloaded or slow;
   - after a 429 or a 503 with ``Retry-After`` (seconds or an HTTP date), at
     least that long, but never more than 24 hours: a receiver can slow its
     retries down, not hold a delivery for ever or speed up the schedule.
     A value that is neither form is ignored.

Every other answer (3xx, 4xx, 5xx), a connection error, a blocked destination
or an interrupted attempt takes the next delay as it is.
"""

import dataclasses
import datetime
import enum
import math
import random
import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.dateparse import parse_duration
from django.utils.http import parse_http_date

from webhooks.models import AttemptOutcome

JITTER = 0.2
MIN_DELAY_WHEN_OVERLOADED = datetime.timedelta(seconds=60)
MAX_RETRY_AFTER = datetime.timedelta(hours=24)
RETRY_AFTER_STATUSES = frozenset({429, 503})
DURATION_WITH_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class NextStep(enum.StrEnum):
    SUCCEEDED = "succeeded"
    RETRY = "retry"
    FAILED = "failed"
    GONE = "gone"


@dataclasses.dataclass(frozen=True)
class Decision:
    """What to do with a delivery after an attempt.

    ``next_attempt_at`` is set only for RETRY. ``reason`` explains FAILED
    and GONE in words fit for the delivery's last error and the webhook's
    disabled reason.
    """

    step: NextStep
    next_attempt_at: datetime.datetime | None = None
    reason: str = ""


def decide_next_step(
    *,
    attempt_number: int,
    outcome: str,
    status_code: int | None,
    retry_after: str | None,
    now: datetime.datetime | None = None,
    rand: random.Random | Callable[[], float] = random.random,
) -> Decision:
    """Decide what follows attempt number ``attempt_number`` (1 for the first).

    ``outcome`` is the attempt's AttemptOutcome, ``status_code`` the HTTP
    status if a response came back, ``retry_after`` that response's
    ``Retry-After`` header. ``now`` is when the attempt ended; ``rand``
    returns a float in [0, 1) for the jitter. Reads WEBHOOK_RETRY_SCHEDULE;
    touches no database.
    """
    now = now or timezone.now()
    if status_code is not None and 200 <= status_code <= 299:
        return Decision(step=NextStep.SUCCEEDED)
    if status_code == 410:
        return Decision(
            step=NextStep.GONE,
            reason="The endpoint answered 410 Gone: it no longer accepts requests.",
        )

    # The schedule's first delay is the first attempt's, so the delay before
    # attempt n + 1 is at position n.
    schedule = retry_schedule()
    if attempt_number >= len(schedule):
        return Decision(
            step=NextStep.FAILED,
            reason=f"Gave up after {attempt_number} attempts: the retry "
            "schedule is exhausted.",
        )
    delay = apply_jitter(delay=schedule[attempt_number], rand=rand)

    # A receiver that is overloaded or slow gets time to recover.
    if outcome == AttemptOutcome.TIMEOUT or status_code == 429:
        delay = max(delay, MIN_DELAY_WHEN_OVERLOADED)
    if status_code in RETRY_AFTER_STATUSES:
        asked = parse_retry_after(value=retry_after, now=now)
        if asked is not None:
            delay = max(delay, min(asked, MAX_RETRY_AFTER))
    return Decision(step=NextStep.RETRY, next_attempt_at=now + delay)


def first_attempt_at(
    *,
    now: datetime.datetime | None = None,
    rand: random.Random | Callable[[], float] = random.random,
) -> datetime.datetime:
    """Return when a new delivery's first attempt is due: the first delay."""
    now = now or timezone.now()
    return now + apply_jitter(delay=retry_schedule()[0], rand=rand)


def apply_jitter(
    *,
    delay: datetime.timedelta,
    rand: random.Random | Callable[[], float] = random.random,
) -> datetime.timedelta:
    """Return ``delay`` varied by up to ±JITTER of itself; never negative."""
    draw = rand.random() if isinstance(rand, random.Random) else rand()
    return max(delay * (1 + JITTER * (2 * draw - 1)), datetime.timedelta(0))


def parse_retry_after(
    *, value: str | None, now: datetime.datetime
) -> datetime.timedelta | None:
    """Return the wait a ``Retry-After`` header asks for, or None if unusable.

    RFC 9110 allows delay-seconds (digits only) or an HTTP date; a date in
    the past asks for no wait at all.
    """
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        # Past a year is as good as for ever, and keeps timedelta in range.
        return datetime.timedelta(seconds=min(int(value), 366 * 86400))
    try:
        moment = parse_http_date(value)
    except ValueError:
        return None
    return max(
        datetime.datetime.fromtimestamp(moment, tz=datetime.UTC) - now,
        datetime.timedelta(0),
    )


def retry_schedule() -> list[datetime.timedelta]:
    """Return WEBHOOK_RETRY_SCHEDULE as delays, the first attempt's first.

    Raises ImproperlyConfigured when the setting is unusable; the system
    check reports that at start-up.
    """
    delays, error = parse_retry_schedule(value=settings.WEBHOOK_RETRY_SCHEDULE)
    if error:
        raise ImproperlyConfigured(error)
    return delays


def parse_retry_schedule(*, value) -> tuple[list[datetime.timedelta], str]:
    """Return ``(delays, "")`` for a schedule, or ``([], message)``.

    ``value`` is seconds, comma-separated ("0,5,300"), or a list of numbers.
    """
    items = value.split(",") if isinstance(value, str) else list(value)
    items = [item.strip() if isinstance(item, str) else item for item in items]
    if not items or items == [""]:
        return [], "WEBHOOK_RETRY_SCHEDULE is empty: it needs at least one delay."
    delays = []
    for position, item in enumerate(items, start=1):
        try:
            seconds = float(item)
        except (TypeError, ValueError):
            seconds = math.nan
        if isinstance(item, bool) or not math.isfinite(seconds):
            return [], (
                f"Delay number {position} in WEBHOOK_RETRY_SCHEDULE, {item!r}, "
                "is not a number of seconds."
            )
        if seconds < 0:
            return [], (
                f"Delay number {position} in WEBHOOK_RETRY_SCHEDULE, {item!r}, "
                "is negative."
            )
        try:
            delays.append(datetime.timedelta(seconds=seconds))
        except OverflowError:
            return [], (
                f"Delay number {position} in WEBHOOK_RETRY_SCHEDULE, {item!r}, "
                "is too long."
            )
    return delays, ""


def disable_after() -> datetime.timedelta:
    """Return WEBHOOK_DISABLE_AFTER as a duration.

    Raises ImproperlyConfigured when the setting is unusable; the system
    check reports that at start-up.
    """
    duration, error = parse_disable_after(value=settings.WEBHOOK_DISABLE_AFTER)
    if error:
        raise ImproperlyConfigured(error)
    return duration


def parse_disable_after(*, value) -> tuple[datetime.timedelta, str]:
    """Return ``(duration, "")`` for WEBHOOK_DISABLE_AFTER, or a message.

    Accepted: a timedelta, a number of seconds ("432000"), a number with a
    unit s, m, h or d ("5d", "36h"), or an ISO 8601 duration ("P5D").
    """
    duration = _as_duration(value)
    if duration is None:
        return datetime.timedelta(0), (
            f"WEBHOOK_DISABLE_AFTER, {value!r}, is not a duration: write seconds "
            '("432000"), a number with a unit ("5d", "36h") or ISO 8601 ("P5D").'
        )
    if duration <= datetime.timedelta(0):
        return datetime.timedelta(0), (
            f"WEBHOOK_DISABLE_AFTER, {value!r}, is not longer than zero."
        )
    return duration, ""


def should_disable_webhook(
    *,
    failing_since: datetime.datetime | None,
    now: datetime.datetime | None = None,
) -> bool:
    """Tell whether a webhook failing since ``failing_since`` is to be disabled.

    True once every delivery has failed for WEBHOOK_DISABLE_AFTER; a webhook
    that is not failing (None) never is.
    """
    if failing_since is None:
        return False
    return (now or timezone.now()) - failing_since >= disable_after()


def _as_duration(value) -> datetime.timedelta | None:
    if isinstance(value, datetime.timedelta):
        return value
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return datetime.timedelta(seconds=value) if math.isfinite(value) else None
        if not isinstance(value, str):
            return None
        match = DURATION_WITH_UNIT.match(value)
        if match:
            number, unit = match.groups()
            return datetime.timedelta(seconds=float(number) * DURATION_UNITS[unit])
        return parse_duration(value.strip())
    except (ValueError, OverflowError):
        return None
