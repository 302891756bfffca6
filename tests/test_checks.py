import subprocess
import sys

import pytest
from django.conf import settings as django_settings

from webhooks.checks import (
    check_production_keys,
    check_retry_policy,
    check_task_timeouts,
)


def error_ids(errors):
    return [error.id for error in errors]


@pytest.fixture
def cluster(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 90, "retry": 120}
    settings.WEBHOOK_HTTP_DEADLINE = 15
    return settings.Q_CLUSTER


def test_default_task_timings_pass(cluster):
    assert check_task_timeouts(None) == []


def test_retry_not_longer_than_timeout_is_an_error(cluster):
    cluster["retry"] = 90

    errors = check_task_timeouts(None)

    assert error_ids(errors) == ["webhooks.E003"]
    assert errors[0].msg == (
        "The broker retry (90 s) is not longer than the task timeout (90 s): a "
        "task still running would be handed to a second worker."
    )


def test_timeout_not_longer_than_http_deadline_is_an_error(cluster, settings):
    settings.WEBHOOK_HTTP_DEADLINE = 90

    errors = check_task_timeouts(None)

    assert error_ids(errors) == ["webhooks.E002"]
    assert errors[0].msg.startswith(
        "The task timeout (90 s) is not longer than the HTTP deadline (90 s)"
    )


def test_missing_timeout_is_an_error(cluster):
    del cluster["timeout"]

    assert error_ids(check_task_timeouts(None)) == ["webhooks.E001"]


def test_checks_are_errors_not_warnings(cluster):
    cluster["retry"] = 10

    assert all(error.is_serious() for error in check_task_timeouts(None))


def test_development_secret_key_refused_without_debug(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = "django-insecure-generated-locally"

    assert error_ids(check_production_keys(None)) == ["webhooks.E005"]


def test_missing_encryption_keys_refused_without_debug(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = "a-real-production-secret-key"
    settings.WEBHOOK_ENCRYPTION_KEYS = []

    assert error_ids(check_production_keys(None)) == ["webhooks.E006"]


def test_development_keys_accepted_with_debug(settings):
    settings.DEBUG = True
    settings.SECRET_KEY = "django-insecure-generated-locally"
    settings.WEBHOOK_ENCRYPTION_KEYS = []

    assert check_production_keys(None) == []


def test_malformed_encryption_key_is_named_by_position(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = "a-real-production-secret-key"
    settings.WEBHOOK_ENCRYPTION_KEYS = [
        settings.WEBHOOK_ENCRYPTION_KEYS[0],
        "not-a-fernet-key",
    ]

    errors = check_production_keys(None)

    assert error_ids(errors) == ["webhooks.E004"]
    assert errors[0].msg == (
        "Key number 2 in WEBHOOK_ENCRYPTION_KEYS is not a Fernet key."
    )
    assert "not-a-fernet-key" not in str(errors[0])


def run_manage_py_check(tmp_path, **environment):
    """Run ``manage.py check`` in a process of its own with ``environment``."""
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check"],
        cwd=django_settings.BASE_DIR,
        env={
            "PATH": "/usr/bin:/bin",
            "DEBUG": "true",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'check.sqlite3'}",
            **environment,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_manage_py_check_fails_on_unsafe_timings(tmp_path):
    result = run_manage_py_check(
        tmp_path, Q_CLUSTER_TIMEOUT="200", Q_CLUSTER_RETRY="100"
    )

    assert result.returncode == 1
    assert "webhooks.E003" in result.stderr


def test_default_retry_policy_passes(settings):
    settings.WEBHOOK_RETRY_SCHEDULE = "0,5,300,1800,7200,18000,36000,36000"
    settings.WEBHOOK_DISABLE_AFTER = "5d"

    assert check_retry_policy(None) == []


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("", "WEBHOOK_RETRY_SCHEDULE is empty: it needs at least one delay."),
        (
            "0,5m",
            "Delay number 2 in WEBHOOK_RETRY_SCHEDULE, '5m', is not a number of "
            "seconds.",
        ),
        ("0,-5", "Delay number 2 in WEBHOOK_RETRY_SCHEDULE, '-5', is negative."),
    ],
)
def test_unusable_retry_schedule_is_an_error(settings, schedule, message):
    settings.WEBHOOK_RETRY_SCHEDULE = schedule

    errors = check_retry_policy(None)

    assert error_ids(errors) == ["webhooks.E010"]
    assert errors[0].msg == message
    assert errors[0].is_serious()


def test_unusable_disable_after_is_an_error(settings):
    settings.WEBHOOK_DISABLE_AFTER = "0"

    errors = check_retry_policy(None)

    assert error_ids(errors) == ["webhooks.E011"]
    assert errors[0].msg == "WEBHOOK_DISABLE_AFTER, '0', is not longer than zero."


def test_manage_py_check_fails_on_an_unusable_retry_schedule(tmp_path):
    result = run_manage_py_check(tmp_path, WEBHOOK_RETRY_SCHEDULE="0,soon")

    assert result.returncode == 1
    assert "webhooks.E010" in result.stderr
    assert "'soon', is not a number of seconds" in result.stderr
