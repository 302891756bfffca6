"""The Content-Security-Policy header, and the two pages that bend it.

The policy itself is CONTENT_SECURITY_POLICY in settings: scripts, styles and
images from this server only, nothing inline. Django's admin templates and the
Swagger UI page of the API documentation carry a <style> element of their
own, so those pages also accept inline styles; their scripts stay 'self' only.
"""

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware
from django.urls import NoReverseMatch, reverse

INLINE_STYLE_PAGES = ("admin:index", "api:docs")


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with inline styles where third-party pages need them."""

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        if parts.update is None and request.path_info.startswith(
            inline_style_prefixes()
        ):
            parts.update = {"style-src": [UNSAFE_INLINE]}
        return parts


def inline_style_prefixes() -> tuple[str, ...]:
    """Return the paths under which pages may carry inline styles."""
    prefixes = []
    for name in INLINE_STYLE_PAGES:
        try:
            prefixes.append(reverse(name))
        except NoReverseMatch:
            continue
    return tuple(prefixes)
