import datetime
import uuid

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from tests.factories import (
    DeliveryAttemptFactory,
    DeliveryFactory,
    EventFactory,
    UserFactory,
    WorkspaceFactory,
)
from webhooks.admin import deliveries as admin_deliveries
from webhooks.models import (
    AttemptOutcome,
    AttemptTrigger,
    AuthKind,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
    EventType,
    WebhookAuth,
    WebhookHeader,
)

pytestmark = pytest.mark.django_db


def admin_url(model_name, view, *args):
    return reverse(f"admin:webhooks_{model_name}_{view}", args=args)


def listed(client, model_name, **params):
    response = client.get(admin_url(model_name, "changelist"), params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def queued_delivery_ids():
    return sorted(row.task["args"][0] for row in OrmQ.objects.all())


def make_delivery(workspace=None, *, event_type=EventType.SHARE_CLICKED, **fields):
    event = EventFactory(
        type=event_type, **({"workspace": workspace} if workspace else {})
    )
    return DeliveryFactory(event=event, **fields)


@pytest.fixture
def workspace():
    return WorkspaceFactory(name="Acme Video", enabled=True)


# Filters: each finds exactly its rows.


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status__exact": "failed"}, ["failed"]),
        ({"status__exact": "succeeded"}, ["succeeded"]),
        ({"response": "2xx"}, ["succeeded"]),
        ({"response": "5xx"}, ["failed"]),
        ({"response": "3xx"}, ["redirected"]),
        ({"response": "4xx"}, []),
        ({"response": "none"}, ["pending"]),
        ({"event_type__exact": "cta-clicked"}, ["redirected"]),
    ],
)
def test_delivery_filters_find_exactly_their_rows(staff_client, params, expected):
    rows = {
        "succeeded": make_delivery(succeeded=True),
        "failed": make_delivery(failed=True),
        "pending": make_delivery(),
        "redirected": make_delivery(
            event_type=EventType.CTA_CLICKED, last_status_code=302
        ),
    }

    found = listed(staff_client, "delivery", **params)

    assert found == [rows[name] for name in expected]


def test_delivery_filter_by_workspace(staff_client, workspace):
    mine = make_delivery(workspace)
    make_delivery()

    assert listed(staff_client, "delivery", workspace__id__exact=workspace.pk) == [mine]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"outcome__exact": "timeout"}, ["timeout"]),
        ({"response": "2xx"}, ["succeeded"]),
        ({"response": "5xx"}, ["failed"]),
        ({"response": "none"}, ["timeout"]),
        ({"delivery__event_type__exact": "video-played"}, ["timeout"]),
    ],
)
def test_attempt_filters_find_exactly_their_rows(staff_client, params, expected):
    rows = {
        "succeeded": DeliveryAttemptFactory(number=1),
        "failed": DeliveryAttemptFactory(number=1, failed=True),
        "timeout": DeliveryAttemptFactory(
            number=1,
            delivery=make_delivery(event_type=EventType.VIDEO_PLAYED),
            outcome=AttemptOutcome.TIMEOUT,
            response_status=None,
            error="The request took longer than 15 s.",
        ),
    }

    found = listed(staff_client, "deliveryattempt", **params)

    assert found == [rows[name] for name in expected]


def test_attempt_filter_by_workspace(staff_client, workspace):
    mine = DeliveryAttemptFactory(delivery=make_delivery(workspace), number=1)
    DeliveryAttemptFactory(number=1)

    found = listed(
        staff_client, "deliveryattempt", delivery__workspace__id__exact=workspace.pk
    )

    assert found == [mine]


def test_event_filters_by_type_and_workspace(staff_client, workspace):
    played = EventFactory(workspace=workspace, type=EventType.VIDEO_PLAYED)
    EventFactory(type=EventType.VIDEO_PLAYED)
    EventFactory(workspace=workspace)

    found = listed(
        staff_client,
        "event",
        type__exact="video-played",
        workspace__id__exact=workspace.pk,
    )

    assert found == [played]


@pytest.mark.parametrize(
    ("model_name", "field"),
    [
        ("delivery", "created_at"),
        ("deliveryattempt", "started_at"),
        ("event", "received_at"),
    ],
)
def test_date_hierarchy_finds_the_rows_of_a_day(staff_client, model_name, field):
    today = timezone.now()
    yesterday = today - datetime.timedelta(days=1)
    rows = {moment: DeliveryAttemptFactory(number=1) for moment in (today, yesterday)}
    for moment, attempt in rows.items():
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(started_at=moment)
        Delivery.objects.filter(pk=attempt.delivery_id).update(created_at=moment)
        Event.objects.filter(pk=attempt.delivery.event_id).update(received_at=moment)
    expected = {
        "delivery": rows[yesterday].delivery,
        "deliveryattempt": rows[yesterday],
        "event": rows[yesterday].delivery.event,
    }[model_name]

    found = listed(
        staff_client,
        model_name,
        **{
            f"{field}__year": yesterday.year,
            f"{field}__month": yesterday.month,
            f"{field}__day": yesterday.day,
        },
    )

    assert [row.pk for row in found] == [expected.pk]


def test_date_links_offer_the_days_of_the_retention_period_without_a_query(
    staff_client, settings
):
    settings.WEBHOOK_RETENTION_DAYS = 30
    make_delivery()
    today = timezone.localdate()

    response = staff_client.get(
        admin_url("delivery", "changelist"),
        {"created_at__year": today.year, "created_at__month": today.month},
    )

    links = response.context["date_links"]
    assert links["back"]["title"] == str(today.year)
    assert links["choices"][-1]["title"] == today.strftime("%B ") + str(today.day)
    assert "created_at__day" in links["choices"][-1]["link"]
    assert '<nav class="toplinks">' in response.content.decode()


# Search: each kind of term is routed to its own exact lookup.


@pytest.fixture
def searched():
    """Two deliveries, each with an event and an attempt, told apart by search."""
    workspaces = [WorkspaceFactory(enabled=True) for _ in range(2)]
    rows = []
    for index, workspace in enumerate(workspaces):
        delivery = make_delivery(workspace, failed=True)
        attempt = DeliveryAttemptFactory(
            delivery=delivery,
            number=1,
            endpoint_host=f"hooks-{index}.example.com",
            request_url=f"https://hooks-{index}.example.com/events",
        )
        rows.append((delivery.event, delivery, attempt))
    return rows


SEARCH_TERMS = {
    "delivery id": lambda event, delivery, attempt: str(delivery.pk),
    "event id": lambda event, delivery, attempt: str(event.pk),
    "client event id": lambda event, delivery, attempt: str(event.client_event_id),
    "session id": lambda event, delivery, attempt: event.session_id,
    "video id": lambda event, delivery, attempt: event.video_id,
    "endpoint host": lambda event, delivery, attempt: attempt.endpoint_host.upper(),
}


@pytest.mark.parametrize(
    ("model_name", "position", "kind"),
    [
        (model_name, position, kind)
        for model_name, position in [
            ("delivery", 1),
            ("deliveryattempt", 2),
            ("event", 0),
        ]
        for kind in SEARCH_TERMS
        # Events have no endpoint host.
        if not (model_name == "event" and kind == "endpoint host")
    ],
)
def test_each_search_kind_finds_exactly_the_right_row(
    staff_client, searched, model_name, position, kind
):
    target = searched[1]
    term = SEARCH_TERMS[kind](*target)

    found = listed(staff_client, model_name, q=term)

    assert found == [target[position]]


def test_a_session_id_that_looks_like_a_host_is_still_found(staff_client):
    delivery = make_delivery(event_type=EventType.PLAYER_OPENED)
    Event.objects.filter(pk=delivery.event_id).update(session_id="player.session.7")

    assert listed(staff_client, "delivery", q="player.session.7") == [delivery]


def test_a_session_id_that_is_a_uuid_is_found(staff_client):
    delivery = make_delivery()
    session_id = str(uuid.uuid4())
    Event.objects.filter(pk=delivery.event_id).update(session_id=session_id)

    assert listed(staff_client, "delivery", q=session_id) == [delivery]


def test_a_number_on_the_event_list_is_a_delivery_id_or_a_video_id(staff_client):
    by_delivery = make_delivery()
    by_video = EventFactory(video_id=str(by_delivery.pk))

    found = listed(staff_client, "event", q=str(by_delivery.pk))

    assert {event.pk for event in found} == {by_delivery.event_id, by_video.pk}


def test_search_never_reads_a_substring(staff_client, searched):
    event = searched[0][0]

    assert listed(staff_client, "event", q=event.session_id[:-1]) == []


# Read-only: no action but resend and export; no delete, even in bulk.


def test_delivery_list_offers_resend_and_export_only(staff_client):
    make_delivery()

    response = staff_client.get(admin_url("delivery", "changelist"))

    choices = [
        name for name, _ in response.context["action_form"].fields["action"].choices
    ]
    assert choices == ["", "resend_selected", "export_selected"]


def test_bulk_delete_through_the_action_endpoint_is_refused(staff_client):
    delivery = make_delivery()

    staff_client.post(
        admin_url("delivery", "changelist"),
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [delivery.pk]},
    )

    assert Delivery.objects.filter(pk=delivery.pk).exists()


def test_delivery_page_tells_the_story_and_shows_each_request(staff_client):
    delivery = make_delivery(failed=True)
    DeliveryAttemptFactory(
        delivery=delivery,
        number=1,
        failed=True,
        duration_ms=1234,
        request_body='{"id":"e-1","data":{"percent":92}}',
        response_body='{"error":"<overloaded>"}',
        response_headers={"Content-Type": "application/json", "Retry-After": "30"},
    )

    response = staff_client.get(admin_url("delivery", "change", delivery.pk))

    content = response.content.decode()
    assert "Created, pending." in content
    assert "Attempt 1 (automatic): HTTP error, HTTP 500, 1,234 ms" in content
    assert "Failed for good: HTTP 500" in content
    assert (
        "<pre>{\n  &quot;id&quot;: &quot;e-1&quot;,\n  &quot;data&quot;: {\n" in content
    )
    assert "&quot;error&quot;: &quot;&lt;overloaded&gt;&quot;" in content
    assert "Retry-After: 30" in content
    assert "Authorization: [redacted]" in content
    assert delivery.event.session_id in content


def test_delivery_page_shows_a_body_that_is_not_json_as_it_is(staff_client):
    attempt = DeliveryAttemptFactory(
        number=1, failed=True, response_body="<h1>Bad gateway</h1>"
    )

    response = staff_client.get(admin_url("delivery", "change", attempt.delivery_id))

    assert "<pre>&lt;h1&gt;Bad gateway&lt;/h1&gt;</pre>" in response.content.decode()


def test_delivery_page_shows_when_the_next_attempt_is_due(staff_client):
    due = timezone.now() + datetime.timedelta(minutes=5)
    delivery = make_delivery(next_attempt_at=due)

    response = staff_client.get(admin_url("delivery", "change", delivery.pk))

    assert "Next attempt due." in response.content.decode()


# Resend, from the list and from a delivery's page.


def test_resend_action_queues_a_manual_attempt_and_logs_who(
    staff_client, workspace, django_capture_on_commit_callbacks
):
    deliveries = [make_delivery(workspace, failed=True) for _ in range(2)]
    untouched = make_delivery(workspace, failed=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            admin_url("delivery", "changelist"),
            {
                "action": "resend_selected",
                ACTION_CHECKBOX_NAME: [delivery.pk for delivery in deliveries],
            },
            follow=True,
        )

    assert messages_of(response) == ["Queued 2 deliveries for resending."]
    assert queued_delivery_ids() == sorted(delivery.pk for delivery in deliveries)
    assert {
        (row.status, row.next_trigger)
        for row in Delivery.objects.filter(pk__in=[d.pk for d in deliveries])
    } == {(DeliveryStatus.PENDING, AttemptTrigger.MANUAL)}
    assert Delivery.objects.get(pk=untouched.pk).status == DeliveryStatus.FAILED
    entries = LogEntry.objects.order_by("object_id")
    assert [
        (entry.user, entry.object_id, entry.action_flag, entry.change_message)
        for entry in entries
    ] == [
        (
            response.wsgi_request.user,
            str(delivery.pk),
            CHANGE,
            "Queued a manual resend.",
        )
        for delivery in sorted(deliveries, key=lambda row: str(row.pk))
    ]
    assert {entry.content_type for entry in entries} == {
        ContentType.objects.get_for_model(Delivery)
    }


def test_resend_action_is_refused_while_the_webhook_is_disabled(
    staff_client, django_capture_on_commit_callbacks
):
    disabled = WorkspaceFactory(name="Acme Video")
    delivery = make_delivery(disabled, failed=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            admin_url("delivery", "changelist"),
            {"action": "resend_selected", ACTION_CHECKBOX_NAME: [delivery.pk]},
            follow=True,
        )

    assert messages_of(response) == [
        "Refused 1 delivery. The webhook of Acme Video is disabled: turn it on "
        "before resending."
    ]
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.FAILED
    assert queued_delivery_ids() == []
    assert not LogEntry.objects.exists()


def test_resend_action_skips_deliveries_in_flight(staff_client, workspace):
    delivery = make_delivery(
        workspace,
        status=DeliveryStatus.IN_FLIGHT,
        lease_expires_at=timezone.now() + datetime.timedelta(minutes=1),
    )

    response = staff_client.post(
        admin_url("delivery", "changelist"),
        {"action": "resend_selected", ACTION_CHECKBOX_NAME: [delivery.pk]},
        follow=True,
    )

    assert messages_of(response) == [
        "Skipped 1 delivery a worker is attempting right now."
    ]


def test_resend_action_takes_a_thousand_deliveries_at_most(
    staff_client, workspace, monkeypatch
):
    monkeypatch.setattr(admin_deliveries, "MAX_RESEND", 1)
    deliveries = [make_delivery(workspace, failed=True) for _ in range(2)]

    response = staff_client.post(
        admin_url("delivery", "changelist"),
        {
            "action": "resend_selected",
            ACTION_CHECKBOX_NAME: [delivery.pk for delivery in deliveries],
        },
        follow=True,
    )

    assert messages_of(response) == [
        "Select at most 1 deliveries to resend. To resend every failed delivery "
        "of a workspace, use Recover on its page."
    ]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"failed"}


def test_resend_button_queues_the_delivery_and_logs_who(
    staff_client, workspace, django_capture_on_commit_callbacks
):
    delivery = make_delivery(workspace, failed=True)
    page = staff_client.get(admin_url("delivery", "change", delivery.pk))

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            admin_url("delivery", "resend", delivery.pk), follow=True
        )

    resend_url = admin_url("delivery", "resend", delivery.pk)
    assert f'<form method="post" action="{resend_url}">' in page.content.decode()
    assert response.redirect_chain == [
        (admin_url("delivery", "change", delivery.pk), 302)
    ]
    assert messages_of(response) == ["Queued 1 delivery for resending."]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_trigger) == (
        DeliveryStatus.PENDING,
        AttemptTrigger.MANUAL,
    )
    assert queued_delivery_ids() == [delivery.pk]
    entry = LogEntry.objects.get()
    assert (entry.user, entry.object_id, entry.change_message) == (
        response.wsgi_request.user,
        str(delivery.pk),
        "Queued a manual resend.",
    )
    assert "Manual resend queued." in response.content.decode()


def test_resend_button_is_refused_while_the_webhook_is_disabled(staff_client):
    delivery = make_delivery(WorkspaceFactory(name="Acme Video"), failed=True)
    page = staff_client.get(admin_url("delivery", "change", delivery.pk))

    response = staff_client.post(
        admin_url("delivery", "resend", delivery.pk), follow=True
    )

    assert (
        "The webhook is disabled: resending is refused until it is on."
        in page.content.decode()
    )
    assert messages_of(response) == [
        "Refused 1 delivery. The webhook of Acme Video is disabled: turn it on "
        "before resending."
    ]
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.FAILED
    assert OrmQ.objects.count() == 0


def test_resend_needs_a_post_with_a_csrf_token(client, workspace):
    delivery = make_delivery(workspace, failed=True)
    client.handler.enforce_csrf_checks = True
    client.force_login(UserFactory(superuser=True))

    get = client.get(admin_url("delivery", "resend", delivery.pk))
    post = client.post(admin_url("delivery", "resend", delivery.pk))

    assert (get.status_code, post.status_code) == (405, 403)
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.FAILED


def test_staff_who_may_only_view_deliveries_cannot_resend(client, workspace):
    delivery = make_delivery(workspace, failed=True)
    viewer = UserFactory(staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client.force_login(viewer)

    page = client.get(admin_url("delivery", "change", delivery.pk))
    response = client.post(admin_url("delivery", "resend", delivery.pk))

    assert page.status_code == 200
    assert "/resend/" not in page.content.decode()
    assert response.status_code == 403
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.FAILED


# Export as CSV.

CSV_HEADER = (
    "delivery_id,event_id,client_event_id,workspace,event_type,status,attempts,"
    "last_status_code,last_error,created_at,completed_at"
)


def csv_lines(response):
    return b"".join(response.streaming_content).decode().splitlines()


def test_export_action_streams_the_selected_deliveries(staff_client, workspace):
    delivery = make_delivery(workspace, failed=True, last_error="=HYPERLINK(x)")
    make_delivery(workspace)

    response = staff_client.post(
        admin_url("delivery", "changelist"),
        {"action": "export_selected", ACTION_CHECKBOX_NAME: [delivery.pk]},
    )

    delivery.refresh_from_db()
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="deliveries-'
    )
    assert csv_lines(response) == [
        CSV_HEADER,
        f"{delivery.pk},{delivery.event_id},{delivery.event.client_event_id},"
        f"{workspace.slug},share-clicked,failed,8,500,'=HYPERLINK(x),"
        f"{delivery.created_at.isoformat()},{delivery.completed_at.isoformat()}",
    ]
    entry = LogEntry.objects.get()
    assert (entry.user, entry.object_id, entry.change_message) == (
        response.wsgi_request.user,
        None,
        "Exported 1 selected delivery as CSV.",
    )


def test_export_link_streams_the_filtered_list(staff_client, workspace):
    failed = [make_delivery(workspace, failed=True) for _ in range(2)]
    make_delivery(workspace, succeeded=True)
    make_delivery(failed=True)
    page = staff_client.get(
        admin_url("delivery", "changelist"),
        {"status__exact": "failed", "workspace__id__exact": workspace.pk},
    )

    response = staff_client.get(
        admin_url("delivery", "export"),
        {"status__exact": "failed", "workspace__id__exact": workspace.pk},
    )

    query = f"status__exact=failed&workspace__id__exact={workspace.pk}"
    assert f"/export/?{query.replace('&', '&amp;')}" in page.content.decode()
    lines = csv_lines(response)
    assert lines[0] == CSV_HEADER
    assert [int(line.split(",")[0]) for line in lines[1:]] == [
        delivery.pk for delivery in reversed(failed)
    ]
    entry = LogEntry.objects.get()
    assert entry.change_message == (
        f"Exported the deliveries listed at ?{query} as CSV."
    )


def test_export_link_with_a_bad_filter_goes_back_to_the_list(staff_client):
    response = staff_client.get(admin_url("delivery", "export"), {"bogus__in": "x"})

    assert response.status_code == 302
    assert response["Location"] == admin_url("delivery", "changelist") + "?e=1"
    assert not LogEntry.objects.exists()


# Secrets: stored encrypted, sent to the receiver, and never shown here.

SECRETS = {
    "signing_secret": "whsec_U2lnbmluZ1NlY3JldFBsYWludGV4dDAwMDE=",
    "header": "HeaderValuePlaintext0003",
    "token": "BearerTokenPlaintext0005",
}


@pytest.fixture
def receiver(httpserver, fake_dns, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    settings.WEBHOOK_HTTP_DEADLINE = 3
    fake_dns.add("localhost", "127.0.0.1")
    return httpserver


def test_no_audit_page_shows_a_secret(staff_client, receiver):
    from webhooks.delivery import attempt_delivery

    workspace = WorkspaceFactory(
        enabled=True,
        webhook__endpoint_url=receiver.url_for("/hook"),
        webhook__signing_secret=SECRETS["signing_secret"],
    )
    config = workspace.webhook
    WebhookHeader.objects.create(
        config=config, position=1, name="X-Api-Secret", value=SECRETS["header"]
    )
    WebhookAuth.objects.filter(config=config).update(kind=AuthKind.BEARER)
    auth = WebhookAuth.objects.get(config=config)
    auth.token = SECRETS["token"]
    auth.save()
    delivery = make_delivery(workspace)
    receiver.expect_oneshot_request("/hook").respond_with_json(
        {"echo": "ok"}, status=500
    )
    attempt_delivery(delivery_id=delivery.pk)
    request, _ = receiver.log[0]
    attempt = delivery.attempts.get()
    event = delivery.event

    pages = [
        admin_url("delivery", "changelist"),
        admin_url("delivery", "changelist") + f"?q={event.pk}",
        admin_url("delivery", "change", delivery.pk),
        admin_url("deliveryattempt", "changelist"),
        admin_url("deliveryattempt", "change", attempt.pk),
        admin_url("event", "changelist"),
        admin_url("event", "change", event.pk),
        admin_url("workspace", "change", workspace.pk),
        admin_url("workspace", "recover", workspace.pk),
        admin_url("webhookconfig", "change", config.pk),
    ]
    responses = [staff_client.get(url) for url in pages]
    export = staff_client.get(admin_url("delivery", "export"))

    # The secrets did travel: the receiver got them.
    assert request.headers["X-Api-Secret"] == SECRETS["header"]
    assert request.headers["Authorization"] == f"Bearer {SECRETS['token']}"
    assert [response.status_code for response in responses] == [200] * len(pages)
    contents = [response.content.decode() for response in responses]
    contents.append(b"".join(export.streaming_content).decode())
    shown = [
        (url, name)
        for url, content in zip([*pages, "export"], contents, strict=True)
        for name, secret in SECRETS.items()
        if secret in content or secret.removeprefix("whsec_") in content
    ]
    assert shown == []
    assert "X-Api-Secret: [redacted]" in contents[2]


def test_an_export_shows_in_recent_actions_without_a_link(staff_client):
    make_delivery()
    staff_client.get(admin_url("delivery", "export"))

    response = staff_client.get(reverse("admin:index"))

    actions = response.content.decode().split('<ul class="actionlist">')[1]
    entry = actions.split("</li>")[0]
    assert " ".join(entry.split()) == (
        '<li class="changelink"> <span class="visually-hidden">Changed:</span> '
        'deliveries <br> <span class="mini quiet">Delivery</span>'
    )
