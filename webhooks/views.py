"""Settings → External Events: where workspace admins configure their webhook.

The views stay thin: WebhookSettingsForm judges a configuration, the
workspaces and test_events modules do the rest. Every page works without
JavaScript; the small POST endpoints also answer JSON to the page's script
(``Accept: application/json``). Secrets reach the browser only in the answer
to an explicit reveal, which is never cached.
"""

import dataclasses

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Prefetch
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from webhooks.forms import MAX_HEADERS, SendTestEventForm, WebhookSettingsForm
from webhooks.models import (
    AUTH_FIELDS,
    EVENT_TYPE_DESCRIPTIONS,
    AttemptOutcome,
    AttemptTrigger,
    AuthKind,
    Delivery,
    DeliveryAttempt,
    Membership,
    Role,
    WebhookConfig,
    WebhookHeader,
    Workspace,
)
from webhooks.permissions import get_configurable_workspace
from webhooks.retries import disable_after
from webhooks.test_events import WebhookDisabledError, send_test_event
from webhooks.workspaces import (
    ROTATION_GRACE,
    rotate_ingest_key,
    rotate_signing_secret,
)

RECENT_DELIVERIES = 20
TEST_RESULT_SESSION_KEY = "webhooks:test-event-result"


@login_required
def workspace_list(request):
    """List the workspaces the signed-in person belongs to."""
    memberships = (
        Membership.objects.filter(user=request.user)
        .select_related("workspace")
        .order_by("workspace__name")
    )
    rows = [
        {
            "workspace": membership.workspace,
            "role": membership.get_role_display(),
            "can_configure": membership.role == Role.ADMIN or request.user.is_superuser,
        }
        for membership in memberships
    ]
    if request.user.is_superuser:
        # Superusers configure any workspace; list the others after their own.
        own = {row["workspace"].pk for row in rows}
        rows += [
            {"workspace": workspace, "role": "", "can_configure": True}
            for workspace in Workspace.objects.exclude(pk__in=own).order_by("name")
        ]
    return render(request, "webhooks/workspace_list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def external_events(request, slug):
    """Show the webhook's settings, and save them with post/redirect/get."""
    workspace, config = _load(request, slug)
    if request.method == "POST":
        form = WebhookSettingsForm(config=config, data=request.POST)
        if form.is_valid():
            form.save(user=request.user)
            if form.config_form.cleaned_data["enabled"]:
                messages.success(request, _("Settings saved. The webhook is on."))
            else:
                messages.success(
                    request,
                    _(
                        "Settings saved. The webhook is off: nothing is sent, "
                        "and the configuration is kept."
                    ),
                )
            return redirect(settings_url(workspace))
        return render_settings(request, workspace=workspace, config=config, form=form)
    return render_settings(request, workspace=workspace, config=config)


@login_required
@require_POST
def rotate_ingest_key_view(request, slug):
    """Give the workspace a new ingest key; the old one works for a while."""
    workspace, _config = _load(request, slug)
    rotate_ingest_key(workspace=workspace)
    messages.success(
        request,
        _(
            "The ingest key was rotated. Update your player; the previous key "
            "keeps working for %(hours)d hours."
        )
        % {"hours": grace_hours()},
    )
    return redirect(settings_url(workspace) + "#ingest-key")


@login_required
@require_POST
def rotate_signing_secret_view(request, slug):
    """Give the webhook a new signing secret; the old one signs for a while."""
    workspace, _config = _load(request, slug)
    with transaction.atomic():
        # Locked, so that two rotations at once cannot both demote the same
        # secret and lose the first new one.
        config = WebhookConfig.objects.select_for_update().get(workspace=workspace)
        rotate_signing_secret(config=config)
    messages.success(
        request,
        _(
            "The signing secret was rotated. Requests carry a signature from the "
            "previous secret too for %(hours)d hours, while your receiver "
            "switches to the new one."
        )
        % {"hours": grace_hours()},
    )
    return redirect(settings_url(workspace) + "#signing")


@never_cache
@login_required
@require_POST
def reveal_signing_secret(request, slug):
    """Answer the signing secret: JSON for the script, else the page showing it."""
    workspace, config = _load(request, slug)
    if wants_json(request):
        return JsonResponse({"value": config.signing_secret})
    return render_settings(
        request,
        workspace=workspace,
        config=config,
        revealed={"signing_secret": config.signing_secret},
    )


@never_cache
@login_required
@require_POST
def reveal_header(request, slug, header_id):
    """Answer one header's value: JSON for the script, else the page showing it."""
    workspace, config = _load(request, slug)
    header = get_object_or_404(WebhookHeader, pk=header_id, config=config)
    if wants_json(request):
        return JsonResponse({"value": header.value})
    return render_settings(
        request,
        workspace=workspace,
        config=config,
        revealed={"header_id": header.pk, "header_value": header.value},
    )


@login_required
@require_POST
def send_test(request, slug):
    """Send a sample event now and show what the endpoint answered."""
    workspace, config = _load(request, slug)
    form = SendTestEventForm(request.POST)
    if not form.is_valid():
        message = " ".join(form.errors["event_type"])
        return _test_refused(request, workspace, message, status=400)
    try:
        report = send_test_event(
            config=config, event_type=form.cleaned_data["event_type"]
        )
    except WebhookDisabledError as error:
        return _test_refused(request, workspace, str(error.message), status=409)

    result = describe_report(report)
    if wants_json(request):
        return JsonResponse(result)
    request.session[TEST_RESULT_SESSION_KEY] = {"workspace": slug, **result}
    return redirect(settings_url(workspace) + "#test-event")


def _test_refused(request, workspace, message, *, status):
    if wants_json(request):
        return JsonResponse({"error": message}, status=status)
    messages.error(request, message)
    return redirect(settings_url(workspace) + "#test-event")


def _load(request, slug):
    workspace = get_configurable_workspace(user=request.user, slug=slug)
    config = WebhookConfig.objects.select_related("auth").get(workspace=workspace)
    config.workspace = workspace
    return workspace, config


def render_settings(request, *, workspace, config, form=None, revealed=None):
    """Render the settings page with ``form``, or the stored configuration."""
    if form is None:
        form = WebhookSettingsForm(config=config)
        # Blank rows up to the limit: without JavaScript, the stylesheet
        # shows the next blank row once the previous one has a name.
        form.header_formset.extra = MAX_HEADERS
    is_bound = form.config_form.is_bound
    empty_row = dress_widgets(form)
    test_result = request.session.pop(TEST_RESULT_SESSION_KEY, None)
    if test_result and test_result.pop("workspace") != workspace.slug:
        test_result = None
    context = {
        "workspace": workspace,
        "config": config,
        "form": form,
        "config_form": form.config_form,
        "formset": form.header_formset,
        "auth_form": form.auth_form,
        "error_entries": form.error_entries if is_bound else [],
        "event_choices": [
            (choice, EVENT_TYPE_DESCRIPTIONS[choice.data["value"]])
            for choice in form.config_form["event_types"]
        ],
        "auth_groups": auth_groups(form.auth_form),
        "auth_expanded": form.auth_form["kind"].value() != AuthKind.NONE
        or (is_bound and bool(form.auth_form.errors)),
        "max_headers": MAX_HEADERS,
        "empty_row": empty_row,
        "recent_limit": RECENT_DELIVERIES,
        "revealed": revealed or {},
        "ingest_key_grace_until": grace_until(workspace.ingest_key_rotated_at),
        "signing_grace_until": grace_until(config.signing_secret_rotated_at)
        if config.previous_signing_secret
        else None,
        "grace_hours": grace_hours(),
        "health": describe_health(config),
        "test_form": SendTestEventForm(),
        "test_result": test_result,
        "deliveries": recent_deliveries(workspace=workspace),
    }
    return render(request, "webhooks/external_events.html", context)


def dress_widgets(form: WebhookSettingsForm):
    """Give the boxes their placeholders; return the blank header row.

    The page's stylesheet reveals the next blank header row once a name is
    typed, by the name box's placeholder disappearing: every name box needs
    one.
    """
    form.config_form.fields["enabled"].widget.attrs["role"] = "switch"
    # The section is already headed "Authentication".
    form.auth_form.fields["kind"].label = _("Type")
    form.config_form.fields["endpoint_url"].widget.attrs.update(
        placeholder="https://hooks.example.com/seen", spellcheck="false"
    )
    empty_row = form.header_formset.empty_form
    for row in [*form.header_formset.forms, empty_row]:
        row.fields["name"].widget.attrs.update(
            placeholder=_("Name, e.g. X-Team"), spellcheck="false"
        )
        saved = bool(row.instance.pk and row.instance.value)
        row.fields["value"].widget.attrs["placeholder"] = (
            "••••••••" if saved else _("Value")
        )
    return empty_row


def auth_groups(auth_form):
    """Return each authentication kind with its bound fields, for the page."""
    return [
        {
            "kind": kind.value,
            "label": kind.label,
            "fields": [auth_form[name] for name in names],
        }
        for kind, names in AUTH_FIELDS.items()
        if names
    ]


def describe_health(config: WebhookConfig) -> dict | None:
    """Say why the webhook was switched off, or since when it is failing."""
    if not config.enabled and config.disabled_reason:
        return {"state": "disabled", "reason": config.disabled_reason}
    if not config.enabled or config.failing_since is None:
        return None
    latest_failure = (
        DeliveryAttempt.objects.filter(delivery__workspace_id=config.workspace_id)
        .exclude(outcome__in=[AttemptOutcome.SUCCEEDED, AttemptOutcome.IN_PROGRESS])
        .exclude(trigger=AttemptTrigger.TEST)
        .order_by("-started_at")
        .values_list("error", flat=True)
        .first()
    )
    now = timezone.now()
    return {
        "state": "failing",
        "since": config.failing_since,
        "last_error": latest_failure or "",
        "disable_after": timesince(now - disable_after(), now),
    }


def recent_deliveries(*, workspace: Workspace) -> list[Delivery]:
    """Return the workspace's latest deliveries with their attempts, two queries."""
    attempts = DeliveryAttempt.objects.only(
        "delivery_id",
        "number",
        "trigger",
        "started_at",
        "duration_ms",
        "response_status",
        "outcome",
        "error",
    ).order_by("number")
    deliveries = list(
        Delivery.objects.filter(workspace=workspace)
        .order_by("-created_at")
        .prefetch_related(Prefetch("attempts", queryset=attempts))[:RECENT_DELIVERIES]
    )
    for delivery in deliveries:
        tried = delivery.attempts.all()
        delivery.latest_attempt = tried[len(tried) - 1] if tried else None
        delivery.is_test = any(a.trigger == AttemptTrigger.TEST for a in tried)
    return deliveries


def describe_report(report) -> dict:
    """Return a test attempt's report as the page shows it."""
    result = dataclasses.asdict(report)
    result["outcome_label"] = (
        str(AttemptOutcome(report.outcome).label) if report.outcome else ""
    )
    result["succeeded"] = report.outcome == AttemptOutcome.SUCCEEDED
    if result["succeeded"]:
        result["summary"] = _("Your endpoint accepted the test event.")
    elif report.response_status is not None:
        result["summary"] = _("Your endpoint answered, but not with a 2xx status.")
    else:
        result["summary"] = _("The test event did not reach your endpoint.")
    return result


def wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def settings_url(workspace: Workspace) -> str:
    return reverse("webhooks:external-events", args=[workspace.slug])


def grace_hours() -> int:
    return int(ROTATION_GRACE.total_seconds() // 3600)


def grace_until(rotated_at):
    """Return until when a replaced key still works, if it still does."""
    if rotated_at is None:
        return None
    until = rotated_at + ROTATION_GRACE
    return until if until > timezone.now() else None
