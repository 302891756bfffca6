"""Endpoint health: noticing a failing webhook, and switching it off.

A webhook is failing from its first failed attempt until its next success.
Once every attempt has failed for WEBHOOK_DISABLE_AFTER, or the endpoint
answers 410 Gone, the webhook is disabled with a reason. The workspace's admins
hear of both by e-mail. Every change is a conditional update, so concurrent
workers record each transition, and send each e-mail, once.
"""

import datetime
import functools
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from webhooks.models import Membership, Role, WebhookConfig
from webhooks.retries import should_disable_webhook

logger = logging.getLogger(__name__)


def record_success(*, config_id: int) -> None:
    """Clear the failing state after a successful attempt."""
    WebhookConfig.objects.filter(pk=config_id, failing_since__isnull=False).update(
        failing_since=None
    )


def record_failure(*, config_id: int, now: datetime.datetime, error: str) -> None:
    """Note a failed attempt; disable a webhook that has failed for too long.

    Must run inside the transaction that records the attempt; e-mails are sent
    once it commits.
    """
    started = WebhookConfig.objects.filter(
        pk=config_id, failing_since__isnull=True
    ).update(failing_since=now)
    if started:
        logger.warning("webhook failing config=%s", config_id)
        _notify_after_commit(config_id=config_id, kind="failing", detail=error)
        return

    failing_since = (
        WebhookConfig.objects.filter(pk=config_id)
        .values_list("failing_since", flat=True)
        .first()
    )
    if should_disable_webhook(failing_since=failing_since, now=now):
        disable_webhook(
            config_id=config_id,
            reason=(
                "Every delivery has failed since "
                f"{failing_since:%Y-%m-%d %H:%M} UTC; last error: {error}"
            ),
        )


def disable_webhook(*, config_id: int, reason: str) -> bool:
    """Switch the webhook off with ``reason``; tell whether this call did it."""
    disabled = WebhookConfig.objects.filter(pk=config_id, enabled=True).update(
        enabled=False, disabled_reason=reason
    )
    if disabled:
        logger.warning("webhook disabled config=%s", config_id)
        _notify_after_commit(config_id=config_id, kind="disabled", detail=reason)
    return bool(disabled)


def _notify_after_commit(*, config_id: int, kind: str, detail: str) -> None:
    transaction.on_commit(
        functools.partial(notify_admins, config_id=config_id, kind=kind, detail=detail),
        robust=True,
    )


def notify_admins(*, config_id: int, kind: str, detail: str) -> None:
    """E-mail the workspace's admins that its webhook is failing or disabled."""
    config = WebhookConfig.objects.select_related("workspace").get(pk=config_id)
    workspace = config.workspace
    recipients = list(
        Membership.objects.filter(workspace=workspace, role=Role.ADMIN)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if not recipients:
        return
    if kind == "failing":
        subject = f"External Events of {workspace.name} are failing"
        body = (
            f"Requests to the webhook of {workspace.name} have started to fail.\n\n"
            f"Last error: {detail}\n\n"
            "Deliveries are retried on their schedule. If every delivery keeps "
            "failing, the webhook will be switched off."
        )
    else:
        subject = f"External Events of {workspace.name} were switched off"
        body = (
            f"The webhook of {workspace.name} was switched off.\n\n"
            f"Why: {detail}\n\n"
            "Fix the endpoint, then turn the webhook on again on the "
            "Settings > External Events page."
        )
    send_mail(
        subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=True
    )
    logger.info("admins notified config=%s kind=%s", config_id, kind)
