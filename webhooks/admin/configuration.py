"""The webhook configuration admin: the settings page's rules, for staff.

Secrets are write-only here. Signing secrets, header values and credentials
are never rendered back, not even masked: their boxes are empty password
inputs, and a box left blank keeps the stored value.
"""

from urllib.parse import urlsplit

from django.contrib import admin, messages
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from webhooks.admin import display
from webhooks.delivery_stats import summarize_deliveries
from webhooks.encryption import DecryptionError
from webhooks.forms import (
    MAX_HEADERS,
    BaseHeaderFormSet,
    WebhookAuthForm,
    WebhookConfigForm,
    WebhookHeaderForm,
)
from webhooks.models import AUTH_FIELDS, WebhookAuth, WebhookConfig, WebhookHeader
from webhooks.workspaces import ROTATION_GRACE, rotate_signing_secret

GRACE_HOURS = int(ROTATION_GRACE.total_seconds() // 3600)


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
class WebhookConfigAdmin(SimpleHistoryAdmin):
    """A workspace's webhook, edited by the settings page's rules.

    Its History page lists who changed what; secrets show as revisions only.
    """

    history_list_display = ["enabled", "http_method", "signing_secret_revision"]

    form = WebhookConfigAdminForm
    list_display = [
        "workspace",
        "enabled",
        "http_method",
        "endpoint_host",
        "failing_since",
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
        (
            _("Health"),
            {"fields": ["delivery_health", "failing_since", "disabled_reason"]},
        ),
        (_("History"), {"fields": ["created_at", "updated_at", "updated_by"]}),
    ]
    readonly_fields = [
        "workspace",
        "signing_secret_status",
        "delivery_health",
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

    @admin.display(description=_("deliveries"))
    def delivery_health(self, config):
        return display.health_block(
            stats=summarize_deliveries(workspace_id=config.workspace_id),
            workspace_id=config.workspace_id,
            failing_since=config.failing_since,
            enabled=config.enabled,
            recover_url=reverse(
                "admin:webhooks_workspace_recover", args=[config.workspace_id]
            ),
        )

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


def _format_moment(moment):
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


class ReadOnlyHistoryAdmin(admin.ModelAdmin):
    """A read-only list of recorded changes, newest first."""

    list_display_links = None
    list_filter = ["history_type"]
    list_select_related = ["history_user"]
    ordering = ["-history_date"]
    search_fields = ["=config__workspace__slug"]
    search_help_text = _("Search by exact workspace slug.")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WebhookHeader.history.model)
class HistoricalWebhookHeaderAdmin(ReadOnlyHistoryAdmin):
    """Every change to a custom header; values show as revisions only."""

    list_display = [
        "history_date",
        "history_user",
        "history_type",
        "config_id",
        "position",
        "name",
        "value_revision",
    ]


@admin.register(WebhookAuth.history.model)
class HistoricalWebhookAuthAdmin(ReadOnlyHistoryAdmin):
    """Every change to the authentication; credentials show as revisions only."""

    list_display = [
        "history_date",
        "history_user",
        "history_type",
        "config_id",
        "kind",
        "username",
        "api_key_header",
        "token_url",
        "client_id",
        "scope",
        "credentials_revision",
    ]
