"""The deliveries' pages: each delivery's story, and resend and export.

Every staff action is recorded in Django's admin log: a resend on each
delivery it queued, an export once, with the filters or the selection.
"""

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from webhooks.admin import display
from webhooks.admin.audit import AuditAdmin
from webhooks.admin.export import export_filename, stream_deliveries_csv
from webhooks.admin.filters import LastResponseClassFilter
from webhooks.admin.search import search_deliveries
from webhooks.models import Delivery, DeliveryAttempt
from webhooks.resend import resend_deliveries

# Deliveries one resend action may take: beyond, Recover on a workspace's
# page is the bulk operation.
MAX_RESEND = 1000

RESENT = _("Queued a manual resend.")


class DeliveryAttemptInline(admin.StackedInline):
    """A delivery's attempts, oldest first, each with its request and response."""

    model = DeliveryAttempt
    fields = [
        ("number", "trigger", "outcome"),
        ("started", "duration_ms", "response_status"),
        "error",
        "request_display",
        "response_display",
    ]
    readonly_fields = [
        "number",
        "trigger",
        "outcome",
        "started",
        "duration_ms",
        "response_status",
        "error",
        "request_display",
        "response_display",
    ]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("started at"))
    def started(self, attempt):
        return display.format_moment(attempt.started_at)

    @admin.display(description=_("request as sent"))
    def request_display(self, attempt):
        return display.request_block(attempt)

    @admin.display(description=_("response"))
    def response_display(self, attempt):
        return display.response_block(attempt)


@admin.register(Delivery)
class DeliveryAdmin(AuditAdmin):
    """Each event's journey to its endpoint, with its attempts."""

    list_display = [
        "id",
        "event_type",
        "workspace",
        "status",
        "attempt_count",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = [
        "status",
        "event_type",
        "workspace",
        LastResponseClassFilter,
    ]
    list_select_related = ["workspace"]
    ordering = ["-created_at"]
    sortable_by = ["id", "created_at"]
    date_hierarchy = "created_at"
    # Shown to get the search box; get_search_results does the matching.
    search_fields = ["id"]
    search_help_text = _(
        "Search by exact delivery id (a number), event id, client event id, "
        "endpoint host, session id or video id."
    )
    actions = ["resend_selected", "export_selected"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "id",
                    "workspace",
                    "event_link",
                    "event_type",
                    "status",
                    "attempt_count",
                    "last_status_code",
                    "last_error",
                ]
            },
        ),
        (_("Status story"), {"fields": ["status_story"]}),
        (_("Event"), {"fields": ["event_display"]}),
        (
            _("Times"),
            {
                "fields": [
                    "created_at",
                    "next_attempt_at",
                    "next_trigger",
                    "queued_at",
                    "lease_expires_at",
                    "completed_at",
                    "updated_at",
                ]
            },
        ),
    ]
    readonly_fields = ["id", "event_link", "status_story", "event_display"]
    inlines = [DeliveryAttemptInline]

    def get_object(self, request, object_id, from_field=None):
        # The page shows the event, and whether the webhook is on (for the
        # resend button): one query brings both.
        queryset = (
            self.get_queryset(request)
            .select_related("event", "workspace")
            .annotate(webhook_enabled=F("workspace__webhook__enabled"))
        )
        try:
            return queryset.get(pk=Delivery._meta.pk.to_python(object_id))
        except (Delivery.DoesNotExist, ValidationError, ValueError):
            return None

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return search_deliveries(queryset, term), False

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/resend/",
                self.admin_site.admin_view(self.resend_view),
                name="{}_{}_resend".format(*info),
            ),
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="{}_{}_export".format(*info),
            ),
            *super().get_urls(),
        ]

    def has_resend_permission(self, request, obj=None):
        # The admin shows deliveries read-only; the model's change permission
        # is what allows putting one back in the queue.
        return request.user.has_perm("webhooks.change_delivery")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_resend": self.has_resend_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("event"))
    def event_link(self, delivery):
        url = reverse("admin:webhooks_event_change", args=[delivery.event_id])
        return format_html('<a href="{}">{}</a>', url, delivery.event_id)

    @admin.display(description=_("event"))
    def event_display(self, delivery):
        event = delivery.event
        rows = [
            (_("type"), event.get_type_display()),
            (_("client event id"), event.client_event_id or "—"),
            (_("session id"), event.session_id),
            (_("video id"), event.video_id or "—"),
            (_("viewer id"), event.viewer_id or "—"),
            (_("page URL"), event.page_url or "—"),
            (_("occurred at"), display.format_moment(event.occurred_at)),
            (_("received at"), display.format_moment(event.received_at)),
        ]
        return format_html(
            "{}{}", display.table_block(rows), display.json_block(event.data)
        )

    @admin.display(description=_("status story"))
    def status_story(self, delivery):
        # The delivery too: the related manager checks each row's.
        attempts = delivery.attempts.only(
            "delivery",
            "number",
            "trigger",
            "started_at",
            "duration_ms",
            "response_status",
            "outcome",
            "error",
        ).order_by("number")
        story = display.status_story(delivery, attempts)
        if getattr(delivery, "webhook_enabled", True) is False:
            return format_html(
                "{}<p>{}</p>",
                story,
                gettext(
                    "The webhook is disabled: resending is refused until it is on."
                ),
            )
        return story

    def resend_view(self, request, object_id):
        """Resend one delivery from its page's button (a POST with CSRF)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_resend_permission(request):
            raise PermissionDenied
        delivery = self.get_object(request, unquote(object_id))
        if delivery is None:
            raise Http404(gettext("No delivery has this id."))
        self._resend(request, [delivery.pk])
        return HttpResponseRedirect(
            reverse("admin:webhooks_delivery_change", args=[delivery.pk])
        )

    @admin.action(description=_("Resend selected deliveries"), permissions=["resend"])
    def resend_selected(self, request, queryset):
        """Queue one manual attempt of each selected delivery."""
        delivery_ids = list(queryset.values_list("pk", flat=True)[: MAX_RESEND + 1])
        if len(delivery_ids) > MAX_RESEND:
            self.message_user(
                request,
                gettext(
                    "Select at most %(max)s deliveries to resend. To resend every "
                    "failed delivery of a workspace, use Recover on its page."
                )
                % {"max": f"{MAX_RESEND:,}"},
                messages.ERROR,
            )
            return None
        self._resend(request, delivery_ids)
        return None

    @admin.action(description=_("Export selected as CSV"), permissions=["view"])
    def export_selected(self, request, queryset):
        """Download the selected deliveries as CSV."""
        count = queryset.count()
        _log_export(
            request,
            ngettext(
                "Exported %(count)d selected delivery as CSV.",
                "Exported %(count)d selected deliveries as CSV.",
                count,
            )
            % {"count": count},
        )
        return stream_deliveries_csv(queryset, filename=export_filename())

    def export_view(self, request):
        """Download every delivery the list shows with the same filters, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(
                reverse("admin:webhooks_delivery_changelist") + "?e=1"
            )
        query = request.GET.urlencode()
        _log_export(
            request,
            gettext("Exported the deliveries listed at ?%(query)s as CSV.")
            % {"query": query}
            if query
            else gettext("Exported every delivery as CSV."),
        )
        return stream_deliveries_csv(changelist.queryset, filename=export_filename())

    def _resend(self, request, delivery_ids):
        # The log entries commit with the resend, and the tasks are queued
        # only once both have.
        with transaction.atomic():
            result = resend_deliveries(delivery_ids=delivery_ids)
            queued = Delivery.objects.filter(pk__in=result.queued).only(
                "pk", "event_id"
            )
            if result.queued:
                LogEntry.objects.log_actions(
                    user_id=request.user.pk,
                    queryset=list(queued),
                    action_flag=CHANGE,
                    change_message=str(RESENT),
                )
        report_resend(request, result)


def report_resend(request, result):
    """Tell staff what a resend did, one message per kind of outcome."""
    if result.queued:
        messages.success(
            request,
            ngettext(
                "Queued %(count)d delivery for resending.",
                "Queued %(count)d deliveries for resending.",
                len(result.queued),
            )
            % {"count": len(result.queued)},
        )
    if result.skipped:
        messages.warning(
            request,
            ngettext(
                "Skipped %(count)d delivery a worker is attempting right now.",
                "Skipped %(count)d deliveries a worker is attempting right now.",
                len(result.skipped),
            )
            % {"count": len(result.skipped)},
        )
    reasons = {}
    for reason in result.refused.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in reasons.items():
        messages.error(
            request,
            ngettext(
                "Refused %(count)d delivery. %(reason)s",
                "Refused %(count)d deliveries. %(reason)s",
                count,
            )
            % {"count": count, "reason": reason},
        )


def _log_export(request, message: str) -> None:
    # An export changes nothing and concerns many rows: one entry, on no
    # row in particular, says who exported what.
    LogEntry.objects.create(
        user_id=request.user.pk,
        content_type=ContentType.objects.get_for_model(Delivery),
        object_id=None,
        object_repr=str(Delivery._meta.verbose_name_plural),
        action_flag=CHANGE,
        change_message=message,
    )
