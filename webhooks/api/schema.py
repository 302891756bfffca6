"""How the player-event endpoint appears in the OpenAPI schema."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)

from webhooks.api.authentication import KEY_HEADER, KEY_PARAMETER
from webhooks.api.serializers import (
    MAX_EVENTS,
    ErrorSerializer,
    EventBatchSerializer,
    EventSerializer,
    IngestAnswerSerializer,
)

KEY_DESCRIPTION = _(
    "The workspace's public ingest key, in the X-Workspace-Key header or, for "
    "navigator.sendBeacon which cannot set headers, in the key query "
    "parameter. The header wins when both are sent."
)

# Components whose schema forbids fields it does not declare, as the
# serializers do.
CLOSED_COMPONENTS = ("Event", "EventBatch")


class WorkspaceKeyScheme(OpenApiAuthenticationExtension):
    target_class = "webhooks.api.authentication.WorkspaceKeyAuthentication"
    name = ["WorkspaceKeyHeader", "WorkspaceKeyQuery"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": KEY_HEADER},
            {"type": "apiKey", "in": "query", "name": KEY_PARAMETER},
        ]

    def get_security_requirement(self, auto_schema):
        # Either one will do.
        return [{name: []} for name in self.name]


def complete_event_schemas(result, generator, request, public):
    """Add what the serializers enforce but drf-spectacular does not describe.

    Unknown fields are refused, not dropped, and a batch holds 1 to 100 events.
    """
    schemas = result.get("components", {}).get("schemas", {})
    for name in CLOSED_COMPONENTS:
        if name in schemas:
            schemas[name]["additionalProperties"] = False
    if "EventBatch" in schemas:
        schemas["EventBatch"]["properties"]["events"].update(
            minItems=1, maxItems=MAX_EVENTS
        )
    return result


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


events_schema = extend_schema(
    operation_id="post_events",
    summary=_("Report viewer events"),
    description=_(
        'Post one event, or up to 100 as {"events": [...]}. All or nothing: '
        "if any event is invalid, nothing is stored and every problem is "
        "listed. Accepted events are delivered to the workspace's webhook "
        "when it is enabled and subscribed to their type. Bodies are at most "
        "65536 bytes."
    ),
    tags=["events"],
    parameters=[
        OpenApiParameter(
            KEY_HEADER, str, OpenApiParameter.HEADER, description=KEY_DESCRIPTION
        ),
        OpenApiParameter(
            KEY_PARAMETER, str, OpenApiParameter.QUERY, description=KEY_DESCRIPTION
        ),
        OpenApiParameter(
            "Retry-After",
            int,
            OpenApiParameter.HEADER,
            required=True,
            description=_("Seconds to wait before sending again."),
            response=[429],
        ),
    ],
    request={
        "application/json": PolymorphicProxySerializer(
            component_name="EventRequest",
            serializers=[EventSerializer, EventBatchSerializer],
            resource_type_field_name=None,
        ),
        "text/plain": {
            "type": "string",
            "description": (
                "The same JSON document, sent as text/plain as "
                "navigator.sendBeacon and CORS-simple requests do."
            ),
        },
    },
    responses={
        202: OpenApiResponse(
            IngestAnswerSerializer,
            description=_(
                "Stored. Each event of the request is listed once, by index: "
                "accepted, a duplicate of an event already stored with the "
                "same id, or ignored by its occurrence rule."
            ),
        ),
        400: OpenApiResponse(
            OpenApiTypes.OBJECT,
            description=_(
                'Malformed JSON ({"detail": ...}), or invalid events: every '
                "problem by field and, in a batch, by the event's index."
            ),
            examples=[
                OpenApiExample(
                    "Invalid batch",
                    value={"events": {"3": {"type": ['"x" is not a valid choice.']}}},
                    status_codes=["400"],
                ),
                OpenApiExample(
                    "Invalid event",
                    value={"colour": ["Unknown field."]},
                    status_codes=["400"],
                ),
            ],
        ),
        401: error_response(_("The workspace key is missing, unknown or expired.")),
        403: error_response(_("The page's origin is not allowed for this workspace.")),
        411: error_response(_("The body was sent without a Content-Length.")),
        413: error_response(_("The body is larger than 65536 bytes.")),
        415: error_response(_("The body is neither application/json nor text/plain.")),
        429: error_response(_("Too many requests for this workspace or address.")),
    },
)
