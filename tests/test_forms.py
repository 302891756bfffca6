import pytest
from django.http import QueryDict
from django.utils import timezone

from tests.factories import UserFactory, WorkspaceFactory
from webhooks.forms import MAX_HEADERS, WebhookSettingsForm
from webhooks.models import AuthKind, WebhookConfig
from webhooks.workspaces import rotate_signing_secret

pytestmark = pytest.mark.django_db

URL = "https://receiver.example.com/hooks"


def settings_data(config, *, headers=None, auth=None, **fields):
    """Return the POST data of the settings page for ``config``.

    ``headers`` lists (name, value) pairs replacing the stored rows; by default
    the stored rows are kept with blank values, as the page submits them.
    """
    data = {
        "enabled": "on",
        "http_method": "POST",
        "endpoint_url": URL,
        "event_types": ["video-played"],
        "auth-kind": "none",
    }
    data.update(fields)
    if data.get("enabled") is None:
        del data["enabled"]
    for name, value in (auth or {}).items():
        data[f"auth-{name}"] = value

    stored = list(config.headers.all())
    rows = []
    if headers is None:
        rows = [{"id": h.pk, "name": h.name, "value": ""} for h in stored]
    else:
        rows = [{"id": h.pk, "name": h.name, "DELETE": "on"} for h in stored]
        rows += [{"name": name, "value": value} for name, value in headers]
    data["headers-TOTAL_FORMS"] = str(len(rows))
    data["headers-INITIAL_FORMS"] = str(len(stored))
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"headers-{index}-{key}"] = value
    return data


def to_query(data):
    query = QueryDict(mutable=True)
    for key, value in data.items():
        query.setlist(key, value if isinstance(value, list) else [value])
    return query


def submit(config, **kwargs):
    return WebhookSettingsForm(
        config=config, data=to_query(settings_data(config, **kwargs))
    )


@pytest.fixture
def config():
    return WorkspaceFactory().webhook


def test_valid_settings_save_every_part(config):
    user = UserFactory()
    form = submit(
        config,
        headers=[("Content-Type", "application/json"), ("X-Team", "video")],
        auth={"kind": "bearer", "token": "t0ken"},
        event_types=["video-played", "cta-clicked"],
        http_method="PUT",
    )

    assert form.is_valid(), form.errors
    form.save(user=user)

    config = WebhookConfig.objects.get(pk=config.pk)
    assert config.enabled is True
    assert config.http_method == "PUT"
    assert config.endpoint_url == URL
    assert config.event_types == ["video-played", "cta-clicked"]
    assert config.updated_by == user
    assert [(h.position, h.name, h.value) for h in config.headers.all()] == [
        (0, "Content-Type", "application/json"),
        (1, "X-Team", "video"),
    ]
    assert (config.auth.kind, config.auth.token) == ("bearer", "t0ken")


def test_event_types_are_kept_in_their_documented_order(config):
    form = submit(config, event_types=["cta-clicked", "player-opened"])

    assert form.is_valid(), form.errors
    assert form.save().event_types == ["player-opened", "cta-clicked"]


def test_enabling_needs_a_url_and_an_event(config):
    form = submit(config, endpoint_url="", event_types=[])

    assert not form.is_valid()
    assert form.errors == [
        ("Endpoint URL", "An enabled webhook needs an endpoint URL."),
        ("Subscribed events", "Choose at least one event to send."),
    ]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "ftp://example.com/x",
            "The endpoint URL must start with http:// or https://.",
        ),
        (
            "https://user:pw@example.com/x",
            "Put credentials under Authentication, not in the URL: a user name "
            "or password in the URL would be stored unencrypted.",
        ),
        ("https://", "Enter a valid URL."),
    ],
)
def test_bad_endpoint_urls_are_refused(config, url, message):
    form = submit(config, endpoint_url=url)

    assert not form.is_valid()
    assert ("Endpoint URL", message) in form.errors


def test_disabling_keeps_everything_stored(config):
    config.enabled = True
    config.endpoint_url = URL
    config.event_types = ["video-played"]
    config.save()

    form = submit(
        config,
        enabled=None,
        endpoint_url="not a url",
        http_method="BREW",
        headers=[("Bad Name", "x")],
        auth={"kind": "basic"},
    )

    assert form.is_valid(), form.errors
    form.save()
    config = WebhookConfig.objects.get(pk=config.pk)
    assert config.enabled is False
    assert (config.endpoint_url, config.http_method) == (URL, "POST")
    assert config.event_types == ["video-played"]
    assert [h.name for h in config.headers.all()] == ["Content-Type"]
    assert config.auth.kind == "none"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "Bad Name",
            "“Bad Name” is not a valid header name: use letters, digits and "
            "- _ . ! # $ % & ' * + ^ ` | ~ only, without spaces.",
        ),
        (
            "Host",
            "“Host” is set by External Events on every request and cannot be "
            "configured.",
        ),
        (
            "webhook-signature",
            "“webhook-signature” is set by External Events on every request and "
            "cannot be configured.",
        ),
        (
            "Transfer-Encoding",
            "“Transfer-Encoding” is set by External Events on every request and "
            "cannot be configured.",
        ),
    ],
)
def test_bad_header_names_are_refused(config, name, message):
    form = submit(config, headers=[(name, "x")])

    assert not form.is_valid()
    assert form.errors == [("Header 1 name", message)]


def test_header_values_cannot_break_lines(config):
    form = submit(config, headers=[("X-A", "one\r\nX-Injected: yes")])

    assert not form.is_valid()
    assert form.errors == [
        (
            "Header 1 value",
            "Header values cannot contain line breaks or NUL characters.",
        )
    ]


def test_a_header_name_used_twice_is_refused(config):
    form = submit(config, headers=[("X-A", "1"), ("x-a", "2")])

    assert not form.is_valid()
    assert form.errors == [
        (
            "Header 2 name",
            "“x-a” is already set in another row: a header can be sent only once.",
        )
    ]


def test_more_than_twenty_headers_are_refused(config):
    headers = [(f"X-{index}", "v") for index in range(MAX_HEADERS + 1)]

    form = submit(config, headers=headers)

    assert not form.is_valid()
    assert form.header_formset.non_form_errors() == ["Please submit at most 20 forms."]


def test_blank_header_value_keeps_the_stored_one(config):
    form = submit(config)

    assert form.is_valid(), form.errors
    form.save()

    assert [h.value for h in config.headers.all()] == ["application/json"]


@pytest.mark.parametrize(
    ("kind", "fields", "missing"),
    [
        (AuthKind.BASIC, {"username": "u"}, ["Password"]),
        (AuthKind.BEARER, {}, ["Bearer token"]),
        (AuthKind.API_KEY, {"api_key": "k"}, ["API key header"]),
        (AuthKind.OAUTH2, {"client_id": "c"}, ["Token URL", "Client secret"]),
    ],
)
def test_each_auth_kind_needs_its_fields(config, kind, fields, missing):
    form = submit(config, auth={"kind": kind, **fields})

    assert not form.is_valid()
    label = AuthKind(kind).label
    assert form.errors == [
        (name, f"{label} authentication needs this.") for name in missing
    ]


def test_blank_secret_keeps_the_stored_one_and_unused_ones_are_cleared(config):
    submit(config, auth={"kind": "bearer", "token": "first"}).save()

    submit(config, auth={"kind": "bearer", "token": ""}).save()
    config.auth.refresh_from_db()
    kept = config.auth.token
    submit(config, auth={"kind": "basic", "username": "u", "password": "p"}).save()
    config.auth.refresh_from_db()

    assert kept == "first"
    assert (config.auth.kind, config.auth.username, config.auth.password) == (
        "basic",
        "u",
        "p",
    )
    assert config.auth.token == ""


def test_api_key_header_must_be_a_valid_name(config):
    form = submit(
        config, auth={"kind": "api_key", "api_key_header": "webhook-id", "api_key": "k"}
    )

    assert not form.is_valid()
    assert form.errors == [
        (
            "API key header",
            "“webhook-id” is set by External Events on every request and cannot "
            "be configured.",
        )
    ]


def test_nothing_is_saved_when_one_part_is_invalid(config):
    form = submit(
        config,
        http_method="PATCH",
        headers=[("X-A", "1")],
        auth={"kind": "basic", "username": "u"},
    )

    assert not form.is_valid()
    config = WebhookConfig.objects.get(pk=config.pk)
    assert (config.enabled, config.http_method) == (False, "POST")
    assert [h.name for h in config.headers.all()] == ["Content-Type"]


def test_two_saved_headers_can_swap_names(config):
    submit(config, headers=[("X-A", "a"), ("X-B", "b")]).save()
    data = settings_data(config)
    data["headers-0-name"], data["headers-1-name"] = "X-B", "X-A"

    form = WebhookSettingsForm(config=config, data=to_query(data))

    assert form.is_valid(), form.errors
    form.save()
    assert [(h.name, h.value) for h in config.headers.all()] == [
        ("X-B", "a"),
        ("X-A", "b"),
    ]


def test_every_header_can_be_replaced_at_once(config):
    submit(config, headers=[(f"X-{index}", "v") for index in range(MAX_HEADERS)]).save()

    form = submit(config, headers=[(f"Y-{index}", "v") for index in range(MAX_HEADERS)])

    assert form.is_valid(), form.errors
    form.save()
    assert config.headers.count() == MAX_HEADERS
    assert config.headers.first().name == "Y-0"


def test_saving_does_not_undo_a_rotation_made_meanwhile(config):
    form = submit(config, http_method="PATCH")
    rotated = rotate_signing_secret(config=WebhookConfig.objects.get(pk=config.pk))

    assert form.is_valid(), form.errors
    form.save()

    config = WebhookConfig.objects.get(pk=config.pk)
    assert config.http_method == "PATCH"
    assert config.signing_secret == rotated


def test_untouched_secret_boxes_are_not_changes(config):
    form = submit(config, enabled="on")

    assert form.is_valid(), form.errors
    assert form.header_formset.forms[0].changed_data == []
    assert form.auth_form.changed_data == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "https://10.0.0.5/hooks",
            "“10.0.0.5” is a private address; the endpoint must be reachable on "
            "the public internet.",
        ),
        (
            "http://[::ffff:127.0.0.1]:8000/hooks",
            "“::ffff:127.0.0.1” is a loopback address (127.0.0.1 in IPv4-mapped "
            "form); the endpoint must be reachable on the public internet.",
        ),
        (
            "https://metadata.corp.test/latest",
            "“metadata.corp.test” resolves to 169.254.169.254, the cloud metadata "
            "address; the endpoint must be reachable on the public internet.",
        ),
        (
            "https://nope.invalid/hooks",
            "The host “nope.invalid” could not be resolved.",
        ),
    ],
)
def test_endpoint_urls_that_do_not_reach_the_public_internet_are_refused(
    config, fake_dns, settings, url, message
):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = False
    fake_dns.add("metadata.corp.test", "169.254.169.254")

    form = submit(config, endpoint_url=url)

    assert not form.is_valid()
    assert form.errors == [("Endpoint URL", message)]


def test_an_oauth_token_url_on_a_private_network_is_refused(config, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = False

    form = submit(
        config,
        auth={
            "kind": "oauth2",
            "token_url": "https://192.168.1.10/token",
            "client_id": "c",
            "client_secret": "s",
        },
    )

    assert not form.is_valid()
    assert form.errors == [
        (
            "Token URL",
            "“192.168.1.10” is a private address; the endpoint must be reachable "
            "on the public internet.",
        )
    ]


def test_a_token_url_left_from_another_kind_is_not_looked_up(config, fake_dns):
    form = submit(config, auth={"kind": "bearer", "token": "t", "token_url": URL})

    assert form.is_valid(), form.errors
    assert fake_dns.calls == ["receiver.example.com"]


def test_switching_off_works_whatever_the_stored_url_resolves_to(config, fake_dns):
    config.enabled = True
    config.endpoint_url = "https://gone.test/hooks"
    config.event_types = ["video-played"]
    config.save()

    form = submit(config, enabled=None)

    assert form.is_valid(), form.errors
    form.save()
    assert fake_dns.calls == []


def test_private_endpoints_are_accepted_where_private_destinations_are_allowed(
    config, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True

    form = submit(config, endpoint_url="http://127.0.0.1:8000/dev/receiver/")

    assert form.is_valid(), form.errors
    assert form.save().endpoint_url == "http://127.0.0.1:8000/dev/receiver/"


def test_turning_the_webhook_on_starts_its_health_afresh(config):
    WebhookConfig.objects.filter(pk=config.pk).update(
        failing_since=timezone.now(), disabled_reason="The endpoint answered 410."
    )
    config = WebhookConfig.objects.get(pk=config.pk)

    form = submit(config)

    assert form.is_valid(), form.errors
    form.save()
    config = WebhookConfig.objects.get(pk=config.pk)
    assert (config.enabled, config.failing_since, config.disabled_reason) == (
        True,
        None,
        "",
    )


def test_saving_a_webhook_that_stays_on_keeps_its_failing_state(config):
    since = timezone.now()
    WebhookConfig.objects.filter(pk=config.pk).update(
        enabled=True, endpoint_url=URL, event_types=["video-played"]
    )
    WebhookConfig.objects.filter(pk=config.pk).update(failing_since=since)
    config = WebhookConfig.objects.get(pk=config.pk)

    form = submit(config, http_method="PUT")

    assert form.is_valid(), form.errors
    form.save()
    assert WebhookConfig.objects.get(pk=config.pk).failing_since == since
