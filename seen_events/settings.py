"""Settings for the External Events project.

Every value that differs between a laptop and production is read from the
environment through django-environ; a ``.env`` file beside ``manage.py`` is
read when present. With no variables set, the project runs on the embedded
default: SQLite and django-q2's ORM broker on the same database. Each variable
is listed in ``.env.example`` and in the README.
"""

import os
import secrets
import tempfile
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
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "simple_history",
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
    "seen_events.content_security.ContentSecurityPolicyMiddleware",
    # Records who changed a webhook's configuration in its history.
    "simple_history.middleware.HistoryRequestMiddleware",
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
    # Tests run on a file too: Django's shared in-memory test database fails
    # at once on a lock instead of waiting for it, so tests with concurrent
    # writers would not see SQLite as production does. One file per process,
    # so that test runs side by side do not share it.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"seen-events-test-{os.getpid()}.db")
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
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "webhooks:workspaces"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
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

# Pages load scripts, styles and images from this server only, and nothing
# inline: an injected <script> or style attribute does not run. The admin and
# the API documentation get their few exceptions in seen_events.content_security.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# The history of a configuration is an audit trail, not an undo: reverting
# would write values that no form validated.
SIMPLE_HISTORY_REVERT_DISABLED = True

# Each API view names its own authentication: the event endpoint the
# workspace key, the configuration endpoint a user's token or session.
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # The client address for throttling is the last entry of X-Forwarded-For
    # added by this many trusted proxies. With none, the header is ignored:
    # any client can write it, so trusting it would let one address pose as
    # many.
    "NUM_PROXIES": env.int("TRUSTED_PROXY_COUNT", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "SEEN External Events",
    "DESCRIPTION": (
        "Player clients report what viewers do; each accepted event is "
        "delivered to the workspace's own webhook."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The documentation pages load their scripts from this server, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "EventTypeEnum": "webhooks.models.EventType",
        "AuthKindEnum": "webhooks.models.AuthKind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "webhooks.api.schema.complete_event_schemas",
        "webhooks.api.configuration.close_configuration_schemas",
    ],
}

# django-q2. A task must never be handed to a second worker while the first
# still runs it, so the broker's retry must outlast the task timeout, which in
# turn must outlast the outgoing HTTP deadline; webhooks.checks enforces both.
# The timeout leaves room for an OAuth token request and one refresh on 401
# next to the delivery itself.
Q_CLUSTER = {
    # Deployments sharing one Redis need names of their own.
    "name": env.str("Q_CLUSTER_NAME", default="seen-events"),
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

# Outgoing requests (webhooks.outbound). Seconds to open a connection, within
# the deadline above, and bytes of a response body kept; the rest is never
# read.
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=5.0)
WEBHOOK_RESPONSE_BODY_LIMIT = env.int("WEBHOOK_RESPONSE_BODY_LIMIT", default=20 * 1024)
# Endpoints must resolve to public addresses only. On, loopback and private
# networks are allowed too: for development and tests, never production.
WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = env.bool(
    "WEBHOOK_ALLOW_PRIVATE_DESTINATIONS", default=False
)
# An http(s) proxy that carries every outgoing request when set. The target
# is still checked here first, but the proxy resolves the name again itself.
WEBHOOK_EGRESS_PROXY = env.str("WEBHOOK_EGRESS_PROXY", default="")

# Seconds to wait before each attempt of a delivery, comma-separated, the
# first attempt's first: by default at once, then 5 s, 5 min, 30 min, 2 h,
# 5 h, 10 h and 10 h, eight attempts over about 27 hours. Kept as text and
# read by webhooks.retries, so a malformed value is a system check error
# rather than a crash on import.
WEBHOOK_RETRY_SCHEDULE = env.str(
    "WEBHOOK_RETRY_SCHEDULE", default="0,5,300,1800,7200,18000,36000,36000"
)
# How long every delivery of a webhook may fail before the webhook is
# disabled: seconds, a number with a unit ("5d", "36h") or ISO 8601 ("P5D").
WEBHOOK_DISABLE_AFTER = env.str("WEBHOOK_DISABLE_AFTER", default="5d")

# Days events, deliveries and attempts are kept before the daily purge.
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=30)

# Requests to the player-event endpoint allowed per workspace and per client
# address ("number/second|minute|hour|day"), counted in Django's cache. They
# bound how fast the queue can grow: past them, clients get 429.
WEBHOOK_INGEST_RATE_PER_KEY = env.str("WEBHOOK_INGEST_RATE_PER_KEY", "6000/minute")
WEBHOOK_INGEST_RATE_PER_ADDRESS = env.str(
    "WEBHOOK_INGEST_RATE_PER_ADDRESS", "1200/minute"
)

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
