import ipaddress
import socket
import threading

import pytest

from webhooks.destinations import (
    DestinationError,
    ResolutionTimeoutError,
    UnresolvableHostError,
    check_destination_url,
    classify_address,
    parse_ip_literal,
)

PUBLIC_SUFFIX = "; the endpoint must be reachable on the public internet."


@pytest.fixture(autouse=True)
def _private_destinations_refused(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = False


def refuse_lookups(*args, **kwargs):
    raise AssertionError("a numeric host must not be looked up")


def refusal(url, **kwargs):
    with pytest.raises(DestinationError) as raised:
        check_destination_url(url=url, **kwargs)
    return raised.value.message


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.255.255.254", "a loopback address"),
        ("10.0.0.5", "a private address"),
        ("172.16.0.1", "a private address"),
        ("172.31.255.255", "a private address"),
        ("192.168.1.1", "a private address"),
        ("100.64.0.1", "a carrier-grade NAT address"),
        ("100.127.255.254", "a carrier-grade NAT address"),
        ("169.254.169.254", "the cloud metadata address"),
        ("169.254.1.1", "a link-local address"),
        ("0.0.0.0", "an unspecified address"),  # noqa: S104 (refused, not bound)
        ("0.1.2.3", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("239.255.255.250", "a multicast address"),
        ("255.255.255.255", "the broadcast address"),
        ("240.0.0.1", "a reserved address"),
        ("192.0.0.8", "a reserved address"),
        ("192.88.99.1", "a reserved address"),
        ("192.0.2.10", "a documentation address"),
        ("198.51.100.10", "a documentation address"),
        ("203.0.113.10", "a documentation address"),
        ("198.18.0.1", "a benchmarking address"),
        ("198.19.255.255", "a benchmarking address"),
        ("::", "an unspecified address"),
        ("::1", "a loopback address"),
        ("fc00::1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("fec0::1", "a private address"),
        ("fe80::1", "a link-local address"),
        ("ff02::1", "a multicast address"),
        ("2001:db8::1", "a documentation address"),
        ("3fff::1", "a documentation address"),
        ("2001:2::1", "a benchmarking address"),
        ("100::1", "a reserved address"),
        ("5f00::1", "a reserved address"),
        ("2001:20::1", "a reserved address"),
        ("64:ff9b:1::a00:5", "a private address"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "a Teredo tunnel address"),
        ("::ffff:127.0.0.1", "a loopback address (127.0.0.1 in IPv4-mapped form)"),
        ("::ffff:10.0.0.5", "a private address (10.0.0.5 in IPv4-mapped form)"),
        (
            "::ffff:169.254.169.254",
            "the cloud metadata address (169.254.169.254 in IPv4-mapped form)",
        ),
        ("::127.0.0.1", "a loopback address (127.0.0.1 in IPv4-compatible form)"),
        ("::93.184.215.14", "a reserved address"),
        ("64:ff9b::7f00:1", "a loopback address (127.0.0.1 in NAT64 form)"),
        (
            "64:ff9b::a9fe:a9fe",
            "the cloud metadata address (169.254.169.254 in NAT64 form)",
        ),
        ("2002:7f00:1::", "a loopback address (127.0.0.1 in 6to4 form)"),
        ("2002:c0a8:101::1", "a private address (192.168.1.1 in 6to4 form)"),
    ],
)
def test_every_non_public_address_class_is_refused(address, kind):
    host = f"[{address}]" if ":" in address else address

    message = refusal(f"https://{host}/hooks", resolve=refuse_lookups)

    assert message == f"“{address}” is {kind}{PUBLIC_SUFFIX}"


@pytest.mark.parametrize(
    "address",
    [
        "93.184.215.14",
        "1.1.1.1",
        "8.8.8.8",
        "2606:4700::1111",
        "2a00:1450:4001:80b::200e",
        "::ffff:93.184.215.14",
        "64:ff9b::5db8:d70e",
        "2002:5db8:d70e::1",
    ],
)
def test_public_addresses_pass(address):
    host = f"[{address}]" if ":" in address else address

    checked = check_destination_url(url=f"https://{host}/", resolve=refuse_lookups)

    assert [resolved.address for resolved in checked] == [ipaddress.ip_address(address)]


def test_python_is_global_gaps_are_covered():
    # Each of these is is_global in some Python release, yet not public.
    for address in ("224.0.0.1", "ff02::1", "64:ff9b::7f00:1", "3fff::1", "fec0::1"):
        assert classify_address(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7F.0X0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("00000000000177.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("127.0.0.1..", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("10.0.1", "10.0.0.1"),
        ("0xa9fea9fe", "169.254.169.254"),
        ("169.254.43518", "169.254.169.254"),
        ("0", "0.0.0.0"),  # noqa: S104 (refused, not bound)
        ("4294967295", "255.255.255.255"),
    ],
)
def test_numeric_ipv4_spellings_are_read_as_the_c_resolver_reads_them(host, address):
    message = refusal(f"http://{host}/", resolve=refuse_lookups)

    assert parse_ip_literal(host) == ipaddress.ip_address(address)
    assert message.startswith(f"“{host.lower()}” is {address}, ")


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",
        "0177.0.0.1",
        "0x7f.1",
        "127.1",
        "0x7f000001",
        "1.2.65535",
        "1.16777215",
        "0",
        "0x",
        "08.0.0.1",
        "1.2.3.256",
        "4294967296",
        "1.2.3.4.5",
        "1..2",
        "0x1g",
        "12a",
        "1_000",
        "٣.1.1.1",
    ],
)
def test_numeric_parsing_agrees_with_inet_aton(host):
    try:
        expected = ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, UnicodeError):
        expected = None

    assert parse_ip_literal(host) == expected


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://[::1]/", "::1"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
        ("http://[0:0:0:0:0:ffff:7f00:1]:8080/", "0:0:0:0:0:ffff:7f00:1"),
        ("http://[fe80::1%25eth0]/", "fe80::1%25eth0"),
    ],
)
def test_bracketed_ipv6_hosts_are_checked(url, address):
    message = refusal(url, resolve=refuse_lookups)

    assert message.startswith(f"“{address}” is ")


@pytest.mark.parametrize(
    ("addresses", "refused"),
    [
        (["10.0.0.5"], "10.0.0.5, a private address"),
        (["93.184.215.14", "127.0.0.1"], "127.0.0.1, a loopback address"),
        (["93.184.215.14", "fd00::1"], "fd00::1, a private address"),
        (["2606:4700::1111", "169.254.169.254"], "169.254.169.254, the cloud"),
        (["::ffff:10.1.2.3"], "::ffff:a01:203, a private address (10.1.2.3 in"),
    ],
)
def test_a_name_is_refused_when_any_answer_is_not_public(fake_dns, addresses, refused):
    fake_dns.add("hooks.corp.test", *addresses)

    message = refusal("https://hooks.corp.test/in")

    assert message.startswith(f"“hooks.corp.test” resolves to {refused}")
    assert message.endswith(PUBLIC_SUFFIX)


def test_a_name_with_public_answers_passes_with_the_url_port(fake_dns):
    fake_dns.add("hooks.partner.test", "93.184.215.14", "2606:4700::1111")

    checked = check_destination_url(url="https://hooks.partner.test:8443/in")

    assert [resolved.sockaddr for resolved in checked] == [
        ("93.184.215.14", 8443),
        ("2606:4700::1111", 8443, 0, 0),
    ]
    assert fake_dns.calls == ["hooks.partner.test"]


@pytest.mark.parametrize(
    ("url", "port"), [("http://93.184.215.14/", 80), ("https://93.184.215.14/", 443)]
)
def test_the_default_port_follows_the_scheme(url, port):
    (checked,) = check_destination_url(url=url)

    assert checked.sockaddr == ("93.184.215.14", port)


def test_a_trailing_dot_name_is_looked_up_and_checked(fake_dns):
    fake_dns.add("localhost", "127.0.0.1")

    message = refusal("http://localhost./")

    assert message == (
        f"“localhost.” resolves to 127.0.0.1, a loopback address{PUBLIC_SUFFIX}"
    )


def test_international_names_are_looked_up_in_their_ascii_form(fake_dns):
    check_destination_url(url="https://hooks.bücher.example.com/")

    assert fake_dns.calls == ["hooks.xn--bcher-kva.example.com"]


def test_an_unknown_host_is_refused_as_unresolvable():
    with pytest.raises(UnresolvableHostError) as raised:
        check_destination_url(url="https://nope.invalid/hooks")

    assert raised.value.message == "The host “nope.invalid” could not be resolved."


def test_a_resolver_without_any_address_is_unresolvable():
    with pytest.raises(UnresolvableHostError, match="could not be resolved"):
        check_destination_url(url="https://empty.test/", resolve=lambda *a, **k: [])


def test_a_slow_lookup_gives_up_at_the_timeout():
    release = threading.Event()

    def hanging_resolver(*args, **kwargs):
        release.wait(5)
        return []

    try:
        with pytest.raises(ResolutionTimeoutError) as raised:
            check_destination_url(
                url="https://slow.test/", resolve=hanging_resolver, timeout=0.05
            )
    finally:
        release.set()

    assert raised.value.message == "Looking up the host “slow.test” took too long."


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "The URL must start with http:// or https://."),
        ("javascript:alert(1)", "The URL must start with http:// or https://."),
        (
            "https://user:pw@example.com/x",
            "A user name or password in the URL is not allowed.",
        ),
        (
            "https://user@example.com/x",
            "A user name or password in the URL is not allowed.",
        ),
        ("https://example.com:0/x", "The port must be a number from 1 to 65535."),
        ("https://example.com:65536/x", "The port must be a number from 1 to 65535."),
        ("https://example.com:http/x", "The port must be a number from 1 to 65535."),
        ("https:///x", "The URL has no host name."),
        ("https://[::1/x", "This is not a valid URL."),
    ],
)
def test_malformed_urls_are_refused_before_any_lookup(fake_dns, url, message):
    assert refusal(url) == message
    assert fake_dns.calls == []


def test_allowing_private_destinations_lets_loopback_and_private_networks_pass(
    settings, fake_dns
):
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    fake_dns.add("dev.test", "127.0.0.1", "10.0.0.5", "100.64.0.1", "::1", "fd00::1")

    checked = check_destination_url(url="http://dev.test:8000/dev/receiver/")

    assert len(checked) == 5
    assert check_destination_url(url="http://[::ffff:127.0.0.1]/")


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "169.254.1.1", "fe80::1", "0.0.0.1", "224.0.0.1", "192.0.2.1"],
)
def test_allowing_private_destinations_still_refuses_the_special_ranges(address):
    host = f"[{address}]" if ":" in address else address

    with pytest.raises(DestinationError):
        check_destination_url(url=f"http://{host}/", allow_private=True)
