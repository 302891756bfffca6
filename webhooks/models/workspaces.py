"""Workspaces and who belongs to them."""

import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

INGEST_KEY_PREFIX = "ingest_"


def generate_ingest_key() -> str:
    """Return a new public ingest key: a recognisable prefix and 32 random bytes."""
    return INGEST_KEY_PREFIX + secrets.token_urlsafe(32)


def validate_allowed_origins(value):
    """Refuse anything but a list of distinct web origins, scheme://host[:port]."""
    if not isinstance(value, list):
        raise ValidationError(_("Allowed origins must be a list."), code="invalid")
    malformed = [item for item in value if not is_web_origin(item)]
    if malformed:
        raise ValidationError(
            _(
                "Not an origin: %(origins)s. Write each as scheme://host or "
                "scheme://host:port, without a path, e.g. https://www.example.com."
            ),
            code="invalid_origin",
            params={"origins": ", ".join(map(str, malformed))},
        )
    if len({item.lower() for item in value}) != len(value):
        raise ValidationError(_("An origin is listed twice."), code="duplicate")


def is_web_origin(value) -> bool:
    """Tell whether ``value`` is an http(s) origin as browsers send it."""
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError on a malformed port)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and "@" not in parts.netloc
        and value == f"{parts.scheme}://{parts.netloc}"
    )


class Workspace(models.Model):
    """One SEEN customer account that embeds the player.

    Created by staff in the admin or by ``manage.py createworkspace``, always
    through ``webhooks.workspaces.create_workspace`` so that its webhook
    configuration exists from the start.
    """

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    ingest_key = models.CharField(
        _("ingest key"),
        max_length=64,
        unique=True,
        default=generate_ingest_key,
        help_text=_(
            "Public key the player sends with each event. It can only post "
            "events to this workspace; rotating it keeps the previous key "
            "working for 24 hours."
        ),
    )
    previous_ingest_key = models.CharField(
        _("previous ingest key"), max_length=64, unique=True, null=True, blank=True
    )
    ingest_key_rotated_at = models.DateTimeField(
        _("ingest key rotated at"), null=True, blank=True
    )
    allowed_origins = models.JSONField(
        _("allowed origins"),
        default=list,
        blank=True,
        validators=[validate_allowed_origins],
        help_text=_(
            "Web pages allowed to post events from a browser, as origins such "
            "as https://www.example.com. Empty allows every origin. Pages on "
            "any other origin are refused; clients that are not browsers send "
            "no origin and are not affected."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ingest_key__startswith=INGEST_KEY_PREFIX),
                name="workspace_ingest_key_prefixed",
            ),
            models.CheckConstraint(
                condition=~models.Q(slug=""), name="workspace_slug_not_empty"
            ),
        ]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    MEMBER = "member", _("Member")


class Membership(models.Model):
    """A user's role in one workspace; written by staff or the CLI."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(
        _("role"),
        max_length=16,
        choices=Role.choices,
        default=Role.MEMBER,
        help_text=_(
            "Admins configure the workspace's External Events; members can "
            "only see that the workspace exists."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "workspace"], name="membership_unique_user_workspace"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
        ]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()}) in {self.workspace}"
