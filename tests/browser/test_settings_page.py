"""Settings → External Events in a real browser: Debian's Chromium, headless.

The page runs on pytest-django's live server; Playwright drives the browser
installed by the system (never one it downloads). Without /usr/bin/chromium
these tests fail, loudly: they are never skipped. Each test saves a
screenshot under screenshots/.
"""

import os
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import expect

from tests.factories import MembershipFactory, UserFactory
from webhooks.models import WebhookConfig

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(django_settings.BASE_DIR) / "screenshots"
PASSWORD = "correct horse"  # noqa: S105 (the factories' test password)
URL = "https://receiver.example.com/hooks"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module; the tests fail when it cannot be had."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium "
            "(apt-get install -y chromium). They are never skipped.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    # Playwright's synchronous API runs an event loop in this thread; the
    # ORM calls the tests make meanwhile are still plain synchronous ones.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class Problems:
    """Console errors and Content-Security-Policy violations of a page."""

    def __init__(self, page):
        self.messages = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.messages.append(f"error: {error}"))
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', (event) => "
            "console.error('CSP violation: ' + event.violatedDirective));"
        )

    def _on_console(self, message):
        if message.type in ("error", "warning"):
            self.messages.append(f"{message.type}: {message.text}")


@pytest.fixture
def open_page(browser, live_server):
    """Open a browser tab, signed in as ``user`` unless None."""
    contexts = []

    def open_(user=None, *, javascript=True, width=1280):
        context = browser.new_context(
            java_script_enabled=javascript, viewport={"width": width, "height": 900}
        )
        contexts.append(context)
        if user is not None:
            client = Client()
            client.force_login(user)
            context.add_cookies(
                [
                    {
                        "name": django_settings.SESSION_COOKIE_NAME,
                        "value": client.cookies[
                            django_settings.SESSION_COOKIE_NAME
                        ].value,
                        "url": live_server.url,
                    }
                ]
            )
        page = context.new_page()
        page.set_default_timeout(5000)
        page.problems = Problems(page)
        return page

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def membership():
    return MembershipFactory(admin=True, workspace__name="Acme Video")


@pytest.fixture
def settings_url(live_server, membership):
    slug = membership.workspace.slug
    return f"{live_server.url}/workspaces/{slug}/settings/external-events/"


def screenshot(page, name):
    SCREENSHOTS.mkdir(exist_ok=True)
    # From the top: sticky bars would otherwise show mid-page.
    page.mouse.wheel(0, -100_000)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def enable(membership, **fields):
    WebhookConfig.objects.filter(workspace=membership.workspace).update(
        enabled=True,
        endpoint_url=fields.pop("endpoint_url", URL),
        event_types=["video-played"],
        **fields,
    )


def test_an_admin_logs_in_and_lands_on_the_settings_page(
    open_page, membership, settings_url
):
    page = open_page()

    page.goto(settings_url)
    page.fill("#id_username", membership.user.username)
    page.fill("#id_password", PASSWORD)
    screenshot(page, "login")
    page.click("button[type=submit]")

    page.wait_for_url(settings_url)
    assert page.locator("h1").inner_text() == "External Events"
    assert page.locator(".sidebar [aria-current=page]").inner_text() == (
        "External Events"
    )
    assert page.problems.messages == []


def test_the_page_has_its_policy_and_breaks_none_of_it(
    open_page, membership, settings_url
):
    page = open_page(membership.user)

    response = page.goto(settings_url)

    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    page.locator("[data-add-header]:not([hidden])").wait_for(state="attached")
    screenshot(page, "settings")
    assert page.problems.messages == []


def test_the_toggle_shows_and_hides_the_settings(open_page, membership, settings_url):
    page = open_page(membership.user)
    page.goto(settings_url)
    general = page.locator("#general")

    hidden_at_first = general.is_visible()
    page.check("#id_enabled")
    shown = general.is_visible()
    screenshot(page, "toggle-on")
    page.uncheck("#id_enabled")

    assert (hidden_at_first, shown, general.is_visible()) == (False, True, False)
    assert page.locator(".when-off").is_visible()


def test_header_rows_are_added_and_removed(open_page, membership, settings_url):
    enable(membership)
    page = open_page(membership.user)
    page.goto(settings_url)
    rows = page.locator("[data-header-row]:visible")
    assert rows.count() == 1

    page.click("[data-add-header]")
    page.keyboard.type("X-Team")
    page.locator("[data-header-row]:visible input[type=password]").nth(1).fill("growth")
    page.click("[data-add-header]")
    page.keyboard.type("X-Temporary")
    assert rows.count() == 3
    rows.nth(2).locator("[data-remove-row]").click()
    rows.nth(0).locator("[data-remove-row]").click()
    screenshot(page, "headers-edited")
    assert rows.count() == 1
    page.click("text=Save changes")

    page.locator(".alert-success").wait_for()
    config = WebhookConfig.objects.get(workspace=membership.workspace)
    assert [(h.name, h.value) for h in config.headers.all()] == [("X-Team", "growth")]


def test_authentication_expands_and_shows_only_the_chosen_kind(
    open_page, membership, settings_url
):
    enable(membership)
    page = open_page(membership.user)
    page.goto(settings_url)
    toggle = page.locator("#auth-title button")
    panel = page.locator("#auth-panel")

    collapsed = (toggle.get_attribute("aria-expanded"), panel.is_visible())
    toggle.focus()
    page.keyboard.press("Enter")
    expanded = (toggle.get_attribute("aria-expanded"), panel.is_visible())
    visible = {}
    for kind in ("none", "basic", "bearer", "api_key", "oauth2"):
        page.select_option("#id_auth-kind", kind)
        visible[kind] = [
            group.get_attribute("data-auth-group")
            for group in page.locator("[data-auth-group]:visible").all()
        ]
    screenshot(page, "authentication-oauth2")

    assert collapsed == ("false", False)
    assert expanded == ("true", True)
    assert visible == {
        "none": [],
        "basic": ["basic"],
        "bearer": ["bearer"],
        "api_key": ["api_key"],
        "oauth2": ["oauth2"],
    }
    assert page.locator("#id_auth-client_secret").is_visible()


def test_saved_values_are_kept_after_a_reload(open_page, membership, settings_url):
    page = open_page(membership.user)
    page.goto(settings_url)

    page.check("#id_enabled")
    page.select_option("#id_http_method", "PATCH")
    page.fill("#id_endpoint_url", URL)
    page.check("text=Video watched")
    page.check("text=CTA clicked")
    page.locator("#auth-title button").click()
    page.select_option("#id_auth-kind", "bearer")
    page.fill("#id_auth-token", "browser-token")
    page.click("text=Save changes")
    page.locator(".alert-success").wait_for()
    page.reload()

    assert page.is_checked("#id_enabled")
    assert page.input_value("#id_http_method") == "PATCH"
    assert page.input_value("#id_endpoint_url") == URL
    assert page.is_checked("input[value=video-watched]")
    assert page.is_checked("input[value=cta-clicked]")
    assert not page.is_checked("input[value=player-opened]")
    assert page.input_value("#id_auth-kind") == "bearer"
    assert page.input_value("#id_auth-token") == ""
    assert "A value is set. Leave blank to keep it." in page.inner_text("#auth-panel")
    screenshot(page, "saved")
    config = WebhookConfig.objects.get(workspace=membership.workspace)
    assert config.auth.token == "browser-token"


def test_an_error_shows_beside_its_field_and_at_the_top(
    open_page, membership, settings_url
):
    page = open_page(membership.user)
    page.goto(settings_url)

    page.check("#id_enabled")
    page.fill("#id_endpoint_url", "ftp://files.example.com/")
    page.click("text=Save changes")

    message = "The endpoint URL must start with http:// or https://."
    page.locator("#id_endpoint_url_error").wait_for()
    assert page.inner_text("#id_endpoint_url_error") == message
    assert message in page.inner_text("[data-error-summary]")
    assert page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
    assert page.get_attribute("#id_endpoint_url", "aria-invalid") == "true"
    screenshot(page, "error")
    assert not WebhookConfig.objects.get(workspace=membership.workspace).enabled


def test_a_test_event_shows_its_result_without_a_reload(
    open_page, membership, settings_url, httpserver, fake_dns, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    fake_dns.add("localhost", "127.0.0.1")
    httpserver.expect_request("/hook").respond_with_data("received, thanks")
    enable(membership, endpoint_url=httpserver.url_for("/hook"))
    page = open_page(membership.user)
    page.goto(settings_url)
    page.evaluate("window.notReloaded = true")

    page.select_option("#id_event_type", "video-watched")
    page.click("[data-test-event-button]")

    result = page.locator("[data-test-result-card]")
    expect(result).to_contain_text("Your endpoint accepted the test event.")
    assert page.inner_text('[data-slot="response_status"]') == "200"
    assert page.inner_text('[data-slot="response_excerpt"]') == "received, thanks"
    assert page.evaluate("window.notReloaded") is True
    page.locator("details.delivery").first.wait_for()
    screenshot(page, "test-event")
    (request, _response), *_ = httpserver.log
    assert request.get_json()["type"] == "video-watched"
    assert page.problems.messages == []


def test_secrets_are_revealed_on_request(open_page, membership, settings_url):
    config = WebhookConfig.objects.get(workspace=membership.workspace)
    page = open_page(membership.user)
    page.goto(settings_url)
    secret = page.locator("#signing-secret-value")
    masked = secret.inner_text()

    page.click('[data-reveal-button="signing-secret"]')
    page.wait_for_function(
        "document.querySelector('#signing-secret-value').dataset.masked === 'false'"
    )

    assert config.signing_secret not in masked
    assert secret.inner_text() == config.signing_secret
    header = config.headers.get()
    page.check("#id_enabled")
    page.click(f'[data-reveal-button="header-{header.pk}"]')
    output = page.locator(f'[data-reveal-output="header-{header.pk}"]')
    # The value arrives after the box appears: wait for the text itself.
    expect(output).to_have_text(re.compile(r"application/json\s*$"))


def test_the_page_works_without_javascript(open_page, membership, settings_url):
    page = open_page(membership.user, javascript=False)
    page.goto(settings_url)
    general = page.locator("#general")
    blank_rows = page.locator("[data-extra-row]:visible")

    hidden_at_first = general.is_visible()
    page.check("#id_enabled")
    assert (hidden_at_first, general.is_visible()) == (False, True)
    assert page.locator("[data-auth-group]:visible").count() == 4
    assert blank_rows.count() == 1
    blank_rows.first.locator("input[type=text]").fill("X-Team")
    assert blank_rows.count() == 2
    blank_rows.first.locator("input[type=password]").fill("growth")
    page.fill("#id_endpoint_url", URL)
    page.check("text=Share clicked")
    screenshot(page, "without-javascript")
    page.click("text=Save changes")

    assert "Settings saved. The webhook is on." in page.inner_text(".messages")
    config = WebhookConfig.objects.get(workspace=membership.workspace)
    assert config.enabled
    assert config.event_types == ["share-clicked"]
    assert [h.name for h in config.headers.all()] == ["Content-Type", "X-Team"]
    page.click('[data-reveal-button^="header-"] >> nth=1')
    assert "growth" in page.inner_text("[data-reveal-output]:visible")


def test_the_page_fits_a_phone(open_page, membership, settings_url):
    enable(membership)
    page = open_page(membership.user, width=390)

    page.goto(settings_url)

    width = page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, "phone")
    assert width <= 390
    assert page.problems.messages == []


def test_the_admin_and_the_api_docs_still_work_under_the_policy(open_page, live_server):
    page = open_page(UserFactory(superuser=True))

    admin = page.goto(f"{live_server.url}/admin/webhooks/delivery/")
    page.locator("#changelist").wait_for()
    docs = page.goto(f"{live_server.url}/api/docs/")
    page.locator(".swagger-ui .opblock").first.wait_for()
    screenshot(page, "api-docs")

    assert "content-security-policy" in admin.headers
    assert "content-security-policy" in docs.headers
    assert [m for m in page.problems.messages if "CSP" in m] == []
