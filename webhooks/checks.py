"""System checks that refuse unsafe configurations before anything runs."""

from django.conf import settings
from django.core.checks import Error, register

from webhooks.encryption import is_valid_key
from webhooks.retries import parse_disable_after, parse_retry_schedule


@register()
def check_task_timeouts(app_configs, **kwargs):
    """Refuse django-q2 timings that could run one delivery in two workers.

    The broker hands a task to another worker once ``retry`` seconds pass
    without an acknowledgement, so ``retry`` must outlast the task
    ``timeout``, and the timeout must outlast the HTTP deadline, or a slow
    endpoint gets the same request twice.
    """
    cluster = getattr(settings, "Q_CLUSTER", {})
    timeout = cluster.get("timeout")
    retry = cluster.get("retry", 60)
    deadline = settings.WEBHOOK_HTTP_DEADLINE
    errors = []
    if timeout is None:
        errors.append(
            Error(
                "Q_CLUSTER has no task timeout.",
                hint="Set Q_CLUSTER_TIMEOUT to more than WEBHOOK_HTTP_DEADLINE "
                f"({deadline:g} s).",
                id="webhooks.E001",
            )
        )
        return errors
    if timeout <= deadline:
        errors.append(
            Error(
                f"The task timeout ({timeout} s) is not longer than the HTTP "
                f"deadline ({deadline:g} s): a slow endpoint would be cut off "
                "mid-request.",
                hint="Raise Q_CLUSTER_TIMEOUT or lower WEBHOOK_HTTP_DEADLINE.",
                id="webhooks.E002",
            )
        )
    if retry <= timeout:
        errors.append(
            Error(
                f"The broker retry ({retry} s) is not longer than the task "
                f"timeout ({timeout} s): a task still running would be handed "
                "to a second worker.",
                hint="Set Q_CLUSTER_RETRY above Q_CLUSTER_TIMEOUT.",
                id="webhooks.E003",
            )
        )
    return errors


@register()
def check_production_keys(app_configs, **kwargs):
    """Refuse development keys, missing keys or malformed keys."""
    errors = []
    keys = settings.WEBHOOK_ENCRYPTION_KEYS
    for position, key in enumerate(keys, start=1):
        if not is_valid_key(key):
            errors.append(
                Error(
                    f"Key number {position} in WEBHOOK_ENCRYPTION_KEYS is not a "
                    "Fernet key.",
                    hint="Each key is the URL-safe base64 encoding of 32 bytes, "
                    "as Fernet.generate_key() prints it.",
                    id="webhooks.E004",
                )
            )
    if settings.DEBUG:
        return errors

    if not settings.SECRET_KEY or settings.SECRET_KEY.startswith("django-insecure-"):
        errors.append(
            Error(
                "SECRET_KEY is not set, and DEBUG is off.",
                hint="Set SECRET_KEY to a long random value, the same on every "
                "web process.",
                id="webhooks.E005",
            )
        )
    if not keys:
        errors.append(
            Error(
                "WEBHOOK_ENCRYPTION_KEYS is not set, and DEBUG is off.",
                hint="Secrets at rest are encrypted with these keys; generate "
                "one with Fernet.generate_key() and keep it safe.",
                id="webhooks.E006",
            )
        )
    return errors


@register()
def check_retry_policy(app_configs, **kwargs):
    """Refuse a retry schedule or disabling delay the delivery engine cannot use.

    Checked at start-up so that a typo in the environment stops the deploy,
    instead of every delivery failing when its attempt is due.
    """
    errors = []
    _, error = parse_retry_schedule(value=settings.WEBHOOK_RETRY_SCHEDULE)
    if error:
        errors.append(
            Error(
                error,
                hint="Write seconds separated by commas, the first attempt's "
                'first, e.g. "0,5,300,1800,7200,18000,36000,36000".',
                id="webhooks.E010",
            )
        )
    _, error = parse_disable_after(value=settings.WEBHOOK_DISABLE_AFTER)
    if error:
        errors.append(Error(error, id="webhooks.E011"))
    return errors
