import ipaddress
import socket

import pytest

# Two fixed Fernet keys: the first encrypts, both decrypt. Tests never touch
# the development key file under var/.
TEST_ENCRYPTION_KEY = "dGVzdC1lbmNyeXB0aW9uLWtleS0wMDAwMDAwMDAwMDA="
OLD_TEST_ENCRYPTION_KEY = "b2xkLXRlc3QtZW5jcnlwdGlvbi1rZXktMDAwMDAwMDA="


@pytest.fixture(autouse=True)
def _encryption_keys(settings):
    settings.WEBHOOK_ENCRYPTION_KEYS = [TEST_ENCRYPTION_KEY, OLD_TEST_ENCRYPTION_KEY]


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Start every test with no throttle counts and no remembered keys."""
    from django.core.cache import cache

    from webhooks.api.authentication import key_cache

    cache.clear()
    key_cache.clear()


class FakeResolver:
    """A stand-in for getaddrinfo: names resolve only to what a test says.

    Every ``example.com``, ``example.org`` and ``example.net`` name answers
    one public address; any other name fails as an unknown host would.
    ``add()`` sets a name's answers, and ``calls`` lists the names asked for.
    """

    PUBLIC_ADDRESS = "93.184.215.14"
    PUBLIC_DOMAINS = ("example.com", "example.org", "example.net")

    def __init__(self):
        self.answers = {}
        self.calls = []

    def add(self, host, *addresses):
        self.answers[host.rstrip(".").lower()] = list(addresses)

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        self.calls.append(host)
        name = host.rstrip(".").lower()
        addresses = self.answers.get(name)
        if addresses is None and any(
            name == domain or name.endswith("." + domain)
            for domain in self.PUBLIC_DOMAINS
        ):
            addresses = [self.PUBLIC_ADDRESS]
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answers = []
        for address in addresses:
            if ipaddress.ip_address(address).version == 6:
                answers.append(
                    (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
                )
            else:
                answers.append(
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
                )
        return answers


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch):
    """Replace DNS with a FakeResolver, so no test looks a name up for real."""
    from webhooks import destinations

    resolver = FakeResolver()
    monkeypatch.setattr(destinations, "default_resolver", resolver)
    return resolver


@pytest.fixture(autouse=True)
def _fresh_http_session():
    """Give every test its own HTTP session.

    A connection kept alive by an earlier test would skip the lookup and the
    destination check that a new connection makes.
    """
    from webhooks.outbound.session import close_session

    close_session()
    yield
    close_session()


@pytest.fixture
def workspace(db):
    from tests.factories import WorkspaceFactory

    return WorkspaceFactory()


@pytest.fixture
def staff_client(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory(superuser=True))
    return client


@pytest.fixture
def post_events(client):
    """Post a body to the event endpoint, JSON-encoded unless already text."""
    import json

    def post(body, *, key=None, content_type="application/json", path=None, **extra):
        headers = extra.pop("headers", {})
        if key is not None:
            headers["X-Workspace-Key"] = key
        if not isinstance(body, bytes | str):
            body = json.dumps(body)
        return client.post(
            path or "/api/v1/events",
            data=body,
            content_type=content_type,
            headers=headers,
            **extra,
        )

    return post


@pytest.fixture
def serve():
    """Start RawServers (tests/servers.py) that are closed after the test."""
    from tests.servers import RawServer

    servers = []

    def start(handle, **kwargs):
        server = RawServer(handle, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
