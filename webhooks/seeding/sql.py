"""Seeding with three INSERT ... SELECT statements (PostgreSQL only)."""

from django.db import connection, transaction

from webhooks.seeding import (
    CANCELLED_REASON,
    EVENT_TYPES,
    FAILURES,
    RETRY_SPACING_MINUTES,
    STATUSES,
    UNFINISHED_WINDOW,
    VIDEOS,
    VIEWERS,
    SeedPlan,
)

SEEDED_TABLES = ("webhooks_event", "webhooks_delivery", "webhooks_deliveryattempt")


def seed_with_sql(*, plan: SeedPlan) -> None:
    """Insert every row with three INSERT ... SELECT statements (PostgreSQL)."""
    params = {
        "run": plan.run,
        "count": plan.deliveries,
        "attempts": plan.attempts,
        "start": plan.start,
        "now": plan.now,
        "step_us": int(plan.span.total_seconds() * 1_000_000 / plan.deliveries),
        "unfinished_since": plan.now - UNFINISHED_WINDOW,
        "pattern": f"{plan.run}-%",
    }
    with transaction.atomic(), connection.cursor() as cursor:
        if plan.seed is not None:
            cursor.execute("SELECT setseed(%s)", [(plan.seed % 1000) / 1000])
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM webhooks_delivery")
        params["after"] = cursor.fetchone()[0]
        cursor.execute(events_sql(plan), params)
        cursor.execute(deliveries_sql(), params)
        cursor.execute(attempts_sql(), params)
    # Outside the transaction: VACUUM cannot run in one. It fills the
    # visibility map, so counts can be answered from indexes alone. Inside
    # somebody else's transaction (a test's), statistics are all there is.
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
    with connection.cursor() as cursor:
        for table in SEEDED_TABLES:
            cursor.execute(f"{command} {table}")


def events_sql(plan: SeedPlan) -> str:
    workspace = _sql_case(
        "r_workspace",
        [(share, str(workspace.pk)) for share, workspace in plan.workspace_shares],
    )
    event_type = _sql_case(
        "r_type", [(share, _sql_text(value)) for share, value in EVENT_TYPES]
    )
    # Built from this module's constants only; every input is a parameter.
    return f"""
        INSERT INTO webhooks_event (
            id, workspace_id, type, client_event_id, session_id, video_id,
            viewer_id, page_url, occurred_at, received_at, data
        )
        SELECT
            md5(%(run)s || '-event-' || g)::uuid, workspace_id, type,
            CASE WHEN r_client < 0.9
                THEN md5(%(run)s || '-client-' || g)::uuid END,
            %(run)s || '-' || g,
            'video-' || (g %% {VIDEOS}),
            'viewer-' || (g %% {VIEWERS}),
            'https://www.example.com/watch/' || (g %% {VIDEOS}),
            received_at - r_client * interval '2 seconds',
            received_at,
            CASE type
                WHEN 'video-watched' THEN jsonb_build_object(
                    'percent', 80 + (r_client * 20)::int)
                WHEN 'cta-clicked' THEN
                    '{{"cta_id": "buy", "cta_url": "https://shop.example.com/buy"}}'
                WHEN 'share-clicked' THEN '{{"share_target": "linkedin"}}'
                ELSE '{{}}'
            END::jsonb
        FROM (
            SELECT
                g, r_client, {workspace} AS workspace_id, {event_type} AS type,
                %(start)s::timestamptz
                    + ((g - 1)::bigint * %(step_us)s + (r_jitter * %(step_us)s)::bigint)
                    * interval '1 microsecond' AS received_at
            FROM (
                SELECT g, random() AS r_workspace, random() AS r_type,
                    random() AS r_client, random() AS r_jitter
                FROM generate_series(1, %(count)s) AS g
            ) AS draws
        ) AS seed
    """  # noqa: S608


def deliveries_sql() -> str:
    status = _sql_case(
        "r_status", [(share, _sql_text(value)) for share, value in STATUSES]
    )
    code = _sql_case(
        "r_failure",
        [(share, _sql_value(failure[1])) for share, failure in FAILURES],
    )
    error = _sql_case(
        "r_failure", [(share, _sql_text(failure[2])) for share, failure in FAILURES]
    )
    # Built from this module's constants only; every input is a parameter.
    return f"""
        INSERT INTO webhooks_delivery (
            event_id, workspace_id, event_type, status, attempt_count,
            next_attempt_at, lease_expires_at, next_trigger, queued_at,
            last_status_code, last_error, created_at, updated_at, completed_at
        )
        SELECT
            id, workspace_id, type, status, %(attempts)s,
            CASE WHEN status = 'pending'
                THEN received_at + interval '30 minutes' END,
            CASE WHEN status = 'in_flight'
                THEN %(now)s::timestamptz + interval '95 seconds' END,
            'automatic', NULL,
            CASE status
                WHEN 'succeeded' THEN 200 WHEN 'in_flight' THEN NULL ELSE {code}
            END,
            CASE status
                WHEN 'succeeded' THEN '' WHEN 'in_flight' THEN ''
                WHEN 'cancelled' THEN {_sql_text(CANCELLED_REASON)}
                ELSE {error}
            END,
            received_at, received_at + finished_after,
            CASE WHEN status IN ('succeeded', 'failed', 'cancelled')
                THEN received_at + finished_after END
        FROM (
            SELECT
                id, workspace_id, type, received_at, r_failure,
                (%(attempts)s - 1) * interval '{RETRY_SPACING_MINUTES} minutes'
                    + interval '1 second' AS finished_after,
                CASE WHEN status IN ('pending', 'in_flight')
                        AND received_at < %(unfinished_since)s
                    THEN 'failed' ELSE status END AS status
            FROM (
                SELECT
                    id, workspace_id, type, received_at, r_failure,
                    {status} AS status
                FROM (
                    SELECT id, workspace_id, type, received_at,
                        random() AS r_status, random() AS r_failure
                    FROM webhooks_event
                    WHERE session_id LIKE %(pattern)s
                ) AS event
            ) AS drawn
            ORDER BY received_at
        ) AS seed
    """  # noqa: S608


def attempts_sql() -> str:
    outcome = _sql_case(
        "r_failure", [(share, _sql_text(failure[0])) for share, failure in FAILURES]
    )
    code = _sql_case(
        "r_failure",
        [(share, _sql_value(failure[1])) for share, failure in FAILURES],
    )
    error = _sql_case(
        "r_failure", [(share, _sql_text(failure[2])) for share, failure in FAILURES]
    )
    # The last attempt tells the delivery's story; earlier ones failed.
    # Built from this module's constants only; every input is a parameter.
    return f"""
        INSERT INTO webhooks_deliveryattempt (
            delivery_id, number, trigger, started_at, duration_ms,
            request_method, request_url, endpoint_host, request_headers,
            request_body, response_status, response_headers, response_body,
            outcome, error
        )
        SELECT
            id, n, 'automatic', started_at,
            CASE outcome
                WHEN 'succeeded' THEN 40 + (power(r_duration, 4) * 900)::int
                WHEN 'timeout' THEN 15000
                WHEN 'connection_error' THEN (r_duration * 30)::int
                WHEN 'in_progress' THEN NULL
                ELSE 60 + (power(r_duration, 3) * 2000)::int
            END,
            'POST', 'https://' || host || '/events', host,
            jsonb_build_object(
                'Content-Type', '[redacted]',
                'User-Agent', 'SEEN-External-Events/0.1.0 (+https://seen.io)',
                'webhook-id', event_id::text,
                'webhook-timestamp', extract(epoch FROM started_at)::bigint::text,
                'webhook-signature', '[redacted]'
            ),
            '{{"id":"' || event_id || '","type":"' || event_type
                || '","timestamp":"'
                || to_char(created_at AT TIME ZONE 'UTC',
                    'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                || '","workspace":"' || slug
                || '","data":{{"session_id":"' || event_id
                || '","page_url":"https://www.example.com/watch/' || (id %% 997)
                || '"}}}}',
            response_status,
            CASE WHEN response_status IS NULL THEN '{{}}'::jsonb
                ELSE '{{"Content-Type": "application/json", "Server": "nginx"}}'::jsonb
            END,
            CASE WHEN response_status BETWEEN 200 AND 299
                    THEN '{{"ok":true,"received":"' || event_id || '"}}'
                WHEN response_status IS NULL THEN ''
                ELSE '{{"error":"' || error || '"}}'
            END,
            outcome, error
        FROM (
            SELECT
                id, n, event_id, event_type, created_at, slug, host, r_duration,
                started_at,
                CASE
                    WHEN NOT is_last THEN {outcome}
                    WHEN status = 'succeeded' THEN 'succeeded'
                    WHEN status = 'in_flight' THEN 'in_progress'
                    WHEN last_status_code IS NOT NULL THEN 'http_error'
                    ELSE {outcome}
                END AS outcome,
                CASE
                    WHEN NOT is_last THEN {code}
                    WHEN status = 'in_flight' THEN NULL
                    WHEN last_status_code IS NOT NULL THEN last_status_code
                    ELSE {code}
                END AS response_status,
                CASE
                    WHEN NOT is_last THEN {error}
                    WHEN status IN ('succeeded', 'in_flight') THEN ''
                    WHEN status = 'cancelled' OR last_status_code IS NULL
                        THEN {error}
                    ELSE last_error
                END AS error
            FROM (
                SELECT
                    delivery.id, n, delivery.event_id, delivery.event_type,
                    delivery.created_at, delivery.status,
                    delivery.last_status_code, delivery.last_error,
                    workspace.slug,
                    'hooks.' || workspace.slug || '.example.com' AS host,
                    n = %(attempts)s AS is_last,
                    delivery.created_at
                        + (n - 1) * interval '{RETRY_SPACING_MINUTES} minutes'
                        AS started_at,
                    random() AS r_failure, random() AS r_duration
                FROM webhooks_delivery AS delivery
                JOIN webhooks_workspace AS workspace
                    ON workspace.id = delivery.workspace_id
                CROSS JOIN generate_series(1, %(attempts)s) AS n
                WHERE delivery.id > %(after)s
                ORDER BY delivery.id, n
            ) AS drawn
        ) AS seed
    """  # noqa: S608


def _sql_case(column: str, choices) -> str:
    """Return a CASE choosing among ``choices`` by the uniform draw ``column``."""
    edge = 0.0
    branches = []
    for share, value in choices[:-1]:
        edge += share
        branches.append(f"WHEN {column} < {edge:.6f} THEN {value}")
    return f"CASE {' '.join(branches)} ELSE {choices[-1][1]} END"


def _sql_text(value: str) -> str:
    return "'" + str(value).replace("'", "''").replace("%", "%%") + "'"


def _sql_value(value) -> str:
    return "NULL" if value is None else str(int(value))
