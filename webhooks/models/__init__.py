"""The data of External Events: who configures what, and what was delivered.

One module per concept; everything is importable from ``webhooks.models``.
"""

from webhooks.models.configuration import (
    AUTH_FIELDS,
    AUTH_SECRET_FIELDS,
    SIGNING_SECRET_PREFIX,
    AuthKind,
    HttpMethod,
    SecretRevisionMixin,
    WebhookAuth,
    WebhookConfig,
    WebhookHeader,
    generate_signing_secret,
)
from webhooks.models.deliveries import (
    AttemptOutcome,
    AttemptTrigger,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
)
from webhooks.models.events import (
    EVENT_TYPE_DESCRIPTIONS,
    Event,
    EventType,
    validate_event_types,
)
from webhooks.models.workspaces import (
    INGEST_KEY_PREFIX,
    Membership,
    Role,
    Workspace,
    generate_ingest_key,
    is_web_origin,
    validate_allowed_origins,
)

__all__ = [
    "AUTH_FIELDS",
    "AUTH_SECRET_FIELDS",
    "EVENT_TYPE_DESCRIPTIONS",
    "INGEST_KEY_PREFIX",
    "SIGNING_SECRET_PREFIX",
    "AttemptOutcome",
    "AttemptTrigger",
    "AuthKind",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryStatus",
    "Event",
    "EventType",
    "HttpMethod",
    "Membership",
    "Role",
    "SecretRevisionMixin",
    "WebhookAuth",
    "WebhookConfig",
    "WebhookHeader",
    "Workspace",
    "generate_ingest_key",
    "generate_signing_secret",
    "is_web_origin",
    "validate_allowed_origins",
    "validate_event_types",
]
