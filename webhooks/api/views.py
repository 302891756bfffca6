"""POST /api/v1/events: viewer events from players, in one request or a batch."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from webhooks.api.authentication import (
    KEY_PARAMETER,
    UNKNOWN_KEY,
    WorkspaceKeyAuthentication,
    find_workspace_key,
    key_cache,
)
from webhooks.api.cors import add_cors_headers, add_preflight_headers
from webhooks.api.parsers import EventJSONParser, EventTextParser, check_declared_length
from webhooks.api.schema import events_schema
from webhooks.api.serializers import render_answer, validate_events
from webhooks.api.throttling import ClientAddressRateThrottle, WorkspaceKeyRateThrottle
from webhooks.ingest import accept_events
from webhooks.models import Workspace

ORIGIN_REFUSED = _("Origin not allowed for this workspace.")


class OriginAllowed(BasePermission):
    """Refuse pages on origins the workspace has not allowed.

    Only browsers send Origin; other clients are not affected, since they
    could send any Origin they like anyway.
    """

    message = ORIGIN_REFUSED

    def has_permission(self, request, view):
        origin = request.headers.get("Origin")
        return origin is None or request.auth.allows_origin(origin)


class EventsView(APIView):
    """Accept viewer events from a player, authenticated by a workspace key."""

    authentication_classes = [WorkspaceKeyAuthentication]
    permission_classes = [OriginAllowed]
    throttle_classes = [WorkspaceKeyRateThrottle]
    parser_classes = [EventJSONParser, EventTextParser]
    # The workspace of the request's key, once known.
    workspace = None

    def initial(self, request, *args, **kwargs):
        # One clock reading per request: validation, storage and the answer
        # all speak of the same moment.
        self.received_at = timezone.now()
        if request.method == "OPTIONS":
            # A preflight carries no custom header and no body: options()
            # answers it without the key being required.
            self.format_kwarg = self.get_format_suffix(**kwargs)
            self.check_address_rate(request)
            return
        super().initial(request, *args, **kwargs)

    def perform_authentication(self, request):
        self.check_address_rate(request)
        self.workspace = request.auth

    def check_address_rate(self, request):
        # The address is throttled before the key is looked up, so that a
        # flood of made-up keys is refused before each one costs a query.
        throttle = ClientAddressRateThrottle()
        if not throttle.allow_request(request, self):
            self.throttled(request, throttle.wait())

    @events_schema
    def post(self, request, *args, **kwargs):
        check_declared_length(request)
        events = validate_events(payload=request.data, received_at=self.received_at)
        try:
            result = accept_events(
                workspace_id=self.workspace.workspace_id,
                events=events,
                received_at=self.received_at,
            )
        except Workspace.DoesNotExist:
            key_cache.forget_workspace(self.workspace.workspace_id)
            raise AuthenticationFailed(UNKNOWN_KEY, code="unknown_key") from None
        return Response(render_answer(result), status=status.HTTP_202_ACCEPTED)

    def options(self, request, *args, **kwargs):
        """Answer a browser's preflight."""
        origin = request.headers.get("Origin")
        key = request.query_params.get(KEY_PARAMETER)
        if origin and key:
            # Only a key in the query string reaches a preflight: then the
            # workspace's origins are enforced now, otherwise on the POST.
            self.workspace = find_workspace_key(key=key, now=self.received_at)
            if self.workspace and not self.workspace.allows_origin(origin):
                raise PermissionDenied(ORIGIN_REFUSED)
        response = Response(status=status.HTTP_204_NO_CONTENT)
        add_preflight_headers(response)
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # Errors are readable too (a 401 before the workspace is known), so
        # the page can tell what went wrong; a refused origin reads nothing.
        origin = request.headers.get("Origin")
        allowed = origin is not None and (
            self.workspace is None or self.workspace.allows_origin(origin)
        )
        add_cors_headers(response, origin=origin, allowed=allowed)
        return response
