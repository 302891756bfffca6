"""Set up a superuser and a demo workspace for trying the product locally."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse

from webhooks.models import EventType, Workspace
from webhooks.workspaces import create_workspace, get_or_create_user

ADMIN_USERNAME = "admin"
ADMIN_EMAIL = "admin@example.com"
WORKSPACE_NAME = "Demo"
WORKSPACE_SLUG = "demo"


class Command(BaseCommand):
    help = (
        f"Create the superuser '{ADMIN_USERNAME}' and the workspace "
        f"'{WORKSPACE_NAME}' it administers, unless they exist. Safe to run "
        "again: the generated password is printed the first time only."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            admin, password = get_or_create_user(
                username=ADMIN_USERNAME, email=ADMIN_EMAIL, superuser=True
            )
            workspace = Workspace.objects.filter(slug=WORKSPACE_SLUG).first()
            workspace_created = workspace is None
            if workspace_created:
                workspace = create_workspace(
                    name=WORKSPACE_NAME, slug=WORKSPACE_SLUG, admin=admin
                )

        if password:
            self.stdout.write(
                self.style.SUCCESS(f"Created the superuser {ADMIN_USERNAME}.")
            )
            self.stdout.write(f"  password: {password}")
            self.stdout.write(
                "  It is shown only this once; change it with "
                f"`python manage.py changepassword {ADMIN_USERNAME}`."
            )
        else:
            self.stdout.write(
                f"The user {ADMIN_USERNAME} already exists; its password is not "
                "shown again. Reset it with "
                f"`python manage.py changepassword {ADMIN_USERNAME}`."
            )
        if workspace_created:
            self.stdout.write(
                self.style.SUCCESS(
                    f'Created the workspace "{workspace.name}" (slug '
                    f"{workspace.slug}), administered by {ADMIN_USERNAME}."
                )
            )
        else:
            self.stdout.write(
                f'The workspace "{workspace.name}" (slug {workspace.slug}) '
                "already exists."
            )
        self.stdout.write(f"  ingest key: {workspace.ingest_key}")
        if settings.DEBUG and connect_to_dev_receiver(workspace=workspace):
            self.stdout.write(
                "  Its webhook is on and sends every event to the development "
                f"receiver, {dev_receiver_url()}"
            )
        self.stdout.write(
            f"Sign in to the admin at {reverse('admin:index')} as {ADMIN_USERNAME}."
        )
        if settings.DEBUG:
            self.stdout.write(
                "Send an event and watch it arrive at the development receiver:\n"
                f"  curl -X POST {server_url()}/api/v1/events "
                f"-H 'X-Workspace-Key: {workspace.ingest_key}' "
                "-H 'Content-Type: application/json' "
                """-d '{"type": "player-opened", "session_id": "demo-session"}'"""
            )


def server_url() -> str:
    """Return the address ``make run`` serves on."""
    return f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"


def dev_receiver_url() -> str:
    return f"{server_url()}{reverse('dev-receiver')}"


def connect_to_dev_receiver(*, workspace) -> bool:
    """Point a never-configured Demo webhook at the development receiver.

    A webhook that already has an endpoint is left as its admin set it.
    Returns whether the webhook now sends to the receiver.
    """
    config = workspace.webhook
    if not config.endpoint_url:
        config.endpoint_url = dev_receiver_url()
        config.enabled = True
        config.event_types = list(EventType.values)
        config.save(update_fields=["endpoint_url", "enabled", "event_types"])
    return config.endpoint_url == dev_receiver_url()
