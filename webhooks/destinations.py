"""The destination guard: outgoing requests go to public addresses only.

A webhook's endpoint and OAuth token URL are typed by workspace admins, so
without a guard they could make this server call itself, the private network
it sits in, or the cloud metadata service. The guard parses a URL, resolves
its host and refuses it when any address is not public. It runs when a URL is
saved, for a clear message, and again when a connection is opened
(``webhooks.outbound``), where the connection goes to the very address that
was checked.

Host names are resolved through a resolver with ``socket.getaddrinfo``'s
signature, passed as an argument; tests replace ``default_resolver`` so that
no name is ever looked up for real.
"""

import ipaddress
import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import idna
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[tuple]]

# The system resolver. Tests replace this attribute with a fake.
default_resolver: Resolver = socket.getaddrinfo

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}


class DestinationError(Exception):
    """A destination refused; the message is fit to show whoever typed it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UnresolvableHostError(DestinationError):
    """The host name has no address, or the lookup failed."""


class ResolutionTimeoutError(UnresolvableHostError):
    """The host name lookup did not finish in the time it was given."""


@dataclass(frozen=True)
class ResolvedAddress:
    """One checked address of a destination, ready for ``socket.connect``."""

    address: IPAddress
    family: socket.AddressFamily
    sockaddr: tuple


@dataclass(frozen=True)
class AddressClass:
    """Why an address is not public, and whether private use may allow it."""

    description: str
    private_use: bool = False


LOOPBACK = AddressClass(gettext_lazy("a loopback address"), private_use=True)
PRIVATE = AddressClass(gettext_lazy("a private address"), private_use=True)
SHARED = AddressClass(gettext_lazy("a carrier-grade NAT address"), private_use=True)
# Never allowed, not even for development: link-local is where cloud
# metadata services hand out the machine's credentials.
LINK_LOCAL = AddressClass(gettext_lazy("a link-local address"))
METADATA = AddressClass(gettext_lazy("the cloud metadata address"))
UNSPECIFIED = AddressClass(gettext_lazy("an unspecified address"))
MULTICAST = AddressClass(gettext_lazy("a multicast address"))
BROADCAST = AddressClass(gettext_lazy("the broadcast address"))
DOCUMENTATION = AddressClass(gettext_lazy("a documentation address"))
BENCHMARKING = AddressClass(gettext_lazy("a benchmarking address"))
TEREDO = AddressClass(gettext_lazy("a Teredo tunnel address"))
RESERVED = AddressClass(gettext_lazy("a reserved address"))

# Every range that is not the public internet, most specific first. Python's
# is_global misses several of them (multicast, NAT64, 6to4, 3fff::/20 among
# others, depending on the Python release), so each is listed here.
NON_PUBLIC_RANGES = [
    (ipaddress.ip_network(network), address_class)
    for network, address_class in [
        ("0.0.0.0/8", UNSPECIFIED),
        ("10.0.0.0/8", PRIVATE),
        ("100.64.0.0/10", SHARED),
        ("127.0.0.0/8", LOOPBACK),
        ("169.254.169.254/32", METADATA),
        ("169.254.0.0/16", LINK_LOCAL),
        ("172.16.0.0/12", PRIVATE),
        ("192.0.0.0/24", RESERVED),
        ("192.0.2.0/24", DOCUMENTATION),
        ("192.88.99.0/24", RESERVED),
        ("192.168.0.0/16", PRIVATE),
        ("198.18.0.0/15", BENCHMARKING),
        ("198.51.100.0/24", DOCUMENTATION),
        ("203.0.113.0/24", DOCUMENTATION),
        ("224.0.0.0/4", MULTICAST),
        ("255.255.255.255/32", BROADCAST),
        ("240.0.0.0/4", RESERVED),
        ("::/128", UNSPECIFIED),
        ("::1/128", LOOPBACK),
        ("64:ff9b:1::/48", PRIVATE),
        ("::/8", RESERVED),
        ("100::/64", RESERVED),
        ("2001::/32", TEREDO),
        ("2001:2::/48", BENCHMARKING),
        ("2001:10::/28", RESERVED),
        ("2001:20::/28", RESERVED),
        ("2001:db8::/32", DOCUMENTATION),
        ("3fff::/20", DOCUMENTATION),
        ("5f00::/16", RESERVED),
        ("fc00::/7", PRIVATE),
        ("fe80::/10", LINK_LOCAL),
        ("fec0::/10", PRIVATE),
        ("ff00::/8", MULTICAST),
    ]
]

# IPv6 forms that carry an IPv4 address in their low bits; a connection to
# them can end up at that IPv4 address. (IPv4-mapped and 6to4 addresses are
# recognised by ipaddress itself.)
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def check_destination_url(
    *,
    url: str,
    resolve: Resolver | None = None,
    allow_private: bool | None = None,
    timeout: float | None = None,
) -> list[ResolvedAddress]:
    """Refuse a URL that could reach anything but the public internet.

    Return the checked addresses of its host. Raise DestinationError with a
    message for the person who typed the URL: UnresolvableHostError when the
    host has no address, ResolutionTimeoutError when the lookup outlasts
    ``timeout`` seconds.
    """
    host, port = parse_destination(url=url)
    return resolve_destination(
        host=host,
        port=port,
        resolve=resolve,
        allow_private=allow_private,
        timeout=timeout,
    )


def parse_destination(*, url: str) -> tuple[str, int]:
    """Return the host and port a URL points at, refusing malformed ones.

    Only http and https are allowed, without user name or password, with a
    host and a port from 1 to 65535. The host is returned as sent on the
    wire: lowercase, IDNA-encoded, without IPv6 brackets.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        raise DestinationError(_("This is not a valid URL.")) from None
    try:
        port = parts.port
    except ValueError:
        raise DestinationError(
            _("The port must be a number from 1 to 65535.")
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise DestinationError(_("The URL must start with http:// or https://."))
    if "@" in parts.netloc:
        # Credentials in a URL end up in logs and audit rows in clear text.
        raise DestinationError(_("A user name or password in the URL is not allowed."))
    if not parts.hostname:
        raise DestinationError(_("The URL has no host name."))
    if port == 0:
        raise DestinationError(_("The port must be a number from 1 to 65535."))
    return encode_host(parts.hostname), port or DEFAULT_PORTS[scheme]


def encode_host(host: str) -> str:
    """Return a host name as a client sends it: IDNA for non-ASCII names."""
    if host.isascii():
        return host.lower()
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except UnicodeError:
        raise DestinationError(
            _("“%(host)s” is not a valid host name.") % {"host": host}
        ) from None


def resolve_destination(
    *,
    host: str,
    port: int,
    resolve: Resolver | None = None,
    allow_private: bool | None = None,
    timeout: float | None = None,
) -> list[ResolvedAddress]:
    """Resolve a host and refuse it unless every address is public.

    A numeric host (``127.1``, ``0x7f000001``, ``::ffff:10.0.0.1``) is read
    as the C resolver reads it and never looked up. With ``allow_private``
    (default: the WEBHOOK_ALLOW_PRIVATE_DESTINATIONS setting), loopback,
    private and carrier-grade NAT addresses pass; link-local, metadata and
    the other special ranges never do.
    """
    if allow_private is None:
        allow_private = settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS

    # A literal address names itself: what a lookup would answer is known.
    literal = parse_ip_literal(host)
    if literal is not None:
        if literal.version == 4:
            family, sockaddr = socket.AF_INET, (str(literal), port)
        else:
            family, sockaddr = socket.AF_INET6, (str(literal), port, 0, 0)
        addresses = [ResolvedAddress(literal, family, sockaddr)]
    else:
        addresses = _lookup(host=host, port=port, resolve=resolve, timeout=timeout)

    # Every answer is checked, not only the one connected to: the order of
    # answers is the DNS server's to choose, so one private answer is enough
    # to make the name unsafe.
    for resolved in addresses:
        address_class = classify_address(resolved.address)
        if address_class is None or (allow_private and address_class.private_use):
            continue
        raise DestinationError(
            _refusal_message(host=host, address=resolved.address, kind=address_class)
        )
    return addresses


def _lookup(*, host, port, resolve, timeout) -> list[ResolvedAddress]:
    """Ask the resolver for a host's stream addresses, within ``timeout``."""
    resolve = resolve or default_resolver
    try:
        if timeout is None:
            answers = resolve(host, port, type=socket.SOCK_STREAM)
        else:
            future = _resolution_pool().submit(
                resolve, host, port, type=socket.SOCK_STREAM
            )
            answers = future.result(timeout=max(timeout, 0))
    except TimeoutError:
        # The thread finishes the lookup on its own; its answer is dropped.
        raise ResolutionTimeoutError(
            _("Looking up the host “%(host)s” took too long.") % {"host": host}
        ) from None
    except (socket.gaierror, UnicodeError):
        answers = []

    addresses = []
    for family, _type, _proto, _name, sockaddr in answers:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(sockaddr[0])
        addresses.append(
            ResolvedAddress(address, family, (sockaddr[0], port, *sockaddr[2:]))
        )
    if not addresses:
        raise UnresolvableHostError(
            _("The host “%(host)s” could not be resolved.") % {"host": host}
        )
    return addresses


_pool_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None


def _resolution_pool() -> ThreadPoolExecutor:
    """Return this process's lookup threads, which a deadline can walk away from.

    ``getaddrinfo`` cannot be interrupted, so a lookup with a time limit runs
    in a thread that is abandoned when time runs out. Threads do not survive
    a fork, so a process that inherited its parent's pool makes its own.
    """
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (
                os.getpid(),
                ThreadPoolExecutor(max_workers=4, thread_name_prefix="resolve"),
            )
        return _pool[1]


def _refusal_message(*, host: str, address: IPAddress, kind: AddressClass) -> str:
    params = {"host": host, "address": address, "kind": kind.description}
    # An IPv4 address spelled unusually (2130706433, 0x7f.1) is also shown in
    # its dotted form; other addresses are shown as typed.
    literal = parse_ip_literal(host)
    if literal is not None and (literal.version == 6 or host == str(literal)):
        message = _(
            "“%(host)s” is %(kind)s; the endpoint must be reachable on the "
            "public internet."
        )
    elif literal is not None:
        message = _(
            "“%(host)s” is %(address)s, %(kind)s; the endpoint must be "
            "reachable on the public internet."
        )
    else:
        message = _(
            "“%(host)s” resolves to %(address)s, %(kind)s; the endpoint must "
            "be reachable on the public internet."
        )
    return message % params


def classify_address(address: IPAddress) -> AddressClass | None:
    """Return why an address is not public, or None for a public address.

    An IPv6 address that embeds an IPv4 address (IPv4-mapped,
    IPv4-compatible, NAT64, 6to4) is judged by the IPv4 address it carries.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            ipv4, form = embedded
            inner = classify_address(ipv4)
            if inner is not None:
                description = _("%(kind)s (%(ipv4)s in %(form)s form)") % {
                    "kind": inner.description,
                    "ipv4": ipv4,
                    "form": form,
                }
                return AddressClass(description, inner.private_use)
            # A public IPv4 address behind NAT64, 6to4 or the mapped form is
            # as reachable as the address itself; the compatible form is
            # deprecated and falls to the ::/8 range below.
            if form != "IPv4-compatible":
                return None
        address = ipaddress.IPv6Address(int(address))  # without a scope
    for network, address_class in NON_PUBLIC_RANGES:
        if address.version == network.version and address in network:
            return address_class
    if not address.is_global:
        return RESERVED
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address):
    """Return the IPv4 address an IPv6 address carries, and the form's name."""
    low_bits = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "IPv4-mapped"
    if address in NAT64:
        return low_bits, "NAT64"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    if address in IPV4_COMPATIBLE and int(address) > 1:
        return low_bits, "IPv4-compatible"
    return None


def parse_ip_literal(host: str) -> IPAddress | None:
    """Return the address a numeric host stands for, or None for a name.

    IPv4 is read as the C library's inet_aton reads it, which is what
    ``getaddrinfo`` and so every HTTP client do: one to four parts, each
    decimal, octal (leading 0) or hexadecimal (leading 0x), the last part
    filling the remaining bytes. So ``2130706433``, ``0177.0.0.1``,
    ``0x7f.1`` and ``127.1`` are all 127.0.0.1. Trailing dots are ignored.
    """
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = host.rstrip(".")
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            return None
    return _parse_inet_aton(host)


HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
OCTAL_DIGITS = frozenset("01234567")
DECIMAL_DIGITS = frozenset("0123456789")


def _parse_inet_aton(host: str) -> ipaddress.IPv4Address | None:
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_parse_inet_aton_number(part) for part in parts]
    if None in numbers:
        return None
    *leading, last = numbers
    # Each leading part is one byte; the last fills the bytes that remain.
    if any(number > 0xFF for number in leading) or last >= 1 << 8 * (5 - len(parts)):
        return None
    value = last
    for position, number in enumerate(leading):
        value += number << 8 * (3 - position)
    return ipaddress.IPv4Address(value)


def _parse_inet_aton_number(part: str) -> int | None:
    if part[:2] in ("0x", "0X"):
        digits, base, allowed = part[2:], 16, HEX_DIGITS
    elif len(part) > 1 and part.startswith("0"):
        digits, base, allowed = part[1:], 8, OCTAL_DIGITS
    else:
        digits, base, allowed = part, 10, DECIMAL_DIGITS
    if not digits or not set(digits) <= allowed:
        return None
    return int(digits, base)
