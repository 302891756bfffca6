"""Cross-origin access to the player-event endpoint, workspace by workspace.

Written here rather than taken from a CORS library: a workspace's allowed
origins are known only once its key is read, which middleware that decides
per URL, like django-cors-headers, cannot express. Requests carry no cookies,
so credentials are never allowed.
"""

from django.utils.cache import patch_vary_headers

# Browsers cap how long they keep a preflight (Chromium: 2 hours); a day
# lets each use its own ceiling.
PREFLIGHT_MAX_AGE = 24 * 60 * 60
ALLOWED_METHODS = "POST, OPTIONS"
ALLOWED_HEADERS = "Content-Type, X-Workspace-Key"
# Readable by the page, so a throttled player can back off as told.
EXPOSED_HEADERS = "Retry-After"


def add_cors_headers(response, *, origin: str | None, allowed: bool) -> None:
    """Let the page at ``origin`` read ``response`` when it may post here."""
    # The answer depends on the Origin header, so caches must key on it.
    patch_vary_headers(response, ["Origin"])
    if origin is not None and allowed:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Expose-Headers"] = EXPOSED_HEADERS


def add_preflight_headers(response) -> None:
    """Tell the browser which request the page may send, and for how long."""
    response["Access-Control-Allow-Methods"] = ALLOWED_METHODS
    response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
