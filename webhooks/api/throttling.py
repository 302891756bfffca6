"""Admission control for the player-event endpoint, counted in Django's cache.

Two budgets: one per workspace, so one busy site cannot fill the queue for
everyone, and one per client address, judged before the key is even looked
up, so a flood of made-up keys is refused cheaply.
"""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """Return (requests, seconds) for a rate such as "6000/minute"."""
    count, period = rate.split("/")
    return int(count), PERIODS[period.strip()[0].lower()]


class FixedWindowRateThrottle(BaseThrottle):
    """Allow so many requests per window of time to each identity.

    DRF's SimpleRateThrottle keeps one timestamp per request in a single cache
    entry and rewrites the whole list on every request: thousands of entries
    at these rates, and two processes overwriting each other's lists count
    too few. A counter the cache increments atomically costs one or two cache
    calls whatever the rate; the price is that a burst straddling two windows
    may reach twice the rate.
    """

    scope = ""
    rate_setting = ""
    timer = time.time

    def __init__(self):
        # Read per request, so a changed setting applies at once.
        self.num_requests, self.duration = parse_rate(
            getattr(settings, self.rate_setting)
        )
        self.wait_seconds = None

    def get_identity(self, request, view) -> str | None:
        """Return what the budget is counted for, or None for no budget."""
        raise NotImplementedError

    def allow_request(self, request, view):
        identity = self.get_identity(request, view)
        if identity is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        key = f"throttle:{self.scope}:{identity}:{window}"
        if cache.add(key, 1, timeout=self.duration + 1):
            count = 1
        else:
            try:
                count = cache.incr(key)
            except ValueError:
                # The entry expired between the two calls.
                cache.add(key, 1, timeout=self.duration + 1)
                count = 1
        if count <= self.num_requests:
            return True
        self.wait_seconds = (window + 1) * self.duration - now
        return False

    def wait(self):
        return self.wait_seconds


class WorkspaceKeyRateThrottle(FixedWindowRateThrottle):
    """Count requests per workspace, whichever of its keys they carry."""

    scope = "ingest-key"
    rate_setting = "WEBHOOK_INGEST_RATE_PER_KEY"

    def get_identity(self, request, view):
        if request.auth is None:
            return None
        return str(request.auth.workspace_id)


class ClientAddressRateThrottle(FixedWindowRateThrottle):
    """Count requests per client address.

    The address is REMOTE_ADDR unless REST_FRAMEWORK["NUM_PROXIES"] (from
    TRUSTED_PROXY_COUNT) says how many proxies in front of us append to
    X-Forwarded-For; a header any client can write is never trusted by
    default.
    """

    scope = "ingest-address"
    rate_setting = "WEBHOOK_INGEST_RATE_PER_ADDRESS"

    def get_identity(self, request, view):
        return self.get_ident(request)
