"""A workspace's webhook: where, how and for which events to send.

Secrets (credentials, header values, signing secrets) are EncryptedTextFields:
encrypted at rest, and never usable in a filter.
"""

import base64
import secrets

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from webhooks.encryption import EncryptedTextField
from webhooks.models.events import validate_event_types
from webhooks.models.workspaces import Workspace

SIGNING_SECRET_PREFIX = "whsec_"  # noqa: S105 (a public prefix, not a secret)


def generate_signing_secret() -> str:
    """Return a new Standard Webhooks signing secret."""
    return SIGNING_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class SecretRevisionMixin:
    """Count the changes of a row's secrets in a field that history can keep.

    History tables never hold a secret, not even encrypted; this counter is
    what they record instead, so a change shows as "changed" and nothing more.
    ``secret_fields`` names the secrets, ``revision_field`` the counter.
    """

    secret_fields: tuple[str, ...] = ()
    revision_field = ""

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._remember_secrets()
        return instance

    def refresh_from_db(self, *args, **kwargs):
        super().refresh_from_db(*args, **kwargs)
        self._remember_secrets()

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        saved = self.secret_fields if update_fields is None else update_fields
        stored = getattr(self, "_stored_secrets", {})
        # Deferred secrets that were never assigned are not in __dict__ and
        # cannot have changed.
        if any(
            name in saved
            and name in self.__dict__
            and self.__dict__[name] != stored.get(name, "")
            for name in self.secret_fields
        ):
            setattr(self, self.revision_field, getattr(self, self.revision_field) + 1)
            if update_fields is not None:
                kwargs["update_fields"] = [*update_fields, self.revision_field]
        super().save(*args, **kwargs)
        self._remember_secrets()

    def _remember_secrets(self):
        self._stored_secrets = {
            name: self.__dict__[name]
            for name in self.secret_fields
            if name in self.__dict__
        }


class HttpMethod(models.TextChoices):
    GET = "GET", "GET"
    POST = "POST", "POST"
    PUT = "PUT", "PUT"
    PATCH = "PATCH", "PATCH"


class WebhookConfig(SecretRevisionMixin, models.Model):
    """The one webhook of a workspace: where, how and for which events to send.

    Created disabled together with its workspace; changed by workspace admins
    on the settings page, by staff in the admin and by ``configurewebhook``.
    The delivery engine writes the health fields.
    """

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="webhook"
    )
    enabled = models.BooleanField(
        _("enabled"),
        default=False,
        help_text=_(
            "While off, nothing is sent and pending deliveries are cancelled "
            "when they come due; the rest of the configuration is kept."
        ),
    )
    http_method = models.CharField(
        _("HTTP method"),
        max_length=8,
        choices=HttpMethod.choices,
        default=HttpMethod.POST,
        help_text=_(
            "POST, PUT and PATCH send the event as a JSON body; GET sends the "
            "same fields as query parameters."
        ),
    )
    endpoint_url = models.URLField(
        _("endpoint URL"),
        max_length=2048,
        blank=True,
        help_text=_("Must be reachable on the public internet over http or https."),
    )
    event_types = models.JSONField(
        _("subscribed events"),
        default=list,
        blank=True,
        validators=[validate_event_types],
        help_text=_("Only these event types create deliveries."),
    )
    signing_secret = EncryptedTextField(
        _("signing secret"),
        default=generate_signing_secret,
        help_text=_(
            "Signs every request (Standard Webhooks, HMAC-SHA256) so the "
            "receiver can tell it came from us."
        ),
    )
    previous_signing_secret = EncryptedTextField(
        _("previous signing secret"), blank=True
    )
    signing_secret_rotated_at = models.DateTimeField(
        _("signing secret rotated at"), null=True, blank=True
    )
    signing_secret_revision = models.PositiveIntegerField(
        _("signing secret revision"),
        default=0,
        help_text=_("Counts the changes of the signing secrets, for the history."),
    )
    failing_since = models.DateTimeField(
        _("failing since"),
        null=True,
        blank=True,
        help_text=_("Set by the delivery engine when deliveries start failing."),
    )
    disabled_reason = models.TextField(
        _("disabled reason"),
        blank=True,
        help_text=_("Why the delivery engine switched the webhook off, if it did."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("updated by"),
    )
    # Secrets stay out of the history: their revision counter stands in.
    history = HistoricalRecords(
        excluded_fields=["signing_secret", "previous_signing_secret"]
    )

    secret_fields = ("signing_secret", "previous_signing_secret")
    revision_field = "signing_secret_revision"

    class Meta:
        verbose_name = _("webhook configuration")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(http_method__in=HttpMethod.values),
                name="webhookconfig_http_method_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(enabled=False) | ~models.Q(endpoint_url=""),
                name="webhookconfig_enabled_needs_url",
                violation_error_message=_("An enabled webhook needs an endpoint URL."),
            ),
        ]

    def __str__(self):
        return f"External Events of {self.workspace}"

    def is_subscribed(self, event_type: str) -> bool:
        return self.enabled and event_type in self.event_types


class WebhookHeader(SecretRevisionMixin, models.Model):
    """One custom header sent with every request, in the admin's order."""

    config = models.ForeignKey(
        WebhookConfig, on_delete=models.CASCADE, related_name="headers"
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    name = models.CharField(_("name"), max_length=100)
    value = EncryptedTextField(_("value"), blank=True)
    value_revision = models.PositiveIntegerField(
        _("value revision"),
        default=0,
        help_text=_("Counts the changes of the value, for the history."),
    )
    history = HistoricalRecords(excluded_fields=["value"])

    secret_fields = ("value",)
    revision_field = "value_revision"

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                "config",
                Lower("name"),
                name="webhookheader_unique_name",
                violation_error_message=_("This header is already set."),
            ),
            models.CheckConstraint(
                condition=~models.Q(name=""), name="webhookheader_name_not_empty"
            ),
        ]

    def __str__(self):
        return self.name


class AuthKind(models.TextChoices):
    NONE = "none", _("None")
    BASIC = "basic", _("Basic")
    BEARER = "bearer", _("Bearer token")
    API_KEY = "api_key", _("API key")
    OAUTH2 = "oauth2", _("OAuth 2.0 client credentials")


# The fields each kind of authentication uses. Saving clears the others, so
# no credential lingers unused in the database.
AUTH_FIELDS = {
    AuthKind.NONE: (),
    AuthKind.BASIC: ("username", "password"),
    AuthKind.BEARER: ("token",),
    AuthKind.API_KEY: ("api_key_header", "api_key"),
    AuthKind.OAUTH2: ("token_url", "client_id", "client_secret", "scope"),
}
AUTH_SECRET_FIELDS = ("password", "token", "api_key", "client_secret")


class WebhookAuth(SecretRevisionMixin, models.Model):
    """How requests to a webhook's endpoint authenticate; one per config."""

    config = models.OneToOneField(
        WebhookConfig, on_delete=models.CASCADE, related_name="auth"
    )
    kind = models.CharField(
        _("authentication"),
        max_length=16,
        choices=AuthKind.choices,
        default=AuthKind.NONE,
        help_text=_(
            "Credentials already added as custom headers need no authentication here."
        ),
    )
    username = models.CharField(_("username"), max_length=200, blank=True)
    password = EncryptedTextField(_("password"), blank=True)
    token = EncryptedTextField(_("bearer token"), blank=True)
    api_key_header = models.CharField(_("API key header"), max_length=100, blank=True)
    api_key = EncryptedTextField(_("API key"), blank=True)
    token_url = models.URLField(_("token URL"), max_length=2048, blank=True)
    client_id = models.CharField(_("client id"), max_length=200, blank=True)
    client_secret = EncryptedTextField(_("client secret"), blank=True)
    scope = models.CharField(_("scope"), max_length=500, blank=True)
    credentials_revision = models.PositiveIntegerField(
        _("credentials revision"),
        default=0,
        help_text=_("Counts the changes of the secret credentials, for the history."),
    )
    history = HistoricalRecords(excluded_fields=list(AUTH_SECRET_FIELDS))

    secret_fields = AUTH_SECRET_FIELDS
    revision_field = "credentials_revision"

    class Meta:
        verbose_name = _("authentication settings")
        verbose_name_plural = _("authentication settings")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=AuthKind.values),
                name="webhookauth_kind_valid",
            ),
        ]

    def __str__(self):
        return self.get_kind_display()

    def clear_unused_fields(self):
        """Blank every credential the chosen kind does not use."""
        used = AUTH_FIELDS[AuthKind(self.kind)]
        for fields in AUTH_FIELDS.values():
            for field in fields:
                if field not in used:
                    setattr(self, field, "")
