"""The delivery audit's common ground, and its event and attempt pages.

The delivery engine writes these rows and the daily purge deletes them; staff
read them here (and resend and export deliveries, webhooks.admin.deliveries).
Lists stay fast at millions of rows: searches go to exact, indexed lookups
(webhooks.admin.search), counts are bounded and dates need no scan
(webhooks.admin.changelists), rows come with their related rows in one query,
and lists sort only by indexed columns.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from webhooks.admin import display
from webhooks.admin.changelists import AuditChangeList, AuditPaginator, date_links
from webhooks.admin.filters import AttemptResponseClassFilter
from webhooks.admin.search import search_attempts, search_events
from webhooks.models import Delivery, DeliveryAttempt, Event


class AuditAdmin(admin.ModelAdmin):
    """An audit page: rows are read here, never added, changed or deleted.

    Deletion belongs to the retention purge alone.
    """

    paginator = AuditPaginator
    show_full_result_count = False
    # Facet counts would count every row of the table for each filter.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 100
    # Columns a list does not show and should not load.
    list_deferred = ()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changelist(self, request, **kwargs):
        return AuditChangeList

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        # The date links replace Django's, which read every row for dates.
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            context["date_links"] = date_links(context["cl"])
        return response


@admin.register(Event)
class EventAdmin(AuditAdmin):
    """Accepted player events."""

    list_display = [
        "id",
        "type",
        "workspace",
        "session_id",
        "video_id",
        "occurred_at",
        "received_at",
    ]
    list_filter = ["type", "workspace"]
    list_select_related = ["workspace"]
    list_deferred = ["data", "page_url"]
    ordering = ["-received_at"]
    sortable_by = ["received_at"]
    date_hierarchy = "received_at"
    # Shown to get the search box; get_search_results does the matching.
    search_fields = ["id"]
    search_help_text = _(
        "Search by exact event id, client event id, delivery id, session id or "
        "video id."
    )
    fields = [
        "id",
        "workspace",
        "type",
        "client_event_id",
        "session_id",
        "video_id",
        "viewer_id",
        "page_url",
        "occurred_at",
        "received_at",
        "data_display",
        "delivery_link",
    ]
    readonly_fields = ["id", "data_display", "delivery_link"]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return search_events(queryset, term), False

    @admin.display(description=_("data"))
    def data_display(self, event):
        return display.json_block(event.data)

    @admin.display(description=_("delivery"))
    def delivery_link(self, event):
        delivery = Delivery.objects.filter(event=event).only("pk", "event_id").first()
        if delivery is None:
            return None
        url = reverse("admin:webhooks_delivery_change", args=[delivery.pk])
        return format_html('<a href="{}">{}</a>', url, delivery)


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(AuditAdmin):
    """Every HTTP request made, and what came back."""

    list_display = [
        "delivery",
        "workspace",
        "number",
        "trigger",
        "outcome",
        "response_status",
        "duration_ms",
        "endpoint_host",
        "started_at",
    ]
    list_filter = [
        "outcome",
        AttemptResponseClassFilter,
        ("delivery__workspace", admin.RelatedFieldListFilter),
        ("delivery__event_type", admin.ChoicesFieldListFilter),
    ]
    list_select_related = ["delivery__workspace"]
    list_deferred = [
        "request_headers",
        "request_body",
        "response_headers",
        "response_body",
    ]
    ordering = ["-started_at"]
    sortable_by = ["started_at"]
    date_hierarchy = "started_at"
    # Shown to get the search box; get_search_results does the matching.
    search_fields = ["id"]
    search_help_text = _(
        "Search by exact delivery id (a number), event id, client event id, "
        "endpoint host, session id or video id."
    )
    fields = [
        "delivery_link",
        "number",
        "trigger",
        "started_at",
        "duration_ms",
        "outcome",
        "error",
        "endpoint_host",
        "request_display",
        "response_display",
    ]
    readonly_fields = ["delivery_link", "request_display", "response_display"]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return search_attempts(queryset, term), False

    @admin.display(description=_("workspace"))
    def workspace(self, attempt):
        return attempt.delivery.workspace

    @admin.display(description=_("delivery"))
    def delivery_link(self, attempt):
        url = reverse("admin:webhooks_delivery_change", args=[attempt.delivery_id])
        return format_html('<a href="{}">{}</a>', url, attempt.delivery_id)

    @admin.display(description=_("request as sent"))
    def request_display(self, attempt):
        return display.request_block(attempt)

    @admin.display(description=_("response"))
    def response_display(self, attempt):
        return display.response_block(attempt)
