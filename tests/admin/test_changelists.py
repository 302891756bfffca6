import pytest
from django.contrib import admin
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import (
    DeliveryAttemptFactory,
    DeliveryFactory,
    EventFactory,
    WorkspaceFactory,
)
from webhooks.admin import changelists
from webhooks.admin.changelists import AuditPaginator, CountKind
from webhooks.models import Delivery, DeliveryAttempt, Event, EventType

pytestmark = pytest.mark.django_db


def changelist(client, model_name, **params):
    url = reverse(f"admin:webhooks_{model_name}_changelist")
    response = client.get(url, params)
    assert response.status_code == 200
    return response


@pytest.fixture
def count_limit(monkeypatch):
    """Count 3 rows at most, and show 2 a page."""
    monkeypatch.setattr(changelists, "COUNT_LIMIT", 3)
    for model in (Delivery, DeliveryAttempt, Event):
        monkeypatch.setattr(admin.site._registry[model], "list_per_page", 2)
    return 3


def test_a_list_counts_no_more_than_the_limit(staff_client, count_limit):
    for _ in range(5):
        DeliveryFactory(failed=True)

    response = changelist(staff_client, "delivery", status__exact="failed", p=2)

    paginator = response.context["cl"].paginator
    assert (paginator.count, paginator.count_kind) == (3, CountKind.AT_LEAST)
    content = response.content.decode()
    assert "3+ deliveries" in content
    assert "Select all 3+ deliveries" in content


def test_pages_reach_as_far_as_the_counted_rows(staff_client, count_limit):
    for _ in range(5):
        DeliveryFactory()

    response = staff_client.get(reverse("admin:webhooks_delivery_changelist"), {"p": 3})

    # Django sends a page past the end back to the list with ?e=1.
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_a_small_list_is_counted_exactly(staff_client):
    DeliveryFactory()
    DeliveryFactory(failed=True)

    response = changelist(staff_client, "delivery", q="not-found")

    paginator = response.context["cl"].paginator
    assert (paginator.count, paginator.count_label) == (0, "0")
    assert "0 results" in response.content.decode()
    response = changelist(staff_client, "delivery")
    assert response.context["cl"].paginator.count_label == "2"
    assert "2 deliveries" in response.content.decode()


def test_the_count_of_one_is_singular(staff_client):
    DeliveryFactory()

    response = changelist(staff_client, "delivery")

    assert "1 delivery\n" in response.content.decode()


@pytest.mark.postgres
def test_an_unfiltered_list_takes_the_planners_estimate(staff_client, count_limit):
    if connection.vendor != "postgresql":
        pytest.skip("The estimate is PostgreSQL's.")
    for _ in range(5):
        DeliveryFactory()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE webhooks_delivery")

    unfiltered = changelist(staff_client, "delivery")
    filtered = changelist(staff_client, "delivery", status__exact="pending")

    paginator = unfiltered.context["cl"].paginator
    assert (paginator.count, paginator.count_kind) == (5, CountKind.ESTIMATE)
    assert "about 5 deliveries" in unfiltered.content.decode()
    assert filtered.context["cl"].paginator.count_kind is CountKind.AT_LEAST


@pytest.mark.postgres
def test_a_count_that_runs_out_of_time_says_many(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("Only PostgreSQL's counts have a time limit.")
    monkeypatch.setattr(changelists, "COUNT_TIMEOUT_MS", 20)
    DeliveryFactory()
    slow = Delivery.objects.extra(where=["pg_sleep(0.2) IS NOT NULL"]).order_by("pk")  # noqa: S610

    with transaction.atomic():
        paginator = AuditPaginator(slow, 100)
        count = paginator.count
        # The transaction is still usable, and the time limit is gone.
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            timeout = cursor.fetchone()[0]

    assert (count, paginator.count_kind, paginator.count_label) == (
        changelists.COUNT_LIMIT,
        CountKind.UNKNOWN,
        "many",
    )
    assert timeout == "0"


@pytest.mark.postgres
def test_a_count_in_time_restores_the_time_limit():
    if connection.vendor != "postgresql":
        pytest.skip("Only PostgreSQL's counts have a time limit.")
    DeliveryFactory()

    with transaction.atomic():
        count = AuditPaginator(
            Delivery.objects.filter(attempt_count=0).order_by("pk"), 100
        ).count
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            timeout = cursor.fetchone()[0]

    assert (count, timeout) == (1, "0")


def test_a_crafted_ordering_by_an_unindexed_column_is_ignored(staff_client):
    DeliveryFactory()

    # Column 5 is attempt_count, after the checkbox, id, type and workspace.
    response = changelist(staff_client, "delivery", o="5")

    assert response.context["cl"].queryset.query.order_by == ("-created_at", "-pk")


# Queries do not grow with rows, filtered and searched lists included.

LISTS = [
    ("delivery", {}),
    ("delivery", {"status__exact": "failed"}),
    ("delivery", {"response": "5xx"}),
    ("delivery", {"event_type__exact": "share-clicked"}),
    ("delivery", {"q": "hooks.example.com"}),
    ("delivery", {"q": "session-x"}),
    ("deliveryattempt", {"response": "5xx"}),
    ("deliveryattempt", {"outcome__exact": "http_error"}),
    ("deliveryattempt", {"delivery__event_type__exact": "share-clicked"}),
    ("deliveryattempt", {"q": "hooks.example.com"}),
    ("event", {"type__exact": "share-clicked"}),
]


@pytest.mark.parametrize(("model_name", "params"), LISTS)
def test_list_queries_do_not_grow_with_rows(staff_client, model_name, params):
    workspace = WorkspaceFactory(enabled=True)

    def make():
        delivery = DeliveryFactory(
            event=EventFactory(workspace=workspace, type=EventType.SHARE_CLICKED),
            failed=True,
        )
        DeliveryAttemptFactory(
            delivery=delivery, number=1, failed=True, endpoint_host="hooks.example.com"
        )

    params = {**params, "workspace__id__exact": workspace.pk}
    if model_name == "deliveryattempt":
        params["delivery__workspace__id__exact"] = params.pop("workspace__id__exact")
    make()
    changelist(staff_client, model_name, **params)
    with CaptureQueriesContext(connection) as one_row:
        first = changelist(staff_client, model_name, **params)

    make()
    make()
    with CaptureQueriesContext(connection) as three_rows:
        second = changelist(staff_client, model_name, **params)

    assert len(three_rows) == len(one_row)
    if "q" not in params or params["q"] == "hooks.example.com":
        assert len(second.context["cl"].result_list) == 3
        assert len(first.context["cl"].result_list) == 1


def test_delivery_page_queries_do_not_grow_with_attempts(staff_client):
    delivery = DeliveryFactory(failed=True)
    DeliveryAttemptFactory(delivery=delivery, number=1, failed=True)
    url = reverse("admin:webhooks_delivery_change", args=[delivery.pk])
    staff_client.get(url)
    with CaptureQueriesContext(connection) as one_attempt:
        staff_client.get(url)

    for number in (2, 3, 4):
        DeliveryAttemptFactory(delivery=delivery, number=number, failed=True)
    with CaptureQueriesContext(connection) as four_attempts:
        response = staff_client.get(url)

    assert response.content.decode().count("Attempt 4 (automatic)") == 1
    assert len(four_attempts) == len(one_attempt)
