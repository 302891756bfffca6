"""Create a workspace and its admin from the command line."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from webhooks.models import Workspace
from webhooks.workspaces import create_workspace, get_or_create_user


class Command(BaseCommand):
    help = (
        "Create a workspace with its disabled webhook, and make USERNAME its "
        "admin, creating that user when no user has the username. Prints "
        "'slug: <slug>' and 'ingest_key: <key>' on lines of their own, and "
        "'password: <password>' when the user was created; an existing user's "
        "password is left as it is."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "name", help="Display name of the workspace, at most 100 characters."
        )
        parser.add_argument(
            "--admin",
            required=True,
            metavar="USERNAME",
            help="The workspace's admin; created with a generated password if "
            "no user has this username.",
        )
        parser.add_argument(
            "--slug",
            help="The workspace's slug. Derived from the name, and made unique, "
            "when not given; an explicit slug must be free.",
        )

    def handle(self, *args, name, admin, slug, **options):
        name = clean_field(Workspace, "name", name.strip(), label="workspace name")
        if slug is not None:
            slug = clean_field(Workspace, "slug", slug, label="slug")
            taken_by = Workspace.objects.filter(slug=slug).first()
            if taken_by is not None:
                raise CommandError(
                    f'The slug "{slug}" is already taken by workspace '
                    f'"{taken_by.name}".'
                )
        user_model = get_user_model()
        username = clean_field(
            user_model, user_model.USERNAME_FIELD, admin, label="username"
        )

        # The user and the workspace are written together or not at all.
        try:
            with transaction.atomic():
                user, password = get_or_create_user(username=username)
                workspace = create_workspace(name=name, slug=slug or "", admin=user)
        except IntegrityError as error:
            # Only a concurrent run can get here: the slug and the username
            # were checked above.
            raise CommandError(
                "Another process created the same slug or user meanwhile; "
                "nothing was written. Run the command again."
            ) from error

        created = " (a new user)" if password else ""
        self.stdout.write(
            f'Workspace "{workspace.name}" created with {username}{created} as '
            "its admin; its webhook is disabled."
        )
        self.stdout.write(f"slug: {workspace.slug}")
        self.stdout.write(f"ingest_key: {workspace.ingest_key}")
        if password:
            self.stdout.write(f"password: {password}")


def clean_field(model, field_name, value, *, label):
    """Return ``value`` cleaned by the model field, or raise CommandError."""
    field = model._meta.get_field(field_name)
    try:
        return field.clean(value, None)
    except ValidationError as error:
        raise CommandError(f"Invalid {label}: {' '.join(error.messages)}") from error
