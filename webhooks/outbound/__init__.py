"""The one HTTP session: every request this product sends goes through here.

Deliveries and OAuth token requests alike are sent with send_request(),
which returns what happened as a value and never raises for a transport
failure. Nothing else in the project imports ``requests`` or ``urllib3``, so
the rules below hold for every outgoing byte:

- The destination guard (``webhooks.destinations``) runs when a connection is
  opened, on the addresses the name resolves to, and the connection goes to
  an address that passed: a second, different DNS answer cannot redirect it.
- Redirects are never followed; a 3xx response is returned with its Location.
- Proxies, ``.netrc`` credentials and certificate settings from the
  environment are ignored; WEBHOOK_EGRESS_PROXY, when set, carries everything.
- One deadline bounds the whole request, lookup to last byte, even against a
  server that trickles one byte a second.
- At most WEBHOOK_RESPONSE_BODY_LIMIT bytes of the response body are read.

``sending`` turns one request into a result; ``session`` holds the one
session per process and the connections that enforce the guard and the
deadline.
"""

from webhooks.outbound.sending import (
    USER_AGENT,
    FailureKind,
    OutboundFailure,
    OutboundResponse,
    OutboundResult,
    sanitize_url_for_log,
    send_request,
)

__all__ = [
    "USER_AGENT",
    "FailureKind",
    "OutboundFailure",
    "OutboundResponse",
    "OutboundResult",
    "sanitize_url_for_log",
    "send_request",
]
