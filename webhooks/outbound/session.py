"""The session behind send_request(): guarded, deadline-bound connections.

One ``requests`` session per process, created on first use, keeps
connections alive between requests. Its connections resolve the host
through the destination guard and connect to an address the guard passed;
every read and write on them ends by the deadline of the request in
progress.

The session may be shared by the threads of one process: requests go
through urllib3's thread-safe pools, the deadline lives in a context
variable, and no per-request state is kept on the session (cookies are
refused). A forked child, such as a django-q2 worker, builds its own session
rather than share its parent's sockets.
"""

import http.cookiejar
import io
import os
import socket
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import metadata

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from webhooks.destinations import (
    ResolutionTimeoutError,
    Resolver,
    resolve_destination,
)


def _product_version() -> str:
    try:
        return metadata.version("seen-external-events")
    except metadata.PackageNotFoundError:
        return "0+unknown"


USER_AGENT = f"SEEN-External-Events/{_product_version()} (+https://seen.io)"


@dataclass(frozen=True)
class _RequestContext:
    ends_at: float
    resolve: Resolver | None


# The request in progress in this thread. Connections read their deadline and
# resolver from it; outside request_scope() they still apply the guard.
_current_request: ContextVar[_RequestContext | None] = ContextVar(
    "outbound_request", default=None
)


@contextmanager
def request_scope(*, ends_at: float, resolve: Resolver | None = None):
    """Give the connections used inside the block a deadline and a resolver.

    ``ends_at`` is a time.monotonic() value; ``resolve`` replaces the system
    resolver for the destination guard.
    """
    token = _current_request.set(_RequestContext(ends_at, resolve))
    try:
        yield
    finally:
        _current_request.reset(token)


_session_lock = threading.Lock()
_session: tuple[int, requests.Session] | None = None


def get_session() -> requests.Session:
    """Return this process's session, building it on first use."""
    global _session
    with _session_lock:
        if _session is None or _session[0] != os.getpid():
            _session = (os.getpid(), _build_session())
        return _session[1]


def close_session() -> None:
    """Close this process's session and its idle connections.

    The next request builds a new session.
    """
    global _session
    with _session_lock:
        if _session is not None and _session[0] == os.getpid():
            _session[1].close()
        _session = None


class _NoRedirectSession(requests.Session):
    """A session that neither follows redirects nor prepares to.

    Even with redirects off, requests reads a 3xx body in full to prepare the
    next hop; here there is no next hop, so a redirect's body is capped like
    any other.
    """

    def resolve_redirects(self, *args, **kwargs):
        return iter(())


def _build_session() -> requests.Session:
    session = _NoRedirectSession()
    # Where requests go is decided by this package and WEBHOOK_EGRESS_PROXY
    # alone: environment proxies, .netrc credentials and CA bundle variables
    # are not consulted.
    session.trust_env = False
    session.max_redirects = 0
    # Many workspaces may share one receiver host: a cookie one of them is
    # given must not travel with another's requests.
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    # The stored body excerpt is the bytes as received; a compressed body
    # could also expand far beyond what was read.
    session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    adapter = _GuardedAdapter(pool_connections=32, pool_maxsize=4, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class _DeadlineSocket:
    """A connected socket whose every read and write ends by the deadline.

    A read timeout alone bounds each read, so a server sending a byte just
    before each timeout keeps a request going forever; here every read and
    write gets the time that remains of the whole request instead.
    """

    def __init__(self, sock):
        self._sock = sock
        self._open_readers = 0
        self._close_requested = False

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def _limit_to_deadline(self):
        request = _current_request.get()
        if request is None:
            return
        remaining = request.ends_at - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("The request deadline passed.")
        self._sock.settimeout(remaining)

    def sendall(self, data, *args):
        self._limit_to_deadline()
        return self._sock.sendall(data, *args)

    def send(self, data, *args):
        self._limit_to_deadline()
        return self._sock.send(data, *args)

    def recv(self, size, *args):
        self._limit_to_deadline()
        return self._sock.recv(size, *args)

    def recv_into(self, buffer, *args):
        self._limit_to_deadline()
        return self._sock.recv_into(buffer, *args)

    def makefile(self, mode="rb", *args, **kwargs):
        # http.client reads responses through a file; like socket.makefile,
        # an open file keeps the socket open after close() is called.
        if mode != "rb":
            raise ValueError(f"Unsupported mode for a deadline socket: {mode!r}")
        self._open_readers += 1
        return io.BufferedReader(_DeadlineReader(self))

    def _release_reader(self):
        self._open_readers -= 1
        if self._close_requested and not self._open_readers:
            self._sock.close()

    def close(self):
        self._close_requested = True
        if not self._open_readers:
            self._sock.close()


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket):
        self._deadline_socket = sock

    def readable(self):
        return True

    def readinto(self, buffer):
        return self._deadline_socket.recv_into(buffer)

    def close(self):
        if not self.closed:
            self._deadline_socket._release_reader()
        super().close()


class _GuardedConnectionMixin:
    """Connect only to addresses the destination guard has checked."""

    def _new_conn(self):
        # Through a proxy, the connection is the proxy's, which the operator
        # chose; send_request() checked the target before.
        if self.proxy is not None:
            return super()._new_conn()

        request = _current_request.get()
        remaining = None if request is None else request.ends_at - time.monotonic()
        # The name is resolved here, once, and the addresses checked are the
        # ones connected to: a rebinding DNS server gets no second question.
        try:
            addresses = resolve_destination(
                host=self._dns_host,
                port=self.port,
                resolve=None if request is None else request.resolve,
                timeout=remaining,
            )
        except ResolutionTimeoutError as error:
            raise ConnectTimeoutError(self, error.message) from error

        # urllib3 marks "no timeout given" with a sentinel object.
        timeout = self.timeout if isinstance(self.timeout, int | float) else None
        if remaining is not None:
            timeout = remaining if timeout is None else min(timeout, remaining)
        return self._connect_to_first(addresses, timeout)

    def _connect_to_first(self, addresses, timeout):
        """Connect to the first address that answers, in the resolver's order."""
        last_error = None
        for resolved in addresses:
            sock = socket.socket(resolved.family, socket.SOCK_STREAM)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(timeout)
                sock.connect(resolved.sockaddr)
            except TimeoutError as error:
                sock.close()
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out."
                ) from error
            except OSError as error:
                sock.close()
                last_error = error
                continue
            request = _current_request.get()
            if request is not None:
                # The TLS handshake that follows gets what remains.
                sock.settimeout(max(request.ends_at - time.monotonic(), 0.001))
            return sock
        raise NewConnectionError(
            self, f"Failed to establish a new connection: {last_error}"
        ) from last_error

    def connect(self):
        super().connect()
        self.sock = _DeadlineSocket(self.sock)


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


_GUARDED_POOL_CLASSES = {
    "http": _GuardedHTTPConnectionPool,
    "https": _GuardedHTTPSConnectionPool,
}


class _GuardedAdapter(HTTPAdapter):
    """requests' adapter, with pools whose connections are guarded."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _GUARDED_POOL_CLASSES

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _GUARDED_POOL_CLASSES
        return manager
