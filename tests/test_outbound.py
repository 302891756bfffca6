"""The one HTTP session, against real servers on the loopback interface.

Well-behaved receivers are pytest-httpserver instances; the misbehaving ones
(silent, trickling, resetting, endless) are the small socket servers of
tests/servers.py, each of which stops by itself within seconds.
"""

import ipaddress
import socket
import ssl
import struct
import threading
import time
import tracemalloc

import pytest
import trustme
from pytest_httpserver import HTTPServer

from tests.servers import SERVER_PATIENCE, closed_port, read_head, trickle
from webhooks.outbound import (
    USER_AGENT,
    FailureKind,
    OutboundFailure,
    OutboundResponse,
    sanitize_url_for_log,
    send_request,
)


@pytest.fixture(autouse=True)
def _nothing_leaves_this_machine(monkeypatch):
    """Fail a test, rather than send a packet, if it dials off this machine.

    Should the guard ever regress, a request for the metadata address must
    become a failing test, not a connection attempt. Names are never looked
    up either: the fake resolver answers for the guard, and anything else
    may only pass numeric addresses.
    """
    connect = socket.socket.connect
    getaddrinfo = socket.getaddrinfo

    def connect_to_loopback(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0].split("%")[0]
            if not ipaddress.ip_address(host).is_loopback:
                raise AssertionError(f"a test tried to connect to {host}")
        return connect(sock, address)

    def resolve_numeric_only(host, port, family=0, type=0, proto=0, flags=0):
        flags |= socket.AI_NUMERICHOST
        return getaddrinfo(host, port, family, type, proto, flags)

    monkeypatch.setattr(socket.socket, "connect", connect_to_loopback)
    monkeypatch.setattr(socket, "getaddrinfo", resolve_numeric_only)


@pytest.fixture(autouse=True)
def _loopback_destinations(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    settings.WEBHOOK_EGRESS_PROXY = ""


@pytest.fixture(scope="module")
def receiver_server():
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def receiver(receiver_server):
    receiver_server.clear()
    yield receiver_server
    receiver_server.clear()


def send(url, **kwargs):
    kwargs.setdefault("method", "POST")
    kwargs.setdefault("body", b'{"id": "1"}')
    return send_request(url=url, **kwargs)


# Responses.


def test_a_response_comes_back_with_status_headers_and_body(receiver):
    receiver.expect_request("/hooks", method="POST").respond_with_data(
        "accepted", status=202, headers={"X-Receipt": "r-1"}
    )

    result = send(receiver.url_for("/hooks"), headers={"X-Team": "growth"})

    assert isinstance(result, OutboundResponse)
    assert (result.status, result.body, result.truncated) == (202, b"accepted", False)
    assert result.headers["X-Receipt"] == "r-1"
    assert 0 <= result.elapsed_ms < 5000
    request, _ = receiver.log[0]
    assert request.get_data() == b'{"id": "1"}'
    assert request.headers["X-Team"] == "growth"


def test_every_request_names_the_product_in_its_user_agent(receiver):
    receiver.expect_request("/hooks").respond_with_data("ok")

    send(receiver.url_for("/hooks"), headers={"User-Agent": "curl/8"})

    request, _ = receiver.log[0]
    assert request.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT == "SEEN-External-Events/0.1.0 (+https://seen.io)"


def test_query_parameters_are_sent(receiver):
    receiver.expect_request(
        "/hooks", method="GET", query_string="type=video-played&n=1"
    ).respond_with_data("ok")
    params = {"type": "video-played", "n": "1"}

    result = send(receiver.url_for("/hooks"), method="GET", params=params, body=None)

    assert result.status == 200


def test_the_host_header_names_the_host_while_the_checked_address_is_dialled(
    receiver, fake_dns
):
    fake_dns.add("receiver.test", "127.0.0.1")
    receiver.expect_request("/hooks").respond_with_data("ok")

    result = send(f"http://receiver.test:{receiver.port}/hooks")

    assert result.status == 200
    request, _ = receiver.log[0]
    assert request.headers["Host"] == f"receiver.test:{receiver.port}"
    assert fake_dns.calls == ["receiver.test"]


def test_connections_are_kept_alive_between_requests(serve, fake_dns):
    def keep_alive(connection, server):
        for _ in range(10):
            reply_ok(connection, server)
            head = read_head(connection)
            if not head:
                return
            server.requests.append(head)

    server = serve(keep_alive)
    fake_dns.add("receiver.test", "127.0.0.1")

    results = [
        send(server.url(host="receiver.test"), method="GET", body=None)
        for _ in range(3)
    ]

    assert [result.status for result in results] == [200, 200, 200]
    assert (server.connections, len(server.requests)) == (1, 3)
    # One connection, so one lookup.
    assert fake_dns.calls == ["receiver.test"]


def test_cookies_a_receiver_sets_are_never_sent_back(receiver):
    receiver.expect_request("/hooks").respond_with_data(
        "ok", headers={"Set-Cookie": "session=abc; Path=/"}
    )

    send(receiver.url_for("/hooks"))
    send(receiver.url_for("/hooks"))

    assert [request.headers.get("Cookie") for request, _ in receiver.log] == [
        None,
        None,
    ]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_returned_not_followed(receiver, status):
    elsewhere = receiver.url_for("/elsewhere")
    receiver.expect_request("/hooks").respond_with_data(
        "", status=status, headers={"Location": elsewhere}
    )

    result = send(receiver.url_for("/hooks"))

    assert (result.status, result.location) == (status, elsewhere)
    assert [request.path for request, _ in receiver.log] == ["/hooks"]


def test_a_redirect_to_the_metadata_address_is_only_recorded(receiver):
    metadata = "http://169.254.169.254/latest/meta-data/iam/"
    receiver.expect_request("/hooks").respond_with_data(
        "", status=302, headers={"Location": metadata}
    )

    result = send(receiver.url_for("/hooks"))

    assert (result.status, result.location) == (302, metadata)
    assert len(receiver.log) == 1


def test_environment_proxies_are_ignored(receiver, monkeypatch):
    bogus = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, bogus)
    receiver.expect_request("/hooks").respond_with_data("ok")

    result = send(receiver.url_for("/hooks"))

    assert result.status == 200


# The response body cap.


@pytest.mark.parametrize(
    ("size", "kept", "truncated"),
    [(20 * 1024, 20 * 1024, False), (20 * 1024 + 1, 20 * 1024, True)],
)
def test_the_body_is_kept_up_to_the_limit(receiver, size, kept, truncated):
    receiver.expect_request("/hooks").respond_with_data(b"x" * size)

    result = send(receiver.url_for("/hooks"))

    assert (len(result.body), result.truncated) == (kept, truncated)


@pytest.mark.parametrize("status", [200, 302])
def test_a_100_mb_body_is_never_read_past_the_limit(serve, status):
    hundred_mb = 100 * 1024 * 1024
    chunk = b"x" * 65536

    def endless(connection, server):
        head = b"HTTP/1.1 %d Big\r\nContent-Length: %d\r\n\r\n" % (status, hundred_mb)
        server.send(connection, head)
        for _ in range(hundred_mb // len(chunk)):
            server.send(connection, chunk)

    server = serve(endless)
    tracemalloc.start()

    result = send(server.url())

    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (result.status, len(result.body), result.truncated) == (status, 20480, True)
    assert peak < 1024 * 1024
    # The client hung up: the server's writes fail long before 100 MB.
    assert server.finished.wait(SERVER_PATIENCE)
    assert server.sent < 16 * 1024 * 1024


# Transport failures, returned as values.


def test_a_closed_port_is_a_connection_error():
    result = send(f"http://127.0.0.1:{closed_port()}/hooks")

    assert isinstance(result, OutboundFailure)
    assert result.kind == FailureKind.CONNECTION_ERROR
    assert "Connection refused" in result.message


def test_a_reset_mid_body_is_a_connection_error_with_what_had_arrived(serve):
    def reset(connection, server):
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
        server.send(connection, head + b"x" * 1000)
        time.sleep(0.2)
        # Closing with a zero linger time sends a TCP reset.
        connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )

    result = send(serve(reset).url())

    assert result.kind == FailureKind.CONNECTION_ERROR
    assert result.response.status == 200


def test_a_body_cut_short_is_a_connection_error(serve):
    def short(connection, server):
        server.send(connection, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf")

    result = send(serve(short).url())

    assert result.kind == FailureKind.CONNECTION_ERROR
    assert "IncompleteRead" in result.message


def test_a_server_that_never_answers_times_out_at_the_deadline(serve):
    server = serve(lambda connection, server: server.stopping.wait(SERVER_PATIENCE))
    started = time.monotonic()

    result = send(server.url(), deadline=1.0)

    elapsed = time.monotonic() - started
    assert result.kind == FailureKind.TIMEOUT
    assert 1.0 <= elapsed < 1.5
    assert 1000 <= result.elapsed_ms < 1500


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nX-Slow: ", id="headers"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", id="body"),
    ],
)
def test_a_server_trickling_bytes_times_out_at_the_deadline(serve, first):
    # A byte every 0.2 s would satisfy any read timeout longer than that.
    server = serve(trickle(0.2, first))
    started = time.monotonic()

    result = send(server.url(), deadline=1.0)

    elapsed = time.monotonic() - started
    assert result.kind == FailureKind.TIMEOUT
    assert 1.0 <= elapsed < 1.5
    assert server.sent > len(first)


def test_a_trickled_body_keeps_the_status_that_arrived(serve):
    server = serve(trickle(0.2, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"))

    result = send(server.url(), deadline=1.0)

    assert result.kind == FailureKind.TIMEOUT
    assert result.response.status == 200


def test_a_connection_that_is_never_accepted_times_out_at_the_connect_timeout(
    settings,
):
    settings.WEBHOOK_CONNECT_TIMEOUT = 0.3
    # A full accept queue makes the kernel drop further connection attempts.
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(2):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        time.sleep(0.05)
        started = time.monotonic()

        result = send(f"http://127.0.0.1:{port}/", deadline=5.0)

        elapsed = time.monotonic() - started
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
    assert result.kind == FailureKind.TIMEOUT
    assert elapsed < 1.5


def test_a_lookup_that_outlasts_the_deadline_times_out():
    release = threading.Event()

    def hanging_resolver(*args, **kwargs):
        release.wait(SERVER_PATIENCE)
        return []

    started = time.monotonic()
    try:
        result = send("http://slow.test/hooks", deadline=0.5, resolve=hanging_resolver)
    finally:
        release.set()

    assert result.kind == FailureKind.TIMEOUT
    assert time.monotonic() - started < 1.0


def test_an_invalid_header_value_is_an_invalid_request(receiver):
    result = send(receiver.url_for("/hooks"), headers={"X-Bad": "a\r\nInjected: 1"})

    assert result.kind == FailureKind.INVALID_REQUEST
    assert receiver.log == []


# The destination guard at connect time.


def test_loopback_is_blocked_unless_private_destinations_are_allowed(
    receiver, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = False
    receiver.expect_request("/hooks").respond_with_data("ok")

    result = send(receiver.url_for("/hooks"))

    assert result.kind == FailureKind.BLOCKED
    assert result.message == (
        "“127.0.0.1” is a loopback address; the endpoint must be reachable on "
        "the public internet."
    )
    assert receiver.log == []


def test_a_name_resolving_to_a_private_address_is_blocked_before_connecting(
    serve, fake_dns, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = False
    server = serve(lambda connection, server: None)
    fake_dns.add("internal.test", "127.0.0.1")

    result = send(server.url(host="internal.test"))

    assert result.kind == FailureKind.BLOCKED
    assert result.message.startswith("“internal.test” resolves to 127.0.0.1")
    assert server.connections == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://0xa9fea9fe/latest/meta-data/",
    ],
)
def test_the_metadata_address_is_blocked_even_where_private_ones_are_allowed(url):
    result = send(url)

    assert result.kind == FailureKind.BLOCKED
    assert "the cloud metadata address" in result.message


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/x", "The URL must start with http:// or https://."),
        (
            "http://user:pw@127.0.0.1/x",
            "A user name or password in the URL is not allowed.",
        ),
        ("http://127.0.0.1:0/x", "The port must be a number from 1 to 65535."),
    ],
)
def test_malformed_urls_are_blocked_before_anything_is_sent(url, message):
    result = send(url)

    assert (result.kind, result.message) == (FailureKind.BLOCKED, message)


def test_an_unknown_host_is_a_connection_error():
    result = send("https://nope.invalid/hooks")

    assert (result.kind, result.message) == (
        FailureKind.CONNECTION_ERROR,
        "The host “nope.invalid” could not be resolved.",
    )


def test_a_rebinding_name_is_connected_to_the_address_that_was_checked(serve):
    # The first answer is checked and dialled; a second lookup would get a
    # different server, on another loopback address and the same port.
    checked = serve(reply_ok)
    other = serve(reply_ok, host="127.0.0.2", port=checked.port)
    answers = iter(["127.0.0.1", "127.0.0.2"])
    lookups = []

    def rebinding_resolver(host, port, family=0, type=0, proto=0, flags=0):
        lookups.append(host)
        address = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    result = send(checked.url(host="rebind.test"), resolve=rebinding_resolver)

    assert result.status == 200
    assert lookups == ["rebind.test"]
    assert (checked.connections, other.connections) == (1, 0)


def reply_ok(connection, server):
    server.send(connection, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


# An explicit egress proxy.


def test_an_egress_proxy_carries_the_request_after_the_target_is_checked(
    serve, settings, fake_dns
):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = False
    proxy = serve(reply_ok)
    settings.WEBHOOK_EGRESS_PROXY = proxy.url()

    result = send("http://receiver.example.com/hooks?token=1")

    assert result.status == 200
    assert proxy.requests[0].startswith(
        b"POST http://receiver.example.com/hooks?token=1 HTTP/1.1\r\n"
    )
    assert fake_dns.calls == ["receiver.example.com"]


def test_an_egress_proxy_is_not_asked_for_a_private_target(serve, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = False
    proxy = serve(reply_ok)
    settings.WEBHOOK_EGRESS_PROXY = proxy.url()

    result = send("http://10.0.0.5/hooks")

    assert result.kind == FailureKind.BLOCKED
    assert proxy.connections == 0


# TLS: pinning the address must not weaken certificate checks.


@pytest.fixture(scope="module")
def certificate_authority():
    return trustme.CA()


def trust_only(authority, directory, monkeypatch):
    """Make the session trust this certificate authority and no other."""
    path = directory / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    monkeypatch.setattr("requests.adapters.DEFAULT_CA_BUNDLE_PATH", str(path))


@pytest.fixture
def tls_receiver(certificate_authority, monkeypatch, fake_dns, tmp_path):
    """Start an https receiver for the given certificate names on 127.0.0.1."""
    servers = []
    trust_only(certificate_authority, tmp_path, monkeypatch)
    fake_dns.add("receiver.test", "127.0.0.1")

    def start(*names):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate_authority.issue_cert(*names).configure_cert(context)
        server_names = []
        context.sni_callback = lambda sock, name, ctx: server_names.append(name)
        server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
        server.expect_request("/hooks").respond_with_data("secure")
        server.start()
        server.server_names = server_names
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_https_verifies_the_host_name_and_sends_it_as_sni(tls_receiver):
    server = tls_receiver("receiver.test")

    result = send(f"https://receiver.test:{server.port}/hooks")

    assert (result.status, result.body) == (200, b"secure")
    assert server.server_names == ["receiver.test"]


@pytest.mark.parametrize(
    "names",
    [
        pytest.param(("other.test",), id="another-name"),
        pytest.param(("127.0.0.1",), id="only-the-dialled-address"),
    ],
)
def test_a_certificate_for_another_name_is_a_tls_error(tls_receiver, names):
    server = tls_receiver(*names)

    result = send(f"https://receiver.test:{server.port}/hooks")

    assert result.kind == FailureKind.TLS_ERROR
    assert server.log == []


def test_a_certificate_from_an_unknown_authority_is_a_tls_error(
    tls_receiver, monkeypatch, tmp_path
):
    server = tls_receiver("receiver.test")
    trust_only(trustme.CA(), tmp_path, monkeypatch)

    result = send(f"https://receiver.test:{server.port}/hooks")

    assert result.kind == FailureKind.TLS_ERROR


# Logging.


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        (
            "https://user:secret@hooks.example.com:8443/in?token=abc&team=x#frag",
            "https://hooks.example.com:8443/in?token=***&team=***",
        ),
        ("https://hooks.example.com/in", "https://hooks.example.com/in"),
        ("http://[::1]:80/in?flag", "http://[::1]:80/in?flag"),
        ("http://hooks.example.com:99999/", "<malformed URL>"),
    ],
)
def test_urls_are_sanitized_for_logs(url, logged):
    assert sanitize_url_for_log(url) == logged
