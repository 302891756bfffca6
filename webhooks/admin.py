"""The admin: workspaces and their webhook, and the read-only delivery audit.

Secrets are write-only here. Signing secrets, header values and credentials
are never rendered back, not even masked: their boxes are empty password
inputs, and a box left blank keeps the stored value.
"""

import uuid
from urllib.parse import urlsplit

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from webhooks.encryption import DecryptionError
from webhooks.forms import (
    MAX_HEADERS,
    BaseHeaderFormSet,
    WebhookAuthForm,
    WebhookConfigForm,
    WebhookHeaderForm,
)
from webhooks.models import (
    AUTH_FIELDS,
    Delivery,
    DeliveryAttempt,
    Event,
    Membership,
    WebhookAuth,
    WebhookConfig,
    WebhookHeader,
    Workspace,
)
from webhooks.workspaces import (
    ROTATION_GRACE,
    create_webhook_config,
    rotate_ingest_key,
    rotate_signing_secret,
)

GRACE_HOURS = int(ROTATION_GRACE.total_seconds() // 3600)

# Largest value of a BigAutoField: a longer number typed into a search box
# would overflow the query instead of finding nothing.
MAX_ID = 2**63 - 1

# Rows that go only with their workspace: their admins refuse deletion, but
# deleting the workspace takes them along.
DELETED_WITH_WORKSPACE = (WebhookConfig, Event, Delivery, DeliveryAttempt)


class MembershipInline(admin.TabularInline):
    """Who belongs to the workspace, and as what."""

    model = Membership
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["user"]
    extra = 0


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    """Workspaces, their members and their public ingest key."""

    list_display = ["name", "slug", "webhook_link", "created_at"]
    search_fields = ["name", "slug", "=ingest_key", "=previous_ingest_key"]
    search_help_text = _("Search by name, slug or exact ingest key.")
    prepopulated_fields = {"slug": ["name"]}
    fields = [
        "name",
        "slug",
        "ingest_key",
        "previous_ingest_key",
        "ingest_key_rotated_at",
        "webhook_link",
        "created_at",
    ]
    readonly_fields = [
        "ingest_key",
        "previous_ingest_key",
        "ingest_key_rotated_at",
        "webhook_link",
        "created_at",
    ]
    inlines = [MembershipInline]
    actions = ["rotate_ingest_keys"]

    def get_queryset(self, request):
        # Two columns instead of select_related("webhook"): a list of
        # workspaces has no reason to load and decrypt signing secrets.
        return (
            super()
            .get_queryset(request)
            .annotate(
                webhook_pk=F("webhook__pk"), webhook_enabled=F("webhook__enabled")
            )
        )

    def get_fields(self, request, obj=None):
        # The key and the webhook do not exist before the workspace does.
        if obj is None:
            return ["name", "slug"]
        return super().get_fields(request, obj)

    @admin.display(description=_("webhook"), ordering="webhook_enabled")
    def webhook_link(self, workspace):
        if workspace.webhook_pk is None:
            return None
        url = reverse(
            "admin:webhooks_webhookconfig_change", args=[workspace.webhook_pk]
        )
        label = _("Enabled") if workspace.webhook_enabled else _("Disabled")
        return format_html('<a href="{}">{}</a>', url, label)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            # The add view runs in one transaction, so a workspace never
            # exists without its webhook.
            create_webhook_config(workspace=obj)

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(
            objs, request
        )
        # The webhook and the audit rows refuse deletion in their own admins
        # because they go only with their workspace, which is what happens
        # here: their refusal must not block it.
        perms_needed -= {model._meta.verbose_name for model in DELETED_WITH_WORKSPACE}
        return deleted, model_count, perms_needed, protected

    @admin.action(description=_("Rotate ingest key"), permissions=["change"])
    def rotate_ingest_keys(self, request, queryset):
        """Give each selected workspace a new ingest key, logging who did it."""
        pks = list(queryset.values_list("pk", flat=True))
        with transaction.atomic():
            # Locked, so that two rotations at once cannot both demote the
            # same key and lose the first new one.
            workspaces = list(Workspace.objects.select_for_update().filter(pk__in=pks))
            for workspace in workspaces:
                rotate_ingest_key(workspace=workspace)
                self.log_change(request, workspace, gettext("Rotated the ingest key."))
        message = ngettext(
            "Rotated the ingest key of %(count)d workspace. The previous key "
            "keeps working for %(hours)d hours.",
            "Rotated the ingest keys of %(count)d workspaces. The previous keys "
            "keep working for %(hours)d hours.",
            len(workspaces),
        ) % {"count": len(workspaces), "hours": GRACE_HOURS}
        self.message_user(request, message, messages.SUCCESS)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Every membership across workspaces."""

    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "workspace__name"]
    list_select_related = ["user", "workspace"]
    autocomplete_fields = ["user", "workspace"]


class WebhookConfigAdminForm(WebhookConfigForm):
    """The settings page's rules for a configuration, every field editable."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The settings page hides these fields while the webhook is off and
        # so ignores them. The admin shows them all the time: ignoring what
        # staff typed there would lose it without a word.
        for name in ("http_method", "endpoint_url", "event_types"):
            self.fields[name].disabled = False


class WebhookHeaderInline(admin.TabularInline):
    """Custom headers, by the settings page's rules; values are write-only."""

    model = WebhookHeader
    form = WebhookHeaderForm
    formset = BaseHeaderFormSet
    fields = ["name", "value"]
    extra = 1
    max_num = MAX_HEADERS

    def get_formset(self, request, obj=None, **kwargs):
        # Refuse more rows than MAX_HEADERS even when the POST carries more
        # than the page offered, as the settings page does.
        kwargs.setdefault("validate_max", True)
        kwargs.setdefault("absolute_max", MAX_HEADERS)
        return super().get_formset(request, obj, **kwargs)


class WebhookAuthInline(admin.StackedInline):
    """The one authentication setting of a webhook; credentials write-only."""

    model = WebhookAuth
    form = WebhookAuthForm
    fieldsets = [
        (
            None,
            {
                "fields": ["kind"],
                "description": _(
                    "Only the fields of the chosen authentication are kept; "
                    "saving clears the others."
                ),
            },
        ),
        *(
            (kind.label, {"fields": list(names)})
            for kind, names in AUTH_FIELDS.items()
            if names
        ),
    ]
    can_delete = False
    min_num = 1
    max_num = 1
    extra = 0


@admin.register(WebhookConfig)
class WebhookConfigAdmin(admin.ModelAdmin):
    """A workspace's webhook, edited by the settings page's rules."""

    form = WebhookConfigAdminForm
    list_display = [
        "workspace",
        "enabled",
        "http_method",
        "endpoint_host",
        "updated_at",
    ]
    list_filter = ["enabled", "http_method"]
    search_fields = ["workspace__name", "workspace__slug", "endpoint_url"]
    list_select_related = ["workspace"]
    ordering = ["workspace__name"]
    fieldsets = [
        (None, {"fields": ["workspace"]}),
        (
            _("Delivery"),
            {"fields": ["enabled", "http_method", "endpoint_url", "event_types"]},
        ),
        (
            _("Signing"),
            {
                "fields": ["signing_secret_status"],
                # Lazy, so that it is translated for each request.
                "description": format_lazy(
                    _(
                        "The secret is never shown here. Rotating it keeps the "
                        "previous secret signing alongside the new one for "
                        "{hours} hours, so receivers can switch without "
                        "rejecting requests."
                    ),
                    hours=GRACE_HOURS,
                ),
            },
        ),
        (_("Health"), {"fields": ["failing_since", "disabled_reason"]}),
        (_("History"), {"fields": ["created_at", "updated_at", "updated_by"]}),
    ]
    readonly_fields = [
        "workspace",
        "signing_secret_status",
        "failing_since",
        "disabled_reason",
        "created_at",
        "updated_at",
        "updated_by",
    ]
    inlines = [WebhookHeaderInline, WebhookAuthInline]
    actions = ["rotate_signing_secrets"]

    def get_queryset(self, request):
        # Only the signing status needs the secrets; lists skip decrypting
        # two of them per row, and a row no key opens cannot break them.
        return (
            super()
            .get_queryset(request)
            .defer("signing_secret", "previous_signing_secret")
        )

    def has_add_permission(self, request):
        # A configuration is created with its workspace, and only then.
        return False

    def has_delete_permission(self, request, obj=None):
        # A configuration is deleted with its workspace, and only then.
        return False

    @admin.display(description=_("endpoint host"), ordering="endpoint_url")
    def endpoint_host(self, config):
        # The host alone: the path and query may carry tokens.
        return urlsplit(config.endpoint_url).hostname or None

    @admin.display(description=_("signing secret"))
    def signing_secret_status(self, config):
        """Say whether a secret is set and when it changed, never what it is."""
        try:
            is_set = bool(config.signing_secret)
            has_previous = bool(config.previous_signing_secret)
        except DecryptionError:
            return _("Set, but no configured encryption key decrypts it")
        if not is_set:
            return _("Not set")

        rotated_at = config.signing_secret_rotated_at
        if rotated_at is None:
            status = gettext("Set; never rotated")
        elif has_previous and rotated_at + ROTATION_GRACE > timezone.now():
            status = gettext(
                "Set; rotated %(rotated)s; the previous secret also signs until "
                "%(until)s"
            ) % {
                "rotated": _format_moment(rotated_at),
                "until": _format_moment(rotated_at + ROTATION_GRACE),
            }
        else:
            status = gettext("Set; rotated %(rotated)s") % {
                "rotated": _format_moment(rotated_at)
            }

        # Actions run from the list: this link lists this configuration alone.
        url = reverse("admin:webhooks_webhookconfig_changelist")
        return format_html(
            '{}<br><a href="{}?id__exact={}">{}</a>',
            status,
            url,
            config.pk,
            _("Rotate it from the list"),
        )

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        # Only the fields this form edits: the delivery engine writes the
        # health fields and a rotation writes the secrets meanwhile, and a
        # full save would put back the values this page loaded.
        obj.save(update_fields=[*form.base_fields, "updated_by", "updated_at"])

    @admin.action(description=_("Rotate signing secret"), permissions=["change"])
    def rotate_signing_secrets(self, request, queryset):
        """Give each selected webhook a new signing secret, logging who did it."""
        pks = list(queryset.values_list("pk", flat=True))
        with transaction.atomic():
            # Locked, so that two rotations at once cannot both demote the
            # same secret and lose the first new one.
            configs = list(
                WebhookConfig.objects.select_related("workspace")
                .select_for_update(of=("self",))
                .filter(pk__in=pks)
            )
            for config in configs:
                rotate_signing_secret(config=config)
                self.log_change(request, config, gettext("Rotated the signing secret."))
        message = ngettext(
            "Rotated the signing secret of %(count)d webhook. The previous "
            "secret keeps signing for %(hours)d hours.",
            "Rotated the signing secrets of %(count)d webhooks. The previous "
            "secrets keep signing for %(hours)d hours.",
            len(configs),
        ) % {"count": len(configs), "hours": GRACE_HOURS}
        self.message_user(request, message, messages.SUCCESS)


class ReadOnlyAdmin(admin.ModelAdmin):
    """An audit page: the delivery engine writes these rows, staff read them.

    Searches match whole identifiers only: a substring search would scan
    tables that grow with every event.
    """

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """Accepted player events."""

    list_display = [
        "type",
        "workspace",
        "session_id",
        "video_id",
        "occurred_at",
        "received_at",
    ]
    list_filter = ["type", "workspace"]
    list_select_related = ["workspace"]
    ordering = ["-received_at"]
    # Shown to get the search box; get_search_results does the matching.
    search_fields = ["id", "client_event_id", "session_id", "video_id"]
    search_help_text = _(
        "Search by exact event id, client event id, session id or video id."
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
        "data",
        "delivery_link",
    ]
    readonly_fields = ["id", "delivery_link"]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        matches = Q(session_id=term) | Q(video_id=term)
        event_id = _as_uuid(term)
        if event_id is not None:
            matches |= Q(pk=event_id) | Q(client_event_id=event_id)
        return queryset.filter(matches), False

    @admin.display(description=_("delivery"))
    def delivery_link(self, event):
        try:
            delivery = event.delivery
        except Delivery.DoesNotExist:
            return None
        url = reverse("admin:webhooks_delivery_change", args=[delivery.pk])
        return format_html('<a href="{}">{}</a>', url, delivery)


class DeliveryAttemptInline(admin.TabularInline):
    """A delivery's attempts, oldest first."""

    model = DeliveryAttempt
    fields = [
        "number",
        "trigger",
        "outcome",
        "response_status",
        "duration_ms",
        "started_at",
        "error",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
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
    list_filter = ["status", "workspace"]
    list_select_related = ["event", "workspace"]
    ordering = ["-created_at"]
    # Shown to get the search box; get_search_results does the matching.
    search_fields = ["id", "event__id", "event__client_event_id"]
    search_help_text = _("Search by delivery id, event id or client event id.")
    inlines = [DeliveryAttemptInline]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        delivery_id = _as_id(term)
        if delivery_id is not None:
            return queryset.filter(pk=delivery_id), False
        event_id = _as_uuid(term)
        if event_id is not None:
            matches = Q(event_id=event_id) | Q(event__client_event_id=event_id)
            return queryset.filter(matches), False
        return queryset.none(), False

    @admin.display(description=_("event type"), ordering="event__type")
    def event_type(self, delivery):
        return delivery.event.get_type_display()


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    """Every HTTP request made, and what came back."""

    list_display = [
        "delivery",
        "number",
        "trigger",
        "outcome",
        "response_status",
        "duration_ms",
        "started_at",
    ]
    list_filter = ["outcome", "trigger"]
    list_select_related = ["delivery"]
    ordering = ["-started_at"]
    # Shown to get the search box; get_search_results does the matching.
    search_fields = ["delivery__id", "delivery__event__id"]
    search_help_text = _("Search by delivery id or event id.")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        delivery_id = _as_id(term)
        if delivery_id is not None:
            return queryset.filter(delivery_id=delivery_id), False
        event_id = _as_uuid(term)
        if event_id is not None:
            return queryset.filter(delivery__event_id=event_id), False
        return queryset.none(), False


def _as_id(term):
    if term.isascii() and term.isdigit() and int(term) <= MAX_ID:
        return int(term)
    return None


def _as_uuid(term):
    try:
        return uuid.UUID(term)
    except ValueError:
        return None


def _format_moment(moment):
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")
