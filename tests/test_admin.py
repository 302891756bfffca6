import datetime
from typing import NamedTuple

import pytest
from cryptography.fernet import Fernet
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models.signals import pre_save
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    DeliveryAttemptFactory,
    DeliveryFactory,
    EventFactory,
    MembershipFactory,
    UserFactory,
    WorkspaceFactory,
)
from webhooks.models import (
    AuthKind,
    DeliveryAttempt,
    Event,
    Role,
    WebhookAuth,
    WebhookConfig,
    WebhookHeader,
    Workspace,
)

pytestmark = pytest.mark.django_db

URL = "https://receiver.example.com/hooks"

# Distinctive plaintexts: none of them may ever appear in a rendered page.
SECRETS = {
    "signing_secret": "whsec_SigningSecretPlaintext0001",
    "previous_signing_secret": "whsec_PreviousSecretPlaintext0002",
    "header": "HeaderValuePlaintext0003",
    "password": "PasswordPlaintext0004",
    "token": "BearerTokenPlaintext0005",
    "api_key": "ApiKeyPlaintext0006",
    "client_secret": "ClientSecretPlaintext0007",
}


class AdminPage(NamedTuple):
    make: object
    search_term: object


# One entry per registered admin: how to make a row, and a search term that
# finds exactly that row.
ADMIN_PAGES = {
    "workspace": AdminPage(WorkspaceFactory, lambda row: row.slug),
    "membership": AdminPage(MembershipFactory, lambda row: row.user.username),
    "webhookconfig": AdminPage(
        lambda: WorkspaceFactory().webhook, lambda row: row.workspace.slug
    ),
    "event": AdminPage(EventFactory, lambda row: str(row.client_event_id)),
    "delivery": AdminPage(DeliveryFactory, lambda row: str(row.pk)),
    "deliveryattempt": AdminPage(
        DeliveryAttemptFactory, lambda row: str(row.delivery_id)
    ),
    "historicalwebhookheader": AdminPage(
        lambda: WorkspaceFactory().webhook.headers.get().history.get(),
        lambda row: row.config.workspace.slug,
    ),
    "historicalwebhookauth": AdminPage(
        lambda: WorkspaceFactory().webhook.auth.history.get(),
        lambda row: row.config.workspace.slug,
    ),
}
AUDIT_MODELS = ["event", "delivery", "deliveryattempt"]


def admin_url(model_name, view, *args):
    return reverse(f"admin:webhooks_{model_name}_{view}", args=args)


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def inline_formset(response, prefix):
    return next(
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.prefix == prefix
    )


def config_change_data(config, *, new_headers=(), auth=None, **fields):
    """Return the change form's POST data for ``config`` as the page sends it.

    Stored headers come back with blank values and secrets blank, as the page
    never receives them; ``new_headers`` adds (name, value) rows, ``auth``
    and ``fields`` override what is submitted.
    """
    data = {
        "enabled": "on" if config.enabled else None,
        "http_method": config.http_method,
        "endpoint_url": config.endpoint_url,
        "event_types": list(config.event_types),
    }
    data.update(fields)
    data = {key: value for key, value in data.items() if value is not None}

    stored = list(config.headers.all())
    rows = [{"id": header.pk, "name": header.name, "value": ""} for header in stored]
    rows += [{"name": name, "value": value} for name, value in new_headers]
    data.update(
        {
            "headers-TOTAL_FORMS": str(len(rows)),
            "headers-INITIAL_FORMS": str(len(stored)),
            "headers-MIN_NUM_FORMS": "0",
            "headers-MAX_NUM_FORMS": "20",
        }
    )
    for index, row in enumerate(rows):
        data[f"headers-{index}-config"] = config.pk
        for key, value in row.items():
            data[f"headers-{index}-{key}"] = value

    stored_auth = config.auth
    auth_fields = {
        "id": stored_auth.pk,
        "config": config.pk,
        "kind": stored_auth.kind,
        "username": stored_auth.username,
        "api_key_header": stored_auth.api_key_header,
        "token_url": stored_auth.token_url,
        "client_id": stored_auth.client_id,
        "scope": stored_auth.scope,
        **(auth or {}),
    }
    data.update(
        {
            "auth-TOTAL_FORMS": "1",
            "auth-INITIAL_FORMS": "1",
            "auth-MIN_NUM_FORMS": "1",
            "auth-MAX_NUM_FORMS": "1",
        }
    )
    for key, value in auth_fields.items():
        data[f"auth-0-{key}"] = value
    return data


@pytest.fixture
def config(workspace):
    return workspace.webhook


@pytest.fixture
def config_with_secrets(config):
    """A webhook whose every secret is set to a value from SECRETS."""
    config.signing_secret = SECRETS["signing_secret"]
    config.previous_signing_secret = SECRETS["previous_signing_secret"]
    config.signing_secret_rotated_at = timezone.now()
    config.save()
    WebhookHeader.objects.create(
        config=config, position=1, name="X-Api-Secret", value=SECRETS["header"]
    )
    # Saved directly, so every credential is stored at once, whatever the kind.
    WebhookAuth.objects.filter(config=config).update(kind=AuthKind.OAUTH2)
    auth = WebhookAuth.objects.get(config=config)
    auth.username = "receiver-user"
    auth.token_url = "https://auth.example.com/token"
    auth.client_id = "client-1"
    for name in ("password", "token", "api_key", "client_secret"):
        setattr(auth, name, SECRETS[name])
    auth.save()
    return WebhookConfig.objects.get(pk=config.pk)


def assert_no_secrets(response):
    content = response.content.decode()
    shown = [name for name, secret in SECRETS.items() if secret in content]
    assert shown == [], f"{response.request['PATH_INFO']} shows {shown}"


def test_every_webhooks_admin_is_covered_by_these_tests():
    registered = {
        model._meta.model_name
        for model in admin.site._registry
        if model._meta.app_label == "webhooks"
    }

    assert registered == set(ADMIN_PAGES)


@pytest.mark.parametrize("model_name", ADMIN_PAGES)
def test_changelist_renders(staff_client, model_name):
    row = ADMIN_PAGES[model_name].make()

    response = staff_client.get(admin_url(model_name, "changelist"))

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [row]


@pytest.mark.parametrize("model_name", ADMIN_PAGES)
def test_search_finds_the_row(staff_client, model_name):
    page = ADMIN_PAGES[model_name]
    row = page.make()
    page.make()

    response = staff_client.get(
        admin_url(model_name, "changelist"), {"q": page.search_term(row)}
    )

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [row]


@pytest.mark.parametrize("model_name", ADMIN_PAGES)
def test_change_page_renders(staff_client, model_name):
    row = ADMIN_PAGES[model_name].make()

    response = staff_client.get(admin_url(model_name, "change", row.pk))

    assert response.status_code == 200


@pytest.mark.parametrize("model_name", ADMIN_PAGES)
def test_changelist_queries_do_not_grow_with_rows(staff_client, model_name):
    make = ADMIN_PAGES[model_name].make
    url = admin_url(model_name, "changelist")
    make()
    staff_client.get(url)
    with CaptureQueriesContext(connection) as one_row:
        staff_client.get(url)

    make()
    make()
    with CaptureQueriesContext(connection) as three_rows:
        staff_client.get(url)

    assert len(three_rows) == len(one_row)


def test_workspace_is_found_by_its_exact_ingest_key(staff_client, workspace):
    WorkspaceFactory()

    response = staff_client.get(
        admin_url("workspace", "changelist"), {"q": workspace.ingest_key}
    )

    assert list(response.context["cl"].result_list) == [workspace]


def test_event_is_found_by_id_session_and_video(staff_client):
    event = EventFactory()
    EventFactory()

    found = [
        list(
            staff_client.get(admin_url("event", "changelist"), {"q": term})
            .context["cl"]
            .result_list
        )
        for term in (str(event.pk), event.session_id, event.video_id)
    ]

    assert found == [[event], [event], [event]]


def test_delivery_is_found_by_event_id_and_client_event_id(staff_client):
    delivery = DeliveryFactory()
    DeliveryFactory()

    found = [
        list(
            staff_client.get(admin_url("delivery", "changelist"), {"q": term})
            .context["cl"]
            .result_list
        )
        for term in (str(delivery.event_id), str(delivery.event.client_event_id))
    ]

    assert found == [[delivery], [delivery]]


@pytest.mark.parametrize("model_name", AUDIT_MODELS)
@pytest.mark.parametrize("term", ["not-an-id", "99999999999999999999", "１２"])
def test_audit_search_for_a_term_that_is_no_id_finds_nothing(
    staff_client, model_name, term
):
    ADMIN_PAGES[model_name].make()

    response = staff_client.get(admin_url(model_name, "changelist"), {"q": term})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


def test_workspace_list_links_to_its_webhook(staff_client):
    workspace = WorkspaceFactory(enabled=True)

    response = staff_client.get(admin_url("workspace", "changelist"))

    url = admin_url("webhookconfig", "change", workspace.webhook.pk)
    assert f'<a href="{url}">Enabled</a>' in response.content.decode()


def test_adding_a_workspace_creates_its_webhook_with_the_defaults(staff_client):
    member = UserFactory()

    response = staff_client.post(
        admin_url("workspace", "add"),
        {
            "name": "Acme Video",
            "slug": "acme-video",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-user": member.pk,
            "memberships-0-role": Role.ADMIN,
        },
    )

    assert response.status_code == 302
    workspace = Workspace.objects.get(slug="acme-video")
    assert workspace.ingest_key.startswith("ingest_")
    assert workspace.webhook.enabled is False
    assert workspace.webhook.signing_secret.startswith("whsec_")
    assert [
        (header.name, header.value, header.position)
        for header in workspace.webhook.headers.all()
    ] == [("Content-Type", "application/json", 0)]
    assert workspace.webhook.auth.kind == AuthKind.NONE
    assert list(workspace.memberships.values_list("user", "role")) == [
        (member.pk, Role.ADMIN)
    ]
    assert LogEntry.objects.get().action_flag == ADDITION


def test_workspace_add_page_asks_only_for_name_and_slug(staff_client):
    response = staff_client.get(admin_url("workspace", "add"))

    assert list(response.context["adminform"].form.fields) == ["name", "slug"]


def test_ingest_key_is_shown_but_cannot_be_changed(staff_client, workspace):
    old_key = workspace.ingest_key

    page = staff_client.get(admin_url("workspace", "change", workspace.pk))
    staff_client.post(
        admin_url("workspace", "change", workspace.pk),
        {
            "name": "Renamed",
            "slug": workspace.slug,
            "ingest_key": "ingest_chosen-by-hand",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        },
    )

    workspace.refresh_from_db()
    assert old_key in page.content.decode()
    assert (workspace.name, workspace.ingest_key) == ("Renamed", old_key)


def test_rotate_ingest_key_action_replaces_the_key_and_logs_who(
    staff_client, workspace
):
    old_key = workspace.ingest_key
    untouched = WorkspaceFactory()

    response = staff_client.post(
        admin_url("workspace", "changelist"),
        {"action": "rotate_ingest_keys", ACTION_CHECKBOX_NAME: [workspace.pk]},
        follow=True,
    )

    workspace.refresh_from_db()
    assert workspace.ingest_key != old_key
    assert workspace.ingest_key.startswith("ingest_")
    assert workspace.previous_ingest_key == old_key
    assert workspace.ingest_key_rotated_at is not None
    assert Workspace.objects.get(pk=untouched.pk).ingest_key == untouched.ingest_key
    assert messages_of(response) == [
        "Rotated the ingest key of 1 workspace. The previous key keeps working "
        "for 24 hours."
    ]
    entry = LogEntry.objects.get()
    assert entry.user == response.wsgi_request.user
    assert entry.content_type == ContentType.objects.get_for_model(Workspace)
    assert entry.object_id == str(workspace.pk)
    assert entry.action_flag == CHANGE
    assert entry.change_message == "Rotated the ingest key."


def test_workspace_with_deliveries_can_be_deleted(staff_client):
    attempt = DeliveryAttemptFactory()
    workspace = attempt.delivery.workspace

    confirmation = staff_client.get(admin_url("workspace", "delete", workspace.pk))
    response = staff_client.post(
        admin_url("workspace", "delete", workspace.pk), {"post": "yes"}
    )

    assert confirmation.context["perms_lacking"] == set()
    assert response.status_code == 302
    assert not Workspace.objects.filter(pk=workspace.pk).exists()
    assert not WebhookConfig.objects.exists()
    assert not Event.objects.exists()
    assert not DeliveryAttempt.objects.exists()


def test_membership_list_filters_by_role(staff_client):
    admin_membership = MembershipFactory(admin=True)
    MembershipFactory()

    response = staff_client.get(
        admin_url("membership", "changelist"), {"role__exact": Role.ADMIN}
    )

    assert list(response.context["cl"].result_list) == [admin_membership]


def test_webhook_config_cannot_be_added_or_deleted(staff_client, config):
    add = staff_client.get(admin_url("webhookconfig", "add"))
    delete = staff_client.post(
        admin_url("webhookconfig", "delete", config.pk), {"post": "yes"}
    )

    assert add.status_code == 403
    assert delete.status_code == 403
    assert WebhookConfig.objects.filter(pk=config.pk).exists()


def test_changing_the_webhook_saves_config_headers_and_auth(staff_client, config):
    data = config_change_data(
        config,
        enabled="on",
        http_method="PUT",
        endpoint_url=URL,
        event_types=["cta-clicked", "video-played"],
        new_headers=[("X-Team", "video")],
        auth={"kind": AuthKind.BEARER, "token": "t0ken"},
    )

    response = staff_client.post(admin_url("webhookconfig", "change", config.pk), data)

    assert response.status_code == 302, response.context["errors"]
    config = WebhookConfig.objects.get(pk=config.pk)
    assert config.enabled is True
    assert config.http_method == "PUT"
    assert config.endpoint_url == URL
    assert config.event_types == ["video-played", "cta-clicked"]
    assert config.updated_by == response.wsgi_request.user
    assert [
        (header.position, header.name, header.value) for header in config.headers.all()
    ] == [(0, "Content-Type", "application/json"), (1, "X-Team", "video")]
    assert (config.auth.kind, config.auth.token) == (AuthKind.BEARER, "t0ken")


def test_endpoint_of_a_disabled_webhook_can_be_changed(staff_client, config):
    data = config_change_data(config, endpoint_url=URL, http_method="GET")

    staff_client.post(admin_url("webhookconfig", "change", config.pk), data)

    config = WebhookConfig.objects.get(pk=config.pk)
    assert (config.enabled, config.http_method, config.endpoint_url) == (
        False,
        "GET",
        URL,
    )


def test_saving_the_webhook_keeps_what_was_written_meanwhile(
    staff_client, config_with_secrets
):
    config = config_with_secrets
    failing_since = timezone.now() - datetime.timedelta(hours=1)

    def write_meanwhile(sender, instance, **kwargs):
        # The delivery engine and a rotation write between the admin's load
        # and its save.
        WebhookConfig.objects.filter(pk=instance.pk).update(
            failing_since=failing_since,
            disabled_reason="Endpoint kept failing.",
            signing_secret="whsec_RotatedMeanwhile",
        )

    pre_save.connect(write_meanwhile, sender=WebhookConfig)
    try:
        staff_client.post(
            admin_url("webhookconfig", "change", config.pk),
            config_change_data(config, endpoint_url=URL),
        )
    finally:
        pre_save.disconnect(write_meanwhile, sender=WebhookConfig)

    config = WebhookConfig.objects.get(pk=config.pk)
    assert config.endpoint_url == URL
    assert config.failing_since == failing_since
    assert config.disabled_reason == "Endpoint kept failing."
    assert config.signing_secret == "whsec_RotatedMeanwhile"
    assert config.previous_signing_secret == SECRETS["previous_signing_secret"]


def test_enabled_webhook_needs_an_endpoint_url(staff_client, config):
    data = config_change_data(
        config, enabled="on", endpoint_url="", event_types=["video-played"]
    )

    response = staff_client.post(admin_url("webhookconfig", "change", config.pk), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "endpoint_url": ["An enabled webhook needs an endpoint URL."]
    }
    assert WebhookConfig.objects.get(pk=config.pk).enabled is False


@pytest.mark.parametrize(
    ("new_headers", "message"),
    [
        (
            [("content-type", "text/plain")],
            "“content-type” is already set in another row: a header can be sent "
            "only once.",
        ),
        (
            [("Webhook-Signature", "v1,forged")],
            "“Webhook-Signature” is set by External Events on every request and "
            "cannot be configured.",
        ),
        (
            [("X Team", "video")],
            "“X Team” is not a valid header name: use letters, digits and "
            "- _ . ! # $ % & ' * + ^ ` | ~ only, without spaces.",
        ),
    ],
)
def test_header_rows_are_validated(staff_client, config, new_headers, message):
    data = config_change_data(config, new_headers=new_headers)

    response = staff_client.post(admin_url("webhookconfig", "change", config.pk), data)

    assert response.status_code == 200
    assert inline_formset(response, "headers").errors[-1] == {"name": [message]}
    assert config.headers.count() == 1


def test_more_than_twenty_headers_are_refused(staff_client, config):
    data = config_change_data(
        config, new_headers=[(f"X-Header-{index}", "1") for index in range(20)]
    )

    response = staff_client.post(admin_url("webhookconfig", "change", config.pk), data)

    assert response.status_code == 200
    assert inline_formset(response, "headers").non_form_errors() == [
        "Please submit at most 20 forms."
    ]
    assert config.headers.count() == 1


def test_header_row_can_be_deleted(staff_client, config):
    data = config_change_data(config)
    data["headers-0-DELETE"] = "on"

    staff_client.post(admin_url("webhookconfig", "change", config.pk), data)

    assert config.headers.count() == 0


def test_blank_secret_boxes_keep_the_stored_secrets(staff_client, config_with_secrets):
    config = config_with_secrets
    data = config_change_data(config)

    response = staff_client.post(admin_url("webhookconfig", "change", config.pk), data)

    assert response.status_code == 302, response.context["errors"]
    assert dict(config.headers.values_list("name", "value")) == {
        "Content-Type": "application/json",
        "X-Api-Secret": SECRETS["header"],
    }
    auth = WebhookAuth.objects.get(config=config)
    assert (auth.kind, auth.client_secret) == (
        AuthKind.OAUTH2,
        SECRETS["client_secret"],
    )


def test_typed_secret_replaces_the_stored_one(staff_client, config_with_secrets):
    config = config_with_secrets
    data = config_change_data(config, auth={"client_secret": "new-client-secret"})
    data["headers-1-value"] = "new-header-value"

    staff_client.post(admin_url("webhookconfig", "change", config.pk), data)

    assert config.headers.get(name="X-Api-Secret").value == "new-header-value"
    assert WebhookAuth.objects.get(config=config).client_secret == "new-client-secret"


def test_switching_authentication_clears_the_unused_credentials(
    staff_client, config_with_secrets
):
    config = config_with_secrets
    data = config_change_data(config, auth={"kind": AuthKind.NONE})

    staff_client.post(admin_url("webhookconfig", "change", config.pk), data)

    auth = WebhookAuth.objects.get(config=config)
    assert (auth.kind, auth.password, auth.token, auth.api_key, auth.client_secret) == (
        AuthKind.NONE,
        "",
        "",
        "",
        "",
    )


def test_no_page_shows_a_stored_secret(staff_client, config_with_secrets):
    config = config_with_secrets
    workspace = config.workspace
    staff_client.post(
        admin_url("webhookconfig", "change", config.pk),
        config_change_data(config, http_method="PUT"),
    )

    responses = [
        staff_client.get(admin_url("workspace", "changelist")),
        staff_client.get(admin_url("workspace", "change", workspace.pk)),
        staff_client.get(admin_url("workspace", "delete", workspace.pk)),
        staff_client.get(admin_url("webhookconfig", "changelist")),
        staff_client.get(admin_url("webhookconfig", "change", config.pk)),
        staff_client.get(admin_url("webhookconfig", "history", config.pk)),
        # A form re-rendered with errors echoes no secret, stored or typed.
        staff_client.post(
            admin_url("webhookconfig", "change", config.pk),
            config_change_data(
                config,
                enabled="on",
                endpoint_url="",
                auth={"token": SECRETS["token"]},
            ),
        ),
    ]

    assert [response.status_code for response in responses] == [200] * 7
    for response in responses:
        assert_no_secrets(response)
    change_page = responses[4].content.decode()
    assert "A value is set. Leave blank to keep it." in change_page
    assert 'type="password"' in change_page


def test_signing_secret_is_shown_only_as_its_status(staff_client, config):
    response = staff_client.get(admin_url("webhookconfig", "change", config.pk))

    content = response.content.decode()
    assert "Set; never rotated<br>" in content
    assert config.signing_secret not in content
    assert config.signing_secret[:12] not in content


def test_rotate_signing_secret_action_replaces_it_and_logs_who(staff_client, config):
    old_secret = config.signing_secret

    response = staff_client.post(
        admin_url("webhookconfig", "changelist"),
        {"action": "rotate_signing_secrets", ACTION_CHECKBOX_NAME: [config.pk]},
        follow=True,
    )

    config = WebhookConfig.objects.get(pk=config.pk)
    assert config.signing_secret != old_secret
    assert config.signing_secret.startswith("whsec_")
    assert config.previous_signing_secret == old_secret
    assert config.signing_secret_rotated_at is not None
    assert messages_of(response) == [
        "Rotated the signing secret of 1 webhook. The previous secret keeps "
        "signing for 24 hours."
    ]
    assert config.signing_secret not in response.content.decode()
    entry = LogEntry.objects.get()
    assert entry.user == response.wsgi_request.user
    assert entry.content_type == ContentType.objects.get_for_model(WebhookConfig)
    assert entry.object_id == str(config.pk)
    assert entry.action_flag == CHANGE
    assert entry.change_message == "Rotated the signing secret."
    page = staff_client.get(admin_url("webhookconfig", "change", config.pk))
    assert "; the previous secret also signs until " in page.content.decode()


@pytest.mark.parametrize("model_name", AUDIT_MODELS)
def test_audit_admins_refuse_adding(staff_client, model_name):
    response = staff_client.get(admin_url(model_name, "add"))

    assert response.status_code == 403


@pytest.mark.parametrize("model_name", AUDIT_MODELS)
def test_audit_admins_refuse_changes(staff_client, model_name):
    row = ADMIN_PAGES[model_name].make()

    response = staff_client.post(admin_url(model_name, "change", row.pk), {})

    assert response.status_code == 403


@pytest.mark.parametrize("model_name", AUDIT_MODELS)
def test_audit_admins_refuse_deleting(staff_client, model_name):
    row = ADMIN_PAGES[model_name].make()

    response = staff_client.post(
        admin_url(model_name, "delete", row.pk), {"post": "yes"}
    )

    assert response.status_code == 403
    assert type(row).objects.filter(pk=row.pk).exists()


# Deliveries offer resend and export (tests/admin/test_audit.py); delete is
# offered nowhere.
@pytest.mark.parametrize("model_name", ["event", "deliveryattempt"])
def test_audit_lists_offer_no_actions(staff_client, model_name):
    ADMIN_PAGES[model_name].make()

    response = staff_client.get(admin_url(model_name, "changelist"))

    assert response.context["action_form"] is None


def test_delivery_page_lists_its_attempts_read_only(staff_client):
    delivery = DeliveryFactory(failed=True)
    DeliveryAttemptFactory(delivery=delivery, number=1, failed=True)
    DeliveryAttemptFactory(delivery=delivery, number=2, failed=True)

    response = staff_client.get(admin_url("delivery", "change", delivery.pk))

    formset = inline_formset(response, "attempts")
    assert [form.instance.number for form in formset.forms] == [1, 2]
    assert formset.extra == 0
    assert formset.can_delete is False
    assert "HTTP 500" in response.content.decode()


def test_event_page_links_to_its_delivery(staff_client):
    delivery = DeliveryFactory()

    response = staff_client.get(admin_url("event", "change", delivery.event_id))

    url = admin_url("delivery", "change", delivery.pk)
    assert f'<a href="{url}">{delivery}</a>' in response.content.decode()


def test_signing_status_gives_the_rotation_date_once_the_grace_is_over(
    staff_client, config
):
    rotated_at = datetime.datetime(2025, 1, 2, 3, 4, tzinfo=datetime.UTC)
    config.previous_signing_secret = SECRETS["previous_signing_secret"]
    config.signing_secret_rotated_at = rotated_at
    config.save()

    response = staff_client.get(admin_url("webhookconfig", "change", config.pk))

    assert "Set; rotated Jan. 2, 2025, 3:04 a.m.<br>" in response.content.decode()


def test_secrets_no_key_decrypts_break_neither_list_nor_status(
    staff_client, settings, config
):
    # Nothing else on the page holds a secret.
    config.headers.all().delete()
    settings.WEBHOOK_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    changelist = staff_client.get(admin_url("webhookconfig", "changelist"))
    change = staff_client.get(admin_url("webhookconfig", "change", config.pk))

    assert list(changelist.context["cl"].result_list) == [config]
    assert (
        "Set, but no configured encryption key decrypts it" in change.content.decode()
    )
