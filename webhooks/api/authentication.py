"""The workspace key: the one credential the player-event endpoint accepts.

The key is public: it ships in the pages that embed the player. All it grants
is posting events to its own workspace, so it is accepted by the event
endpoint and nowhere else.
"""

import dataclasses
import datetime
import threading
import time
from collections import OrderedDict

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from webhooks.models import INGEST_KEY_PREFIX, Workspace
from webhooks.workspaces import ROTATION_GRACE

KEY_HEADER = "X-Workspace-Key"
KEY_PARAMETER = "key"
MAX_KEY_LENGTH = Workspace._meta.get_field("ingest_key").max_length

MISSING_KEY = _(
    "Missing workspace key: send it in the X-Workspace-Key header or the key "
    "query parameter."
)
UNKNOWN_KEY = _("Unknown or expired workspace key.")

# Each web process remembers the keys it has seen for a minute, which spares
# a query on nearly every request. A key rotated away keeps working for a day
# anyway; a key removed from a workspace keeps working in a process for at
# most this long.
KEY_CACHE_SECONDS = 60.0
KEY_CACHE_SIZE = 1024


@dataclasses.dataclass(frozen=True)
class WorkspaceKey:
    """The workspace a key names, as the event endpoint needs it.

    ``expires_at`` is set for a previous key, which works until then.
    ``allowed_origins`` are lower-cased; empty allows every origin.
    """

    workspace_id: int
    slug: str
    allowed_origins: tuple[str, ...]
    expires_at: datetime.datetime | None = None

    def is_expired(self, *, now: datetime.datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def allows_origin(self, origin: str) -> bool:
        return not self.allowed_origins or origin.lower() in self.allowed_origins


class KeyCache:
    """A small, thread-safe map of recently seen keys, each kept for a while.

    Only keys that name a workspace are kept, so made-up keys cannot push the
    real ones out.
    """

    def __init__(self, *, size: int, seconds: float, clock=time.monotonic):
        self.size = size
        self.seconds = seconds
        self.clock = clock
        self.entries: OrderedDict[str, tuple[WorkspaceKey, float]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> WorkspaceKey | None:
        with self.lock:
            entry = self.entries.get(key)
            if entry is None:
                return None
            found, fresh_until = entry
            if self.clock() >= fresh_until:
                del self.entries[key]
                return None
            self.entries.move_to_end(key)
            return found

    def put(self, key: str, found: WorkspaceKey) -> None:
        with self.lock:
            self.entries[key] = (found, self.clock() + self.seconds)
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def forget_workspace(self, workspace_id: int) -> None:
        with self.lock:
            for key, (found, _fresh_until) in list(self.entries.items()):
                if found.workspace_id == workspace_id:
                    del self.entries[key]

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


key_cache = KeyCache(size=KEY_CACHE_SIZE, seconds=KEY_CACHE_SECONDS)


def find_workspace_key(*, key: str, now: datetime.datetime) -> WorkspaceKey | None:
    """Return the workspace of a current or still valid previous key, or None."""
    if not key.startswith(INGEST_KEY_PREFIX) or len(key) > MAX_KEY_LENGTH:
        return None
    found = key_cache.get(key)
    if found is None:
        found = load_workspace_key(key=key)
        if found is None:
            return None
        key_cache.put(key, found)
    # The expiry travels with the cached entry, so a previous key stops
    # working on time however recently it was cached.
    if found.is_expired(now=now):
        return None
    return found


def load_workspace_key(*, key: str) -> WorkspaceKey | None:
    """Read from the database the workspace whose current or previous key this is."""
    row = (
        Workspace.objects.filter(Q(ingest_key=key) | Q(previous_ingest_key=key))
        .values("id", "slug", "ingest_key", "ingest_key_rotated_at", "allowed_origins")
        .first()
    )
    if row is None:
        return None
    expires_at = None
    if row["ingest_key"] != key:
        if row["ingest_key_rotated_at"] is None:
            return None
        expires_at = row["ingest_key_rotated_at"] + ROTATION_GRACE
    return WorkspaceKey(
        workspace_id=row["id"],
        slug=row["slug"],
        allowed_origins=tuple(origin.lower() for origin in row["allowed_origins"]),
        expires_at=expires_at,
    )


class WorkspaceKeyAuthentication(BaseAuthentication):
    """Authenticate a request by its workspace key, header or query parameter.

    ``request.user`` stays None and ``request.auth`` is the WorkspaceKey.
    The query parameter exists for navigator.sendBeacon, which cannot set
    headers; the header wins when both are sent.
    """

    def authenticate(self, request):
        key = request.headers.get(KEY_HEADER) or request.query_params.get(KEY_PARAMETER)
        if not key:
            raise AuthenticationFailed(MISSING_KEY, code="missing_key")
        found = find_workspace_key(key=key, now=timezone.now())
        if found is None:
            raise AuthenticationFailed(UNKNOWN_KEY, code="unknown_key")
        return (None, found)

    def authenticate_header(self, request):
        # A challenge here makes DRF answer 401 rather than 403.
        return "WorkspaceKey"
