import datetime
import random

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils.http import http_date

from webhooks.models import AttemptOutcome
from webhooks.retries import (
    Decision,
    NextStep,
    apply_jitter,
    decide_next_step,
    disable_after,
    first_attempt_at,
    parse_disable_after,
    parse_retry_after,
    parse_retry_schedule,
    retry_schedule,
    should_disable_webhook,
)

NOW = datetime.datetime(2026, 5, 1, 12, 0, tzinfo=datetime.UTC)
DEFAULT_SCHEDULE = "0,5,300,1800,7200,18000,36000,36000"


def no_jitter():
    """Draw the middle of the jitter range, so delays come out exact."""
    return 0.5


def seconds(value):
    return datetime.timedelta(seconds=value)


def later(value):
    return NOW + seconds(value)


@pytest.fixture(autouse=True)
def _default_schedule(settings):
    settings.WEBHOOK_RETRY_SCHEDULE = DEFAULT_SCHEDULE
    settings.WEBHOOK_DISABLE_AFTER = "5d"


def decide(attempt_number, outcome, status_code=None, retry_after=None, rand=no_jitter):
    return decide_next_step(
        attempt_number=attempt_number,
        outcome=outcome,
        status_code=status_code,
        retry_after=retry_after,
        now=NOW,
        rand=rand,
    )


HTTP_ERROR = AttemptOutcome.HTTP_ERROR
SOON = http_date((NOW + seconds(600)).timestamp())
PAST = http_date((NOW - seconds(600)).timestamp())


@pytest.mark.parametrize(
    ("attempt", "outcome", "status", "retry_after", "expected"),
    [
        # Any 2xx succeeds.
        (1, AttemptOutcome.SUCCEEDED, 200, None, NextStep.SUCCEEDED),
        (3, AttemptOutcome.SUCCEEDED, 204, None, NextStep.SUCCEEDED),
        (8, AttemptOutcome.SUCCEEDED, 299, None, NextStep.SUCCEEDED),
        # Other answers and failures take the next delay of the schedule.
        (1, HTTP_ERROR, 500, None, later(5)),
        (2, HTTP_ERROR, 500, None, later(300)),
        (3, HTTP_ERROR, 502, None, later(1800)),
        (7, HTTP_ERROR, 500, None, later(36000)),
        (1, HTTP_ERROR, 302, None, later(5)),
        (1, HTTP_ERROR, 404, None, later(5)),
        (1, HTTP_ERROR, 503, None, later(5)),
        (1, AttemptOutcome.CONNECTION_ERROR, None, None, later(5)),
        (1, AttemptOutcome.BLOCKED, None, None, later(5)),
        (1, AttemptOutcome.INTERRUPTED, None, None, later(5)),
        # Retry-After only counts on 429 and 503.
        (1, HTTP_ERROR, 500, "120", later(5)),
        # After a timeout or a 429, at least 60 seconds.
        (1, AttemptOutcome.TIMEOUT, None, None, later(60)),
        (3, AttemptOutcome.TIMEOUT, None, None, later(1800)),
        (1, HTTP_ERROR, 429, None, later(60)),
        (2, HTTP_ERROR, 429, None, later(300)),
        # Retry-After lengthens the wait, never shortens it, up to 24 hours.
        (1, HTTP_ERROR, 429, "120", later(120)),
        (1, HTTP_ERROR, 429, "30", later(60)),
        (1, HTTP_ERROR, 503, "120", later(120)),
        (1, HTTP_ERROR, 503, " 120 ", later(120)),
        (2, HTTP_ERROR, 503, "10", later(300)),
        (1, HTTP_ERROR, 503, "999999", later(86400)),
        (1, HTTP_ERROR, 503, "9" * 40, later(86400)),
        (1, HTTP_ERROR, 503, SOON, later(600)),
        (1, HTTP_ERROR, 503, PAST, later(5)),
        # Bogus Retry-After values are ignored.
        (1, HTTP_ERROR, 503, "soon", later(5)),
        (1, HTTP_ERROR, 503, "-120", later(5)),
        (1, HTTP_ERROR, 503, "1.5", later(5)),
        (1, HTTP_ERROR, 503, "", later(5)),
        (1, HTTP_ERROR, 503, "١٢٠", later(5)),
        (1, HTTP_ERROR, 503, "Fri, 99 Foo 2026 00:00:00 GMT", later(5)),
        # The schedule exhausted: failed, whatever the receiver asks.
        (8, HTTP_ERROR, 500, None, NextStep.FAILED),
        (8, AttemptOutcome.TIMEOUT, None, None, NextStep.FAILED),
        (8, HTTP_ERROR, 429, "60", NextStep.FAILED),
        (12, HTTP_ERROR, 500, None, NextStep.FAILED),
        # 410 Gone stops at once, even on the last attempt.
        (1, HTTP_ERROR, 410, None, NextStep.GONE),
        (8, HTTP_ERROR, 410, None, NextStep.GONE),
    ],
)
def test_next_step_follows_the_policy(attempt, outcome, status, retry_after, expected):
    decision = decide(attempt, outcome, status, retry_after)

    if isinstance(expected, datetime.datetime):
        assert decision == Decision(step=NextStep.RETRY, next_attempt_at=expected)
    else:
        assert decision.step == expected
        assert decision.next_attempt_at is None


def test_gone_says_why_the_webhook_is_disabled():
    decision = decide(2, HTTP_ERROR, 410)

    assert decision.reason == (
        "The endpoint answered 410 Gone: it no longer accepts requests."
    )


def test_exhaustion_says_how_many_attempts_were_made():
    decision = decide(8, HTTP_ERROR, 500)

    assert decision.reason == (
        "Gave up after 8 attempts: the retry schedule is exhausted."
    )


@pytest.mark.parametrize(
    ("draw", "expected"), [(0.0, 240), (0.25, 270), (0.5, 300), (0.75, 330)]
)
def test_jitter_varies_the_delay_by_up_to_a_fifth(draw, expected):
    decision = decide(2, HTTP_ERROR, 500, rand=lambda: draw)

    assert decision.next_attempt_at == later(expected)


def test_jitter_stays_within_bounds_for_any_draw():
    rand = random.Random(4)  # noqa: S311 (jitter, not a secret)

    delays = [apply_jitter(delay=seconds(300), rand=rand) for _ in range(2000)]

    assert min(delays) >= seconds(240)
    assert max(delays) < seconds(360)
    assert max(delays) - min(delays) > seconds(100)


def test_jitter_keeps_a_zero_delay_at_zero():
    assert apply_jitter(delay=seconds(0), rand=lambda: 0.0) == seconds(0)
    assert apply_jitter(delay=seconds(0), rand=lambda: 0.999) == seconds(0)


def test_jitter_is_not_applied_to_the_minimum_after_a_timeout():
    decision = decide(1, AttemptOutcome.TIMEOUT, rand=lambda: 0.999)

    assert decision.next_attempt_at == later(60)


def test_a_configured_schedule_sets_delays_and_the_number_of_attempts(settings):
    settings.WEBHOOK_RETRY_SCHEDULE = "10, 20"

    assert decide(1, HTTP_ERROR, 500).next_attempt_at == later(20)
    assert decide(2, HTTP_ERROR, 500).step == NextStep.FAILED


def test_first_attempt_is_due_after_the_first_delay(settings):
    assert first_attempt_at(now=NOW, rand=no_jitter) == NOW

    settings.WEBHOOK_RETRY_SCHEDULE = "10,20"

    assert first_attempt_at(now=NOW, rand=no_jitter) == later(10)


def test_default_schedule_is_eight_attempts_over_about_27_hours():
    schedule = retry_schedule()

    assert len(schedule) == 8
    assert sum(schedule, datetime.timedelta()) == datetime.timedelta(
        hours=27, minutes=35, seconds=5
    )


def test_retry_after_reads_an_http_date_in_any_of_its_forms():
    assert parse_retry_after(value="Fri, 01 May 2026 12:10:00 GMT", now=NOW) == seconds(
        600
    )
    assert parse_retry_after(
        value="Friday, 01-May-26 12:10:00 GMT", now=NOW
    ) == seconds(600)
    assert parse_retry_after(value="Fri May  1 12:10:00 2026", now=NOW) == seconds(600)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "WEBHOOK_RETRY_SCHEDULE is empty: it needs at least one delay."),
        (" ", "WEBHOOK_RETRY_SCHEDULE is empty: it needs at least one delay."),
        ([], "WEBHOOK_RETRY_SCHEDULE is empty: it needs at least one delay."),
        (
            "0,5,five",
            "Delay number 3 in WEBHOOK_RETRY_SCHEDULE, 'five', is not a number "
            "of seconds.",
        ),
        (
            "0,,5",
            "Delay number 2 in WEBHOOK_RETRY_SCHEDULE, '', is not a number of seconds.",
        ),
        (
            "0,inf",
            "Delay number 2 in WEBHOOK_RETRY_SCHEDULE, 'inf', is not a number "
            "of seconds.",
        ),
        ("0,-5", "Delay number 2 in WEBHOOK_RETRY_SCHEDULE, '-5', is negative."),
        ("1e300", "Delay number 1 in WEBHOOK_RETRY_SCHEDULE, '1e300', is too long."),
    ],
)
def test_unusable_schedules_are_explained(value, message):
    assert parse_retry_schedule(value=value) == ([], message)


def test_schedules_may_be_text_or_numbers():
    assert parse_retry_schedule(value=" 0, 2.5 ,60") == (
        [seconds(0), seconds(2.5), seconds(60)],
        "",
    )
    assert parse_retry_schedule(value=[0, 5]) == ([seconds(0), seconds(5)], "")


def test_an_unusable_schedule_stops_the_policy(settings):
    settings.WEBHOOK_RETRY_SCHEDULE = "0,x"

    with pytest.raises(ImproperlyConfigured, match="'x', is not a number"):
        decide(1, HTTP_ERROR, 500)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5d", datetime.timedelta(days=5)),
        ("36h", datetime.timedelta(hours=36)),
        ("90m", datetime.timedelta(minutes=90)),
        ("45s", seconds(45)),
        ("1.5d", datetime.timedelta(hours=36)),
        ("432000", datetime.timedelta(days=5)),
        ("P5D", datetime.timedelta(days=5)),
        ("2 12:00:00", datetime.timedelta(days=2, hours=12)),
        (3600, datetime.timedelta(hours=1)),
        (datetime.timedelta(days=2), datetime.timedelta(days=2)),
    ],
)
def test_disable_after_reads_the_documented_forms(value, expected):
    assert parse_disable_after(value=value) == (expected, "")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "soon",
            "WEBHOOK_DISABLE_AFTER, 'soon', is not a duration: write seconds "
            '("432000"), a number with a unit ("5d", "36h") or ISO 8601 ("P5D").',
        ),
        (
            "5 weeks",
            "WEBHOOK_DISABLE_AFTER, '5 weeks', is not a duration: write seconds "
            '("432000"), a number with a unit ("5d", "36h") or ISO 8601 ("P5D").',
        ),
        ("0", "WEBHOOK_DISABLE_AFTER, '0', is not longer than zero."),
        (
            "-1 00:00:00",
            "WEBHOOK_DISABLE_AFTER, '-1 00:00:00', is not longer than zero.",
        ),
    ],
)
def test_unusable_disable_after_is_explained(value, message):
    assert parse_disable_after(value=value) == (datetime.timedelta(0), message)


def test_a_webhook_failing_for_the_whole_period_is_disabled(settings):
    settings.WEBHOOK_DISABLE_AFTER = "36h"
    period = disable_after()

    assert should_disable_webhook(failing_since=NOW - period, now=NOW)
    assert not should_disable_webhook(failing_since=NOW - period + seconds(1), now=NOW)
    assert not should_disable_webhook(failing_since=None, now=NOW)
