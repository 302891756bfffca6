"""Creating workspaces and rotating their keys and secrets."""

import datetime
import logging
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from webhooks.models import (
    Membership,
    Role,
    WebhookAuth,
    WebhookConfig,
    WebhookHeader,
    Workspace,
    generate_ingest_key,
    generate_signing_secret,
)

logger = logging.getLogger(__name__)

# How long a replaced ingest key or signing secret keeps working, so players
# and receivers can move to the new one without losing events.
ROTATION_GRACE = datetime.timedelta(hours=24)

DEFAULT_HEADERS = (("Content-Type", "application/json"),)


def create_workspace(
    *, name: str, slug: str = "", admin: AbstractBaseUser | None = None
) -> Workspace:
    """Create a workspace with its disabled webhook, default header and auth.

    The slug is derived from the name unless given, with a numeric suffix when
    it is taken. ``admin``, when given, becomes the workspace's admin.
    Everything is written in one transaction.
    """
    with transaction.atomic():
        workspace = Workspace.objects.create(
            name=name, slug=slug or unique_slug_for(name=name)
        )
        create_webhook_config(workspace=workspace)
        if admin is not None:
            Membership.objects.create(user=admin, workspace=workspace, role=Role.ADMIN)
    logger.info("workspace created workspace=%s", workspace.slug)
    return workspace


def create_webhook_config(*, workspace: Workspace) -> WebhookConfig:
    """Create the disabled webhook of a new workspace, with its defaults."""
    config = WebhookConfig.objects.create(workspace=workspace)
    # One by one, not in bulk: each row's creation goes into its history.
    for position, (name, value) in enumerate(DEFAULT_HEADERS):
        WebhookHeader.objects.create(
            config=config, position=position, name=name, value=value
        )
    WebhookAuth.objects.create(config=config)
    return config


def get_or_create_user(
    *, username: str, email: str = "", superuser: bool = False
) -> tuple[AbstractBaseUser, str]:
    """Return the user named ``username`` and the password it was created with.

    A new user gets a generated password, returned so it can be shown once.
    The password is empty when the user already existed: theirs is neither
    read nor changed.
    """
    user_model = get_user_model()
    manager = user_model._default_manager
    user = manager.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is not None:
        return user, ""
    password = secrets.token_urlsafe(16)
    create = manager.create_superuser if superuser else manager.create_user
    user = create(
        **{user_model.USERNAME_FIELD: username}, email=email, password=password
    )
    return user, password


def unique_slug_for(*, name: str) -> str:
    """Return a slug for ``name`` that no workspace uses yet."""
    base = slugify(name)[:40].strip("-") or "workspace"
    taken = set(
        Workspace.objects.filter(slug__startswith=base).values_list("slug", flat=True)
    )
    if base not in taken:
        return base
    suffix = 2
    while f"{base}-{suffix}" in taken:
        suffix += 1
    return f"{base}-{suffix}"


def rotate_ingest_key(
    *, workspace: Workspace, now: datetime.datetime | None = None
) -> str:
    """Give the workspace a new ingest key and return it.

    The replaced key keeps working for ROTATION_GRACE, so pages that still
    embed it keep reporting events while they are updated.
    """
    workspace.previous_ingest_key = workspace.ingest_key
    workspace.ingest_key = generate_ingest_key()
    workspace.ingest_key_rotated_at = now or timezone.now()
    workspace.save(
        update_fields=["ingest_key", "previous_ingest_key", "ingest_key_rotated_at"]
    )
    logger.info("ingest key rotated workspace=%s", workspace.slug)
    return workspace.ingest_key


def rotate_signing_secret(
    *, config: WebhookConfig, now: datetime.datetime | None = None
) -> str:
    """Give the webhook a new signing secret and return it.

    The replaced secret keeps signing alongside the new one for
    ROTATION_GRACE, so receivers can switch without rejecting requests.
    """
    config.previous_signing_secret = config.signing_secret
    config.signing_secret = generate_signing_secret()
    config.signing_secret_rotated_at = now or timezone.now()
    config.save(
        update_fields=[
            "signing_secret",
            "previous_signing_secret",
            "signing_secret_rotated_at",
            "updated_at",
        ]
    )
    logger.info("signing secret rotated workspace=%s", config.workspace.slug)
    return config.signing_secret
