"""Show or change a workspace's webhook from the command line.

Changes go through WebhookSettingsForm, the form behind the settings page, so
the command accepts exactly what the page accepts. The options are turned into
the data the page would post: the current configuration with the options laid
over it. Stored secrets are never put into that data; a secret option left out
is a blank field, which the forms read as "keep the stored value".
"""

import logging

from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict

from webhooks.forms import MAX_HEADERS, WebhookSettingsForm
from webhooks.models import (
    AUTH_FIELDS,
    AUTH_SECRET_FIELDS,
    SIGNING_SECRET_PREFIX,
    AuthKind,
    EventType,
    HttpMethod,
    WebhookAuth,
    WebhookConfig,
)

logger = logging.getLogger(__name__)

HEADER_PREFIX = "headers"
AUTH_PREFIX = "auth"

# Shown instead of every header value and the signing secret: always the same
# length, so it tells nothing about the value, and plain ASCII, so output piped
# to a file or a log never fails on its encoding.
MASK = "******"

AUTH_OPTIONS = (
    "username",
    "password",
    "token",
    "api_key_header",
    "api_key",
    "token_url",
    "client_id",
    "client_secret",
    "scope",
)

# Everything below the enable toggle. The settings form reads these only when
# the webhook ends up enabled, so the command refuses them otherwise rather
# than ignoring them.
SETTING_OPTIONS = (
    "method",
    "url",
    "events",
    "header",
    "clear_headers",
    "auth",
    *AUTH_OPTIONS,
)


class Command(BaseCommand):
    help = (
        "Show the webhook of the workspace SLUG, or change it. Without options "
        "the configuration is printed with every header value and the signing "
        "secret masked (******) and credentials shown only as set or not set. "
        "Changes are validated like the settings page does, and nothing is "
        "saved unless all of them are valid. Settings below the toggle (method, "
        "URL, events, headers, authentication) can only be changed while the "
        "webhook is enabled, or with --enable. A secret option left out keeps "
        "the stored secret. Secrets given as options are visible to other users "
        "of the machine while the command runs and may stay in the shell's "
        "history."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The workspace's slug.")
        toggle = parser.add_mutually_exclusive_group()
        toggle.add_argument(
            "--enable",
            dest="enabled",
            action="store_const",
            const=True,
            help="Switch the webhook on.",
        )
        toggle.add_argument(
            "--disable",
            dest="enabled",
            action="store_const",
            const=False,
            help="Switch the webhook off; the rest of the configuration is kept.",
        )
        parser.add_argument(
            "--method",
            type=str.upper,
            choices=HttpMethod.values,
            help="HTTP method of every request.",
        )
        parser.add_argument("--url", help="The endpoint URL.")
        parser.add_argument(
            "--events",
            metavar="EVENT,EVENT",
            help="Comma-separated event types to send, replacing the current "
            "ones; an empty string subscribes to none. Types: "
            + ", ".join(EventType.values)
            + ".",
        )
        headers = parser.add_mutually_exclusive_group()
        headers.add_argument(
            "--header",
            action="append",
            metavar='"NAME: VALUE"',
            help="A custom header; repeat the option for more. The headers "
            "given replace all current ones, in the order given. Spaces around "
            "the name and the value are dropped.",
        )
        headers.add_argument(
            "--clear-headers",
            action="store_true",
            help="Remove every custom header.",
        )
        parser.add_argument(
            "--auth", choices=AuthKind.values, help="How requests authenticate."
        )
        parser.add_argument("--username", help="Basic: the user name.")
        parser.add_argument("--password", help="Basic: the password.")
        parser.add_argument("--token", help="Bearer: the token.")
        parser.add_argument(
            "--api-key-header", help="API key: the header that carries the key."
        )
        parser.add_argument("--api-key", help="API key: the key.")
        parser.add_argument("--token-url", help="OAuth 2.0: the token endpoint.")
        parser.add_argument("--client-id", help="OAuth 2.0: the client id.")
        parser.add_argument("--client-secret", help="OAuth 2.0: the client secret.")
        parser.add_argument("--scope", help="OAuth 2.0: the scope, if any.")
        parser.add_argument(
            "--reveal-signing-secret",
            action="store_true",
            help="Print the signing secret, alone on its line, and nothing else.",
        )

    def handle(self, *args, slug, **options):
        config = get_config(slug)
        given = [name for name in SETTING_OPTIONS if is_given(options[name])]
        changing = given or options["enabled"] is not None

        # Showing: the signing secret alone, or the masked configuration.
        if options["reveal_signing_secret"]:
            if changing:
                raise CommandError(
                    "--reveal-signing-secret prints the signing secret alone; "
                    "run it without other options."
                )
            self.stdout.write(config.signing_secret)
            return
        if not changing:
            self.write_configuration(config)
            return

        # Changing: refuse what the form would ignore, then judge it all.
        check_toggle(config=config, options=options, given=given)
        check_auth_options(config=config, options=options)
        check_header_count(config=config, options=options)
        form = WebhookSettingsForm(
            config=config, data=build_form_data(config=config, options=options)
        )
        if not form.is_valid():
            errors = "\n".join(
                f"  {label}: {message}" for label, message in form.errors
            )
            raise CommandError(f'The webhook of "{slug}" was not changed:\n{errors}')
        config = form.save()
        logger.info(
            "webhook configured from the command line workspace=%s enabled=%s",
            slug,
            config.enabled,
        )
        self.stdout.write(f"Webhook of {slug} saved.")
        self.write_configuration(get_config(slug))

    def write_configuration(self, config):
        for line in describe_configuration(config):
            self.stdout.write(line)


def get_config(slug):
    """Return the webhook of the workspace ``slug``, or raise CommandError."""
    config = (
        WebhookConfig.objects.select_related("workspace", "auth")
        .filter(workspace__slug=slug)
        .first()
    )
    if config is None:
        raise CommandError(f'Workspace "{slug}" does not exist.')
    return config


def is_given(value):
    return value is not None and value is not False


def option_flag(name):
    return "--" + name.replace("_", "-")


def check_toggle(*, config, options, given):
    """Refuse settings the form would ignore because the webhook stays off."""
    flags = ", ".join(map(option_flag, given))
    if options["enabled"] is False and given:
        raise CommandError(
            f"--disable cannot be combined with {flags}: a disabled webhook's "
            "settings are kept as they are and cannot be changed."
        )
    if options["enabled"] is None and not config.enabled and given:
        raise CommandError(
            f'The webhook of "{config.workspace.slug}" is disabled, and its '
            f"settings can only be changed while it is enabled: add --enable "
            f"to change {flags}."
        )


def check_auth_options(*, config, options):
    """Refuse credentials the chosen kind of authentication does not use.

    Saving would silently clear them, since unused credentials are never kept.
    """
    kind = AuthKind(options["auth"] or config.auth.kind)
    unused = [
        name
        for name in AUTH_OPTIONS
        if is_given(options[name]) and name not in AUTH_FIELDS[kind]
    ]
    if not unused:
        return
    flags = ", ".join(map(option_flag, unused))
    if kind == AuthKind.NONE:
        raise CommandError(f"Without authentication, {flags} cannot be used.")
    uses = ", ".join(map(option_flag, AUTH_FIELDS[kind]))
    raise CommandError(
        f"{kind.label} authentication does not use {flags}; it uses {uses}."
    )


def check_header_count(*, config, options):
    """Refuse more headers than a webhook may have."""
    if not options["header"]:
        return
    wanted = len(options["header"])
    if wanted > MAX_HEADERS:
        raise CommandError(
            f"At most {MAX_HEADERS} headers can be set; {wanted} were given."
        )


def build_form_data(*, config, options):
    """Return what the settings page would post: current values and options."""
    data = QueryDict(mutable=True)
    enabled = options["enabled"] if options["enabled"] is not None else config.enabled
    data["enabled"] = "true" if enabled else "false"
    data["http_method"] = options["method"] or config.http_method
    data["endpoint_url"] = (
        options["url"] if options["url"] is not None else config.endpoint_url
    )
    if options["events"] is not None:
        events = [item.strip() for item in options["events"].split(",")]
        data.setlist("event_types", [item for item in events if item])
    else:
        data.setlist("event_types", config.event_types)
    data.update(build_header_data(config=config, options=options))
    data.update(build_auth_data(config=config, options=options))
    return data


def build_header_data(*, config, options):
    """Return the header formset's data: current rows, deleted when replaced."""
    replace = options["clear_headers"] or bool(options["header"])
    current = list(config.headers.all())
    new = [parse_header(raw) for raw in options["header"] or []]

    data = QueryDict(mutable=True)
    data[f"{HEADER_PREFIX}-TOTAL_FORMS"] = str(len(current) + len(new))
    data[f"{HEADER_PREFIX}-INITIAL_FORMS"] = str(len(current))
    data[f"{HEADER_PREFIX}-MIN_NUM_FORMS"] = "0"
    data[f"{HEADER_PREFIX}-MAX_NUM_FORMS"] = str(MAX_HEADERS)
    for index, header in enumerate(current):
        # A blank value keeps the stored one, which is never read back.
        row = {"id": header.pk, "name": header.name, "value": ""}
        if replace:
            row["DELETE"] = "on"
        data.update(header_row(config=config, index=index, row=row))
    for index, (name, value) in enumerate(new, start=len(current)):
        row = {"name": name, "value": value}
        data.update(header_row(config=config, index=index, row=row))
    return data


def header_row(*, config, index, row):
    row = {"id": "", "DELETE": "", "config": config.pk, **row}
    return {f"{HEADER_PREFIX}-{index}-{key}": str(value) for key, value in row.items()}


def parse_header(raw):
    """Split a "Name: value" option into its name and value."""
    name, colon, value = raw.partition(":")
    if not colon:
        raise CommandError(f'--header takes "Name: value"; got "{raw}".')
    return name.strip(), value.strip()


def build_auth_data(*, config, options):
    """Return the authentication form's data; secrets only when given."""
    auth = config.auth
    data = {"kind": options["auth"] or auth.kind}
    for name in AUTH_OPTIONS:
        if options[name] is not None:
            data[name] = options[name]
        elif name in AUTH_SECRET_FIELDS:
            data[name] = ""
        else:
            data[name] = getattr(auth, name)
    return {f"{AUTH_PREFIX}-{name}": value for name, value in data.items()}


def describe_configuration(config):
    """Return the configuration as lines of text, every secret masked."""
    workspace = config.workspace
    lines = [
        f"Webhook of {workspace.slug} ({workspace.name})",
        f"  enabled: {'yes' if config.enabled else 'no'}",
        f"  method: {config.http_method}",
        f"  URL: {config.endpoint_url or 'not set'}",
        f"  events: {', '.join(config.event_types) or 'none'}",
    ]
    headers = list(config.headers.all())
    lines.append("  headers:" if headers else "  headers: none")
    for header in headers:
        lines.append(f"    {header.name}: {MASK if header.value else '(empty)'}")

    auth = config.auth
    lines.append(f"  authentication: {auth.kind}")
    for name in AUTH_FIELDS[AuthKind(auth.kind)]:
        label = WebhookAuth._meta.get_field(name).verbose_name
        value = getattr(auth, name)
        if name in AUTH_SECRET_FIELDS:
            shown = "set" if value else "not set"
        else:
            shown = value or "not set"
        lines.append(f"    {label}: {shown}")
    lines.append(f"  signing secret: {mask_signing_secret(config.signing_secret)}")
    return lines


def mask_signing_secret(secret):
    # The prefix is the same for every secret, so showing it reveals nothing
    # and tells the reader what kind of value is hidden.
    if secret.startswith(SIGNING_SECRET_PREFIX):
        return SIGNING_SECRET_PREFIX + MASK
    return MASK
