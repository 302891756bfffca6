"""Set up a superuser and a demo workspace for trying the product locally."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse

from webhooks.models import Workspace
from webhooks.workspaces import create_workspace

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
            admin, password = get_or_create_superuser()
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
        self.stdout.write(
            f"Sign in to the admin at {reverse('admin:index')} as {ADMIN_USERNAME}."
        )


def get_or_create_superuser():
    """Return the demo superuser and the password it was created with.

    The password is empty when the user already existed; it is never changed.
    """
    user_model = get_user_model()
    user = user_model._default_manager.filter(
        **{user_model.USERNAME_FIELD: ADMIN_USERNAME}
    ).first()
    if user is not None:
        return user, ""
    password = secrets.token_urlsafe(16)
    user = user_model._default_manager.create_superuser(
        **{user_model.USERNAME_FIELD: ADMIN_USERNAME},
        email=ADMIN_EMAIL,
        password=password,
    )
    return user, password
