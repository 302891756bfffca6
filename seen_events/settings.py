"""Settings for the External Events project.

Every value that differs between a laptop and production is read from the
environment through django-environ; a ``.env`` file beside ``manage.py`` is
read when present. With no variables set, the project runs on the embedded
default: SQLite and django-q2's ORM broker on the same database. Each variable
is listed in ``.env.example`` and in the README.
"""

import secrets
from pathlib import Path

import environ

from seen_events.local_keys import read_or_create_key

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# Without SECRET_KEY, a development key is generated into var/. Its
# "django-insecure-" prefix lets the system checks refuse it when DEBUG is off.
SECRET_KEY = env.str("SECRET_KEY", default="") or read_or_create_key(
    path=LOCAL_DIR / "secret.key",
    generate=lambda: "django-insecure-" + secrets.token_urlsafe(50),
)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_q",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "seen_events.urls"
WSGI_APPLICATION = "seen_events.wsgi.application"
ASGI_APPLICATION = "seen_events.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database. SQLite runs in WAL mode so readers never block the writer, opens
# every transaction with BEGIN IMMEDIATE so a writer waits for the lock up
# front instead of failing half-way with "database is locked", and waits up to
# 20 seconds for that lock. Connections are kept: reconnecting on every request
# costs a multiple of the request itself.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{LOCAL_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    LOCAL_DIR.mkdir(exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA busy_timeout=20000;"
        ),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
LOGIN_URL = "admin:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = LOCAL_DIR / "static"
# WhiteNoise serves static files straight from the apps, so the web process
# needs no collectstatic step and no separate file server.
WHITENOISE_USE_FINDERS = True

EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="webhooks@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}

# django-q2. A task must never be handed to a second worker while the first
# still runs it, so the broker's retry must outlast the task timeout, which in
# turn must outlast the outgoing HTTP deadline; webhooks.checks enforces both.
# The timeout leaves room for an OAuth token request and one refresh on 401
# next to the delivery itself.
Q_CLUSTER = {
    "name": "seen-events",
    "workers": env.int("Q_CLUSTER_WORKERS", default=2),
    "timeout": env.int("Q_CLUSTER_TIMEOUT", default=90),
    "retry": env.int("Q_CLUSTER_RETRY", default=120),
    # Successful task results are not kept: delivery attempts are recorded in
    # our own tables, and saving results caps the cluster near 100 tasks/s.
    # Failures are still saved.
    "save_limit": -1,
    # Worker restarts drop the HTTP keep-alive pool and stall the queue; the
    # memory ceiling (KiB) recycles a worker that grows instead.
    "recycle": 100_000,
    "max_rss": 512_000,
    # A task the broker re-delivers after a crash is not retried by django-q2:
    # the delivery's lease expires and the sweeper queues it again.
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "poll": 0.05,
    "label": "Task queue",
}
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# Settings owned by this project.

# Fernet keys (cryptography's URL-safe base64 of 32 bytes) that encrypt secrets
# at rest. The first key encrypts; every key decrypts, so a new key goes first
# and old ones stay until `manage.py reencryptsecrets` has run.
WEBHOOK_ENCRYPTION_KEYS = env.list("WEBHOOK_ENCRYPTION_KEYS", default=[])
WEBHOOK_DEVELOPMENT_KEY_FILE = LOCAL_DIR / "encryption.key"

# Total seconds one outgoing HTTP request may take, connect to last byte.
WEBHOOK_HTTP_DEADLINE = env.float("WEBHOOK_HTTP_DEADLINE", default=15.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"level": "INFO"},
    },
}
