import datetime
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from tests.factories import (
    DeliveryAttemptFactory,
    DeliveryFactory,
    EventFactory,
    MembershipFactory,
    UserFactory,
    WorkspaceFactory,
)
from tests.test_forms import settings_data
from webhooks.forms import MAX_HEADERS
from webhooks.models import (
    AttemptOutcome,
    AttemptTrigger,
    DeliveryStatus,
    WebhookConfig,
    WebhookHeader,
    Workspace,
)

pytestmark = pytest.mark.django_db

URL = "https://receiver.example.com/hooks"


def page_url(workspace):
    return f"/workspaces/{workspace.slug}/settings/external-events/"


def action_urls(workspace, header_id=1):
    base = page_url(workspace)
    return [
        base,
        base + "ingest-key/rotate/",
        base + "signing-secret/rotate/",
        base + "signing-secret/reveal/",
        base + f"headers/{header_id}/reveal/",
        base + "test/",
    ]


@pytest.fixture
def membership():
    return MembershipFactory(admin=True)


@pytest.fixture
def admin_client(client, membership):
    client.force_login(membership.user)
    return client


@pytest.fixture
def config(membership):
    return membership.workspace.webhook


def post_settings(client, config, **kwargs):
    data = settings_data(config, **kwargs)
    return client.post(page_url(config.workspace), data)


def reload(config):
    return WebhookConfig.objects.get(pk=config.pk)


# Who may see and change the page.


def test_anonymous_visitors_are_sent_to_the_login_page(client, workspace):
    response = client.get(page_url(workspace))

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={page_url(workspace)}"


@pytest.mark.parametrize(
    ("role", "expected"),
    [("none", 404), ("member", 403), ("admin", 200), ("superuser", 200)],
)
def test_only_admins_and_superusers_may_open_the_page(client, role, expected):
    workspace = WorkspaceFactory()
    if role == "superuser":
        user = UserFactory(superuser=True)
    elif role == "none":
        user = MembershipFactory().user
    else:
        user = MembershipFactory(workspace=workspace, role=role).user
    client.force_login(user)

    response = client.get(page_url(workspace))

    assert response.status_code == expected


@pytest.mark.parametrize(("role", "expected"), [("none", 404), ("member", 403)])
def test_every_action_refuses_those_who_may_not_configure(client, role, expected):
    workspace = WorkspaceFactory()
    header = workspace.webhook.headers.get()
    user = (
        UserFactory() if role == "none" else MembershipFactory(workspace=workspace).user
    )
    client.force_login(user)

    statuses = {
        url: client.post(url, {"event_type": "player-opened"}).status_code
        for url in action_urls(workspace, header.pk)
    }

    assert set(statuses.values()) == {expected}
    assert reload(workspace.webhook).signing_secret == workspace.webhook.signing_secret


def test_an_unknown_workspace_is_not_found(admin_client):
    assert (
        admin_client.get("/workspaces/nope/settings/external-events/").status_code
        == 404
    )


def test_actions_answer_post_only(admin_client, config):
    urls = action_urls(config.workspace, config.headers.get().pk)[1:]

    assert {admin_client.get(url).status_code for url in urls} == {405}


def test_every_form_is_protected_against_cross_site_requests(membership, config):
    client = Client(enforce_csrf_checks=True)
    client.force_login(membership.user)
    urls = action_urls(config.workspace, config.headers.get().pk)

    statuses = {client.post(url).status_code for url in urls}
    page = client.get(page_url(config.workspace)).content.decode()

    assert statuses == {403}
    forms = page.count('method="post"')
    assert forms == page.count('name="csrfmiddlewaretoken"')
    assert forms >= 5


# The form.


def test_the_page_shows_the_documented_form(admin_client, config):
    response = admin_client.get(page_url(config.workspace))

    html = response.content.decode()
    assert 'name="enabled"' in html
    for method in ("GET", "POST", "PUT", "PATCH"):
        assert f'<option value="{method}"' in html
    for description in (
        "The player is opened or loaded, whether or not playback starts. Once per "
        "player session.",
        "The viewer has watched at least 80 % of the video. Once per player "
        "session and video.",
    ):
        assert escape(description) in html
    assert 'value="Content-Type"' in html
    assert "Credentials already added as custom headers need no authentication" in html
    assert config.workspace.ingest_key in html
    assert config.signing_secret not in html
    assert "standardwebhooks" in html


def test_the_page_offers_blank_header_rows_up_to_the_limit(admin_client, config):
    html = admin_client.get(page_url(config.workspace)).content.decode()

    assert f'name="headers-TOTAL_FORMS" value="{MAX_HEADERS}"' in html
    assert html.count("data-extra-row") == MAX_HEADERS - 1
    assert 'name="headers-__prefix__-name"' in html


def test_valid_settings_are_saved_and_the_page_redirects(admin_client, config):
    response = post_settings(
        admin_client,
        config,
        headers=[("Content-Type", "application/json"), ("X-Team", "growth")],
        auth={"kind": "bearer", "token": "t0ken"},
        event_types=["video-played", "cta-clicked"],
    )

    assert response.status_code == 302
    assert response["Location"] == page_url(config.workspace)
    config = reload(config)
    assert config.enabled is True
    assert config.event_types == ["video-played", "cta-clicked"]
    assert [h.name for h in config.headers.all()] == ["Content-Type", "X-Team"]
    assert config.auth.token == "t0ken"
    assert config.updated_by == config.workspace.memberships.get().user
    followed = admin_client.get(response["Location"]).content.decode()
    assert "Settings saved. The webhook is on." in followed


def test_headers_added_in_the_blank_rows_are_saved(admin_client, config):
    data = settings_data(config)
    data["headers-TOTAL_FORMS"] = "3"
    data.update({"headers-1-name": "X-One", "headers-1-value": "1"})
    data.update({"headers-2-name": "", "headers-2-value": ""})

    response = admin_client.post(page_url(config.workspace), data)

    assert response.status_code == 302
    assert [h.name for h in config.headers.all()] == ["Content-Type", "X-One"]


def summary_item(label, message):
    return f"<strong>{escape(label)}:</strong> {escape(message)}"


def beside(field_id, message):
    return f'<ul class="errorlist" id="{field_id}_error"><li>{escape(message)}</li>'


INVALID_SUBMISSIONS = [
    (
        {"endpoint_url": "", "event_types": []},
        [
            (
                "id_endpoint_url",
                "Endpoint URL",
                "An enabled webhook needs an endpoint URL.",
            ),
            (
                "id_event_types",
                "Subscribed events",
                "Choose at least one event to send.",
            ),
        ],
    ),
    (
        {"endpoint_url": "ftp://example.com/x"},
        [
            (
                "id_endpoint_url",
                "Endpoint URL",
                "The endpoint URL must start with http:// or https://.",
            )
        ],
    ),
    (
        {"endpoint_url": "https://user:pw@example.com/x"},
        [
            (
                "id_endpoint_url",
                "Endpoint URL",
                "Put credentials under Authentication, not in the URL: a user name "
                "or password in the URL would be stored unencrypted.",
            )
        ],
    ),
    (
        {"endpoint_url": "https://"},
        [("id_endpoint_url", "Endpoint URL", "Enter a valid URL.")],
    ),
    (
        {"endpoint_url": "https://10.0.0.5/hooks"},
        [
            (
                "id_endpoint_url",
                "Endpoint URL",
                "“10.0.0.5” is a private address; the endpoint must be reachable on "
                "the public internet.",
            )
        ],
    ),
    (
        {"headers": [("Bad Name", "x")]},
        [
            (
                "id_headers-1-name",
                "Header 1 name",
                "“Bad Name” is not a valid header name: use letters, digits and - _ "
                ". ! # $ % & ' * + ^ ` | ~ only, without spaces.",
            )
        ],
    ),
    (
        {"headers": [("X-A", "1"), ("webhook-id", "2")]},
        [
            (
                "id_headers-2-name",
                "Header 2 name",
                "“webhook-id” is set by External Events on every request and "
                "cannot be configured.",
            )
        ],
    ),
    (
        {"headers": [("X-A", "1"), ("x-a", "2")]},
        [
            (
                "id_headers-2-name",
                "Header 2 name",
                "“x-a” is already set in another row: a header can be sent only once.",
            )
        ],
    ),
    (
        {"headers": [("X-A", "one\r\ntwo")]},
        [
            (
                "id_headers-1-value",
                "Header 1 value",
                "Header values cannot contain line breaks or NUL characters.",
            )
        ],
    ),
    (
        {"auth": {"kind": "basic", "username": "u"}},
        [("id_auth-password", "Password", "Basic authentication needs this.")],
    ),
    (
        {"auth": {"kind": "bearer"}},
        [("id_auth-token", "Bearer token", "Bearer token authentication needs this.")],
    ),
    (
        {"auth": {"kind": "api_key", "api_key_header": "Host", "api_key": "k"}},
        [
            (
                "id_auth-api_key_header",
                "API key header",
                "“Host” is set by External Events on every request and cannot be "
                "configured.",
            )
        ],
    ),
    (
        {"auth": {"kind": "oauth2", "client_id": "c"}},
        [
            (
                "id_auth-token_url",
                "Token URL",
                "OAuth 2.0 client credentials authentication needs this.",
            ),
            (
                "id_auth-client_secret",
                "Client secret",
                "OAuth 2.0 client credentials authentication needs this.",
            ),
        ],
    ),
    (
        {
            "auth": {
                "kind": "oauth2",
                "token_url": "https://192.168.1.10/token",
                "client_id": "c",
                "client_secret": "s",
            }
        },
        [
            (
                "id_auth-token_url",
                "Token URL",
                "“192.168.1.10” is a private address; the endpoint must be reachable "
                "on the public internet.",
            )
        ],
    ),
]


@pytest.mark.parametrize(("fields", "errors"), INVALID_SUBMISSIONS)
def test_every_error_is_shown_beside_its_field_and_in_the_summary(
    admin_client, config, settings, fields, errors
):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = False

    response = post_settings(admin_client, config, **fields)

    html = response.content.decode()
    assert response.status_code == 200
    summary = html.split("data-error-summary", 1)[1].split("</div>", 1)[0]
    for field_id, label, message in errors:
        assert beside(field_id, message) in html
        assert summary_item(label, message) in summary
        assert f'href="#{field_id}' in summary
    assert summary.count("<li>") == len(errors)


def test_too_many_headers_are_summarised_and_shown_in_the_headers_section(
    admin_client, config
):
    headers = [(f"X-{index}", "v") for index in range(MAX_HEADERS + 1)]

    html = post_settings(admin_client, config, headers=headers).content.decode()

    message = "Please submit at most 20 forms."
    assert summary_item("Headers", message) in html
    assert (
        f'<div id="headers-errors"><ul class="errorlist nonform"><li>{message}' in html
    )


def test_nothing_is_saved_when_anything_is_invalid(admin_client, config):
    before = reload(config)

    post_settings(
        admin_client,
        config,
        http_method="PATCH",
        headers=[("X-New", "1")],
        auth={"kind": "basic", "username": "u"},
    )

    config = reload(config)
    assert (config.enabled, config.http_method) == (False, "POST")
    assert config.updated_at == before.updated_at
    assert [h.name for h in config.headers.all()] == ["Content-Type"]
    assert config.auth.kind == "none"


def test_switching_off_keeps_the_stored_configuration(admin_client, config):
    post_settings(
        admin_client,
        config,
        headers=[("Content-Type", "application/json"), ("X-Team", "growth")],
        auth={"kind": "basic", "username": "u", "password": "p"},
    )

    response = post_settings(
        admin_client,
        config,
        enabled=None,
        endpoint_url="not a url",
        event_types=[],
        headers=[("Bad Name", "x")],
        auth={"kind": "bearer"},
    )
    page = admin_client.get(page_url(config.workspace)).content.decode()

    config = reload(config)
    assert response.status_code == 302
    assert config.enabled is False
    assert (config.endpoint_url, config.event_types) == (URL, ["video-played"])
    assert [h.name for h in config.headers.all()] == ["Content-Type", "X-Team"]
    assert (config.auth.kind, config.auth.password) == ("basic", "p")
    assert f'value="{URL}"' in page
    assert 'value="X-Team"' in page
    toggle = re.search(r'<input[^>]*name="enabled"[^>]*>', page).group(0)
    assert "checked" not in toggle


def test_turning_the_webhook_on_again_clears_its_health(admin_client, config):
    WebhookConfig.objects.filter(pk=config.pk).update(
        failing_since=timezone.now(), disabled_reason="HTTP 410: gone"
    )

    post_settings(admin_client, config)

    config = reload(config)
    assert (config.enabled, config.failing_since, config.disabled_reason) == (
        True,
        None,
        "",
    )


# Keys and secrets.


def test_rotating_the_ingest_key_keeps_the_previous_one_for_a_while(
    admin_client, config
):
    old_key = config.workspace.ingest_key

    response = admin_client.post(page_url(config.workspace) + "ingest-key/rotate/")

    workspace = Workspace.objects.get(pk=config.workspace.pk)
    assert response.status_code == 302
    assert response["Location"] == page_url(workspace) + "#ingest-key"
    assert workspace.ingest_key != old_key
    assert workspace.previous_ingest_key == old_key
    page = admin_client.get(page_url(workspace)).content.decode()
    assert "The ingest key was rotated." in page
    assert workspace.ingest_key in page
    assert "the previous key keeps working until" in page


def test_rotating_the_signing_secret_keeps_the_previous_one_signing(
    admin_client, config
):
    old_secret = config.signing_secret

    response = admin_client.post(page_url(config.workspace) + "signing-secret/rotate/")

    config = reload(config)
    assert response.status_code == 302
    assert config.signing_secret != old_secret
    assert config.previous_signing_secret == old_secret
    page = admin_client.get(page_url(config.workspace)).content.decode()
    assert "The signing secret was rotated." in page
    assert "the previous secret also signs every request until" in page
    assert config.signing_secret not in page
    assert old_secret not in page


def test_the_signing_secret_is_revealed_as_json_and_never_cached(admin_client, config):
    response = admin_client.post(
        page_url(config.workspace) + "signing-secret/reveal/",
        headers={"Accept": "application/json"},
    )

    assert response.json() == {"value": config.signing_secret}
    assert "no-store" in response["Cache-Control"]


def test_without_javascript_the_revealed_secret_is_shown_on_the_page(
    admin_client, config
):
    response = admin_client.post(page_url(config.workspace) + "signing-secret/reveal/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert config.signing_secret in response.content.decode()


def test_a_header_value_is_revealed_on_request(admin_client, config):
    header = config.headers.get()
    url = page_url(config.workspace) + f"headers/{header.pk}/reveal/"

    as_json = admin_client.post(url, headers={"Accept": "application/json"})
    as_page = admin_client.post(url)

    assert as_json.json() == {"value": "application/json"}
    assert "no-store" in as_json["Cache-Control"]
    assert "no-store" in as_page["Cache-Control"]
    assert "<code data-reveal-value>application/json</code>" in as_page.content.decode()


def test_headers_of_another_workspace_are_not_revealed(admin_client, config):
    other = WorkspaceFactory().webhook.headers.get()

    response = admin_client.post(
        page_url(config.workspace) + f"headers/{other.pk}/reveal/",
        headers={"Accept": "application/json"},
    )

    assert response.status_code == 404


def test_saved_header_values_are_masked(admin_client, config):
    html = admin_client.get(page_url(config.workspace)).content.decode()

    assert (
        "application/json"
        not in html.split("data-header-rows", 1)[1].split("</section>", 1)[0]
    )
    assert 'placeholder="••••••••"' in html
    assert "A value is set. Leave blank to keep it." in html


# Test events.


@pytest.fixture
def receiver(httpserver, fake_dns, settings, config):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    settings.WEBHOOK_HTTP_DEADLINE = 3
    fake_dns.add("localhost", "127.0.0.1")
    WebhookConfig.objects.filter(pk=config.pk).update(
        enabled=True,
        endpoint_url=httpserver.url_for("/hook"),
        event_types=["player-opened"],
    )
    return httpserver


def test_a_test_event_answers_its_result_as_json(admin_client, config, receiver):
    receiver.expect_request("/hook", method="POST").respond_with_data(
        "thanks", status=202
    )

    response = admin_client.post(
        page_url(config.workspace) + "test/",
        {"event_type": "cta-clicked"},
        headers={"Accept": "application/json"},
    )

    result = response.json()
    assert response.status_code == 200
    assert (result["status"], result["outcome"], result["response_status"]) == (
        DeliveryStatus.SUCCEEDED,
        AttemptOutcome.SUCCEEDED,
        202,
    )
    assert result["response_excerpt"] == "thanks"
    assert result["summary"] == "Your endpoint accepted the test event."
    assert isinstance(result["duration_ms"], int)
    assert len(receiver.log) == 1


def test_without_javascript_the_test_result_shows_after_a_reload(
    admin_client, config, receiver
):
    receiver.expect_request("/hook").respond_with_data("nope", status=500)

    response = admin_client.post(
        page_url(config.workspace) + "test/", {"event_type": "player-opened"}
    )
    page = admin_client.get(response["Location"]).content.decode()
    again = admin_client.get(response["Location"]).content.decode()

    assert response["Location"] == page_url(config.workspace) + "#test-event"
    assert "Your endpoint answered, but not with a 2xx status." in page
    assert '<pre data-slot="response_excerpt">nope</pre>' in page
    assert "HTTP 500" in page
    assert "Your endpoint answered" not in again


def test_a_test_event_is_refused_while_the_webhook_is_off(admin_client, config):
    url = page_url(config.workspace) + "test/"

    as_json = admin_client.post(
        url, {"event_type": "player-opened"}, headers={"Accept": "application/json"}
    )
    as_page = admin_client.post(url, {"event_type": "player-opened"}, follow=True)

    message = "The webhook is off: turn it on and save before sending a test event."
    assert as_json.status_code == 409
    assert as_json.json() == {"error": message}
    assert message in as_page.content.decode()
    assert not config.workspace.deliveries.exists()


def test_a_test_event_needs_a_known_type(admin_client, config, receiver):
    response = admin_client.post(
        page_url(config.workspace) + "test/",
        {"event_type": "video-paused"},
        headers={"Accept": "application/json"},
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "Select a valid choice. video-paused is not one of the available "
        "choices."
    }


# Recent deliveries and health.


def make_deliveries(workspace, count):
    for index in range(count):
        delivery = DeliveryFactory(
            event=EventFactory(workspace=workspace), failed=index % 2 == 1
        )
        DeliveryAttemptFactory(delivery=delivery, number=1, failed=True)
        DeliveryAttemptFactory(delivery=delivery, number=2, duration_ms=321)


def test_recent_deliveries_are_listed_with_their_attempts(admin_client, config):
    make_deliveries(config.workspace, 2)
    DeliveryFactory(event=EventFactory(workspace=WorkspaceFactory()))

    html = admin_client.get(page_url(config.workspace)).content.decode()

    section = html.split('id="recent-deliveries"', 1)[1]
    assert section.count('<details class="delivery"') == 2
    assert "badge-failed" in section
    assert "badge-pending" in section
    assert "321 ms" in section
    # A heading row and two attempts, for each of the two deliveries.
    assert section.count("<tr>") == 2 * 3
    assert "admin/webhooks/delivery/" not in section


def test_staff_get_a_link_to_each_delivery_in_the_admin(client, config):
    make_deliveries(config.workspace, 1)
    client.force_login(UserFactory(superuser=True))

    html = client.get(page_url(config.workspace)).content.decode()

    delivery = config.workspace.deliveries.get()
    assert f'href="/admin/webhooks/delivery/{delivery.pk}/change/"' in html


def test_only_the_latest_twenty_deliveries_are_listed(admin_client, config):
    make_deliveries(config.workspace, 21)

    html = admin_client.get(page_url(config.workspace)).content.decode()

    assert html.count('<details class="delivery"') == 20


def test_the_number_of_queries_does_not_grow_with_the_deliveries(admin_client, config):
    make_deliveries(config.workspace, 1)
    with CaptureQueriesContext(connection) as one:
        admin_client.get(page_url(config.workspace))
    make_deliveries(config.workspace, 9)

    with CaptureQueriesContext(connection) as ten:
        admin_client.get(page_url(config.workspace))

    assert len(ten) == len(one)


def test_a_failing_endpoint_shows_since_when_and_the_last_error(admin_client, config):
    since = timezone.now() - datetime.timedelta(hours=3)
    WebhookConfig.objects.filter(pk=config.pk).update(
        enabled=True,
        endpoint_url=URL,
        event_types=["share-clicked"],
        failing_since=since,
    )
    delivery = DeliveryFactory(event=EventFactory(workspace=config.workspace))
    DeliveryAttemptFactory(
        delivery=delivery, failed=True, error="HTTP 503", started_at=since
    )
    DeliveryAttemptFactory(
        delivery=delivery,
        outcome=AttemptOutcome.TIMEOUT,
        error="No answer within 15 seconds.",
    )
    DeliveryAttemptFactory(
        delivery=delivery, trigger=AttemptTrigger.TEST, failed=True, error="test only"
    )

    html = admin_client.get(page_url(config.workspace)).content.decode()

    banner = html.split("data-health-banner", 1)[1].split("</div>", 1)[0]
    assert "Deliveries are failing" in banner
    assert f"Every delivery has failed since {since:%Y-%m-%d %H:%M} UTC." in banner
    assert "Last error: <code>No answer within 15 seconds.</code>" in banner
    assert "for 5\xa0days" in banner


def test_a_webhook_switched_off_says_why_and_how_to_turn_it_on(admin_client, config):
    WebhookConfig.objects.filter(pk=config.pk).update(
        disabled_reason="The endpoint answered 410 Gone."
    )

    html = admin_client.get(page_url(config.workspace)).content.decode()

    banner = html.split("data-health-banner", 1)[1].split("</div>", 1)[0]
    assert "The webhook was switched off" in banner
    assert "The endpoint answered 410 Gone." in banner
    assert 'href="#id_enabled">turn the webhook on</a> and save' in banner


def test_a_healthy_webhook_shows_no_banner(admin_client, config):
    assert (
        "data-health-banner"
        not in admin_client.get(page_url(config.workspace)).content.decode()
    )


# Getting there.


def test_the_home_page_lists_the_users_workspaces(client):
    admin = MembershipFactory(admin=True, workspace__name="Acme Video")
    MembershipFactory(user=admin.user, workspace__name="Beta Films")
    WorkspaceFactory(name="Not Mine")
    client.force_login(admin.user)

    html = client.get("/").content.decode()

    assert "Acme Video" in html
    assert "Beta Films" in html
    assert "Not Mine" not in html
    assert html.count("/settings/external-events/") == 1
    assert "Only the workspace's admins can change its settings." in html


def test_the_home_page_needs_a_login(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_people_log_in_and_out_with_the_sites_own_pages(client, membership):
    page = client.get("/accounts/login/")

    logged_in = client.post(
        "/accounts/login/",
        {"username": membership.user.username, "password": "correct horse"},
    )
    logged_out = client.post("/accounts/logout/")

    assert page.status_code == 200
    assert 'href="/static/webhooks/site.css"' in page.content.decode()
    assert logged_in["Location"] == "/"
    assert logged_out["Location"] == "/accounts/login/"
    assert client.get("/").status_code == 302


def test_a_wrong_password_is_refused_with_a_message(client, membership):
    response = client.post(
        "/accounts/login/", {"username": membership.user.username, "password": "x"}
    )

    assert "Please enter a correct username and password." in response.content.decode()


# The Content-Security-Policy.

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def parse_policy(header):
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def test_every_page_carries_a_strict_content_security_policy(admin_client, config):
    for url in ("/", page_url(config.workspace), "/accounts/login/"):
        response = admin_client.get(url)

        assert parse_policy(response["Content-Security-Policy"]) == POLICY


def test_pages_have_no_inline_scripts_or_styles(admin_client, config):
    make_deliveries(config.workspace, 1)

    html = admin_client.get(page_url(config.workspace)).content.decode()

    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert " style=" not in html
    assert "<style" not in html
    assert not re.search(r"\son[a-z]+=", html)


def test_the_admin_and_the_api_docs_may_use_inline_styles_only(staff_client):
    for url in ("/admin/", "/api/docs/"):
        policy = parse_policy(staff_client.get(url)["Content-Security-Policy"])

        assert policy == {**POLICY, "style-src": "'self' 'unsafe-inline'"}


def test_a_header_row_can_be_removed(admin_client, config):
    post_settings(
        admin_client, config, headers=[("Content-Type", "x"), ("X-Gone", "y")]
    )
    data = settings_data(config)
    data["headers-1-DELETE"] = "on"

    admin_client.post(page_url(config.workspace), data)

    assert list(WebhookHeader.objects.filter(config=config).values_list("name")) == [
        ("Content-Type",)
    ]
