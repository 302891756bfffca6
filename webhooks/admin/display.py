"""How the audit pages show a delivery's story, its requests and health.

Everything is rendered with format_html, so every stored value (headers,
bodies, errors: what receivers sent back included) is escaped.
"""

import json

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from webhooks.delivery_stats import DeliveryStats
from webhooks.models import (
    AttemptOutcome,
    AttemptTrigger,
    DeliveryAttempt,
    DeliveryStatus,
)


def table_block(rows):
    """Render (label, value) pairs as a two-column table, escaped."""
    return format_html(
        "<table><tbody>{}</tbody></table>",
        format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
    )


def format_moment(moment) -> str:
    """Return ``moment`` to the second, in the server's time zone."""
    if moment is None:
        return "—"
    return date_format(timezone.localtime(moment), "Y-m-d H:i:s T")


def json_block(value):
    """Render a JSON value indented by two spaces in a <pre>, escaped."""
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


def body_block(text: str):
    """Render a body: indented when it is JSON, as stored otherwise."""
    if not text:
        return format_html("<p>{}</p>", _("(empty)"))
    try:
        parsed = json.loads(text)
    except ValueError:
        return format_html("<pre>{}</pre>", text)
    return json_block(parsed)


def headers_block(headers: dict):
    """Render headers one "Name: value" line each, as on the wire."""
    if not headers:
        return format_html("<p>{}</p>", _("(none)"))
    lines = "\n".join(f"{name}: {value}" for name, value in headers.items())
    return format_html("<pre>{}</pre>", lines)


def request_block(attempt: DeliveryAttempt):
    """Render the request as sent; credentials were redacted before storing."""
    return format_html(
        "<p><strong>{}</strong> {}</p><h4>{}</h4>{}<h4>{}</h4>{}",
        attempt.request_method,
        attempt.request_url,
        _("Headers"),
        headers_block(attempt.request_headers),
        _("Body"),
        body_block(attempt.request_body),
    )


def response_block(attempt: DeliveryAttempt):
    """Render what came back, or that nothing did."""
    if attempt.response_status is None:
        return format_html("<p>{}</p>", _("No response."))
    return format_html(
        "<p><strong>HTTP {}</strong></p><h4>{}</h4>{}<h4>{}</h4>{}",
        attempt.response_status,
        _("Headers"),
        headers_block(attempt.response_headers),
        _("Body (the first %(limit)s bytes at most are kept)")
        % {
            "limit": number_format(
                settings.WEBHOOK_RESPONSE_BODY_LIMIT, force_grouping=True
            )
        },
        body_block(attempt.response_body),
    )


def describe_attempt(attempt: DeliveryAttempt) -> str:
    """Say in one line how an attempt went."""
    parts = [attempt.get_outcome_display()]
    if attempt.response_status is not None:
        parts.append(f"HTTP {attempt.response_status}")
    if attempt.duration_ms is not None:
        parts.append(f"{number_format(attempt.duration_ms, force_grouping=True)} ms")
    line = _("Attempt %(number)s (%(trigger)s): %(how)s") % {
        "number": attempt.number,
        "trigger": attempt.get_trigger_display().lower(),
        "how": ", ".join(parts),
    }
    # "HTTP 500" says nothing the status did not; other errors explain.
    if attempt.error and attempt.error != f"HTTP {attempt.response_status}":
        line += f" — {attempt.error}"
    return line


def status_story(delivery, attempts):
    """Render the delivery's life as a timeline: created, each attempt, now."""
    steps = [(delivery.created_at, _("Created, pending."))]
    steps += [(attempt.started_at, describe_attempt(attempt)) for attempt in attempts]

    status = delivery.status
    if status == DeliveryStatus.PENDING:
        what = (
            _("Manual resend queued.")
            if delivery.next_trigger == AttemptTrigger.MANUAL
            else _("Next attempt due.")
        )
        steps.append((delivery.next_attempt_at, what))
    elif status == DeliveryStatus.IN_FLIGHT:
        steps.append(
            (
                delivery.updated_at,
                _("In flight: a worker is attempting it (its claim lapses at %s).")
                % format_moment(delivery.lease_expires_at),
            )
        )
    elif status == DeliveryStatus.SUCCEEDED:
        steps.append((delivery.completed_at, _("Succeeded.")))
    else:
        label = (
            _("Failed for good") if status == DeliveryStatus.FAILED else _("Cancelled")
        )
        reason = f": {delivery.last_error}" if delivery.last_error else "."
        steps.append((delivery.completed_at, f"{label}{reason}"))

    return format_html(
        '<ol class="status-story">{}</ol>',
        format_html_join(
            "",
            "<li><strong>{}</strong> {}</li>",
            ((format_moment(moment), what) for moment, what in steps),
        ),
    )


def health_block(
    *, stats: DeliveryStats, workspace_id: int, failing_since, enabled, recover_url
):
    """Render a workspace's last day of deliveries as a small table, and links."""
    deliveries_url = reverse("admin:webhooks_delivery_changelist")
    rows = [
        (
            _("Webhook"),
            _("Enabled") if enabled else _("Disabled"),
        ),
        (
            _("Deliveries in the last 24 hours"),
            _counts(stats.deliveries, stats.by_status, DeliveryStatus),
        ),
        (
            _("Success rate"),
            "—"
            if stats.success_rate is None
            else _("%(rate)s %% of finished deliveries")
            % {"rate": number_format(stats.success_rate * 100, decimal_pos=1)},
        ),
        (
            _("Their attempts"),
            _counts(stats.attempts, stats.by_outcome, AttemptOutcome),
        ),
        (
            _("Attempt duration"),
            "—"
            if stats.duration_p50 is None
            else _("p50 %(p50)s ms, p95 %(p95)s ms")
            % {
                "p50": number_format(round(stats.duration_p50), force_grouping=True),
                "p95": number_format(round(stats.duration_p95), force_grouping=True),
            },
        ),
        (
            _("Failing since"),
            format_moment(failing_since) if failing_since else _("Not failing"),
        ),
    ]
    return format_html(
        "{}"
        '<p><a href="{}?workspace__id__exact={}">{}</a> · '
        '<a href="{}?workspace__id__exact={}&amp;status__exact=failed">{}</a> · '
        '<a href="{}">{}</a></p>',
        table_block(rows),
        deliveries_url,
        workspace_id,
        _("All its deliveries"),
        deliveries_url,
        workspace_id,
        _("Its failed deliveries"),
        recover_url,
        _("Recover failed deliveries"),
    )


def _counts(total: int, counts: dict[str, int], choices) -> str:
    details = ", ".join(
        f"{choices(value).label.lower()} {number_format(count, force_grouping=True)}"
        for value, count in counts.items()
        if count
    )
    total = number_format(total, force_grouping=True)
    return f"{total} ({details})" if details else total
