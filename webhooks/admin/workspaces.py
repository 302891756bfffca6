"""The workspace admin: members, ingest keys, delivery health and recovery."""

import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from webhooks.admin import display
from webhooks.delivery_stats import summarize_deliveries
from webhooks.models import (
    Delivery,
    DeliveryAttempt,
    Event,
    Membership,
    WebhookConfig,
    Workspace,
)
from webhooks.resend import (
    RECOVERY_WINDOW,
    ResendRefusedError,
    check_recovery_start,
    recover_workspace,
)
from webhooks.workspaces import ROTATION_GRACE, create_webhook_config, rotate_ingest_key

GRACE_HOURS = int(ROTATION_GRACE.total_seconds() // 3600)

# Rows that go only with their workspace: their admins refuse deletion, but
# deleting the workspace takes them along.
DELETED_WITH_WORKSPACE = (WebhookConfig, Event, Delivery, DeliveryAttempt)

# What a recovery offers to start from, unless staff choose otherwise.
DEFAULT_RECOVERY_START = datetime.timedelta(hours=24)


class MembershipInline(admin.TabularInline):
    """Who belongs to the workspace, and as what."""

    model = Membership
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["user"]
    extra = 0


class RecoverForm(forms.Form):
    """When a recovery starts: failed deliveries created since then are resent."""

    since = forms.DateTimeField(
        label=_("Failed deliveries created since"),
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
        ),
        help_text=_("At most 14 days ago; in the server's time zone (UTC)."),
    )

    def __init__(self, *args, now: datetime.datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now
        self.fields["since"].initial = timezone.localtime(
            now - DEFAULT_RECOVERY_START
        ).replace(second=0, microsecond=0)

    def clean_since(self):
        since = self.cleaned_data["since"]
        try:
            check_recovery_start(since=since, now=self.now)
        except ValueError as error:
            raise forms.ValidationError(str(error), code="out_of_range") from None
        return since


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    """Workspaces, their members, their public ingest key and delivery health."""

    list_display = ["name", "slug", "webhook_link", "created_at"]
    search_fields = ["name", "slug", "=ingest_key", "=previous_ingest_key"]
    search_help_text = _("Search by name, slug or exact ingest key.")
    prepopulated_fields = {"slug": ["name"]}
    fields = [
        "name",
        "slug",
        "allowed_origins",
        "ingest_key",
        "previous_ingest_key",
        "ingest_key_rotated_at",
        "webhook_link",
        "delivery_health",
        "created_at",
    ]
    readonly_fields = [
        "ingest_key",
        "previous_ingest_key",
        "ingest_key_rotated_at",
        "webhook_link",
        "delivery_health",
        "created_at",
    ]
    inlines = [MembershipInline]
    actions = ["rotate_ingest_keys"]

    def get_queryset(self, request):
        # Columns instead of select_related("webhook"): a list of workspaces
        # has no reason to load and decrypt signing secrets.
        return (
            super()
            .get_queryset(request)
            .annotate(
                webhook_pk=F("webhook__pk"),
                webhook_enabled=F("webhook__enabled"),
                webhook_failing_since=F("webhook__failing_since"),
            )
        )

    def get_fields(self, request, obj=None):
        # The key and the webhook do not exist before the workspace does.
        if obj is None:
            return ["name", "slug"]
        return super().get_fields(request, obj)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/recover/",
                self.admin_site.admin_view(self.recover_view),
                name="{}_{}_recover".format(*info),
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("webhook"), ordering="webhook_enabled")
    def webhook_link(self, workspace):
        if workspace.webhook_pk is None:
            return None
        url = reverse(
            "admin:webhooks_webhookconfig_change", args=[workspace.webhook_pk]
        )
        label = _("Enabled") if workspace.webhook_enabled else _("Disabled")
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description=_("deliveries"))
    def delivery_health(self, workspace):
        return display.health_block(
            stats=summarize_deliveries(workspace_id=workspace.pk),
            workspace_id=workspace.pk,
            failing_since=workspace.webhook_failing_since,
            enabled=workspace.webhook_enabled,
            recover_url=reverse(
                "admin:webhooks_workspace_recover", args=[workspace.pk]
            ),
        )

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

    def has_recover_permission(self, request, workspace) -> bool:
        return self.has_change_permission(request, workspace) and request.user.has_perm(
            "webhooks.change_delivery"
        )

    def recover_view(self, request, object_id):
        """Resend every failed delivery of the workspace since a chosen time."""
        workspace = self.get_object(request, unquote(object_id))
        if workspace is None:
            raise Http404(gettext("No workspace has this id."))
        if not self.has_recover_permission(request, workspace):
            raise PermissionDenied

        now = timezone.now()
        form = RecoverForm(request.POST or None, now=now)
        if request.method == "POST" and form.is_valid():
            since = form.cleaned_data["since"]
            try:
                # Not in one transaction: the recovery commits batch by batch.
                queued = recover_workspace(workspace=workspace, since=since, now=now)
            except ResendRefusedError as error:
                form.add_error(None, str(error))
            else:
                self.log_change(
                    request,
                    workspace,
                    gettext(
                        "Recovered failed deliveries created since %(since)s: "
                        "queued %(count)d."
                    )
                    % {"since": display.format_moment(since), "count": queued},
                )
                if queued:
                    message = ngettext(
                        "Queued %(count)d failed delivery of %(workspace)s for "
                        "resending.",
                        "Queued %(count)d failed deliveries of %(workspace)s for "
                        "resending.",
                        queued,
                    )
                else:
                    message = gettext(
                        "%(workspace)s has no failed delivery to resend since then."
                    )
                self.message_user(
                    request,
                    message % {"count": queued, "workspace": workspace.name},
                    messages.SUCCESS if queued else messages.INFO,
                )
                return HttpResponseRedirect(
                    reverse("admin:webhooks_workspace_change", args=[workspace.pk])
                )

        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Recover failed deliveries of %(workspace)s")
            % {"workspace": workspace.name},
            "opts": self.opts,
            "original": workspace,
            "form": form,
            "webhook_enabled": workspace.webhook_enabled,
            "window_days": RECOVERY_WINDOW.days,
        }
        return TemplateResponse(
            request, "admin/webhooks/workspace/recover.html", context
        )

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
