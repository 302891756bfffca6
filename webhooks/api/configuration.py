"""/api/v1/workspaces/<slug>/webhook: the webhook's configuration, for scripts.

GET reads it; PUT replaces it and PATCH changes the fields it names. The
settings page's people may use it (the workspace's admins and superusers),
signed in with a token or a session, and the settings page's form judges
what they send: the JSON is translated into that form's data, and its errors
back into JSON by field. Secrets are write-only: an answer says whether one
is set, never what it is, and a secret left out keeps its stored value.
"""

from django.http import QueryDict
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from webhooks.api.schema import error_response
from webhooks.api.serializers import ClosedSerializerMixin
from webhooks.forms import WebhookSettingsForm
from webhooks.models import (
    AUTH_SECRET_FIELDS,
    AuthKind,
    EventType,
    HttpMethod,
    WebhookConfig,
)
from webhooks.permissions import get_configurable_workspace

NOT_AN_OBJECT = _("Send a JSON object.")
# Schema components whose unknown fields are refused; "Patched" ones too.
CLOSED_COMPONENTS = ("WebhookConfiguration", "WebhookHeader", "WebhookAuthentication")
AUTH_PLAIN_FIELDS = ("username", "api_key_header", "token_url", "client_id", "scope")
WRITE_ONLY = _("Write-only: never returned. Left out or empty, the stored value stays.")


class ClosedSerializer(ClosedSerializerMixin, serializers.Serializer):
    not_an_object = NOT_AN_OBJECT


def secret_field(help_text=""):
    return serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text=format_lazy("{} {}", help_text, WRITE_ONLY)
        if help_text
        else WRITE_ONLY,
    )


def is_set_field():
    return serializers.BooleanField(
        read_only=True, help_text=_("Whether a value is stored for the secret.")
    )


def plain_field(**kwargs):
    return serializers.CharField(required=False, allow_blank=True, **kwargs)


class WebhookHeaderSerializer(ClosedSerializer):
    name = serializers.CharField(allow_blank=True)
    value = secret_field()
    value_set = is_set_field()

    def validate(self, attrs):
        # A PATCH makes nested rows partial too, but a header row means
        # nothing without its name.
        if "name" not in attrs:
            raise serializers.ValidationError(
                {"name": [serializers.Field.default_error_messages["required"]]}
            )
        return super().validate(attrs)


class WebhookAuthenticationSerializer(ClosedSerializer):
    kind = serializers.ChoiceField(choices=AuthKind.choices)
    username = plain_field(help_text=_("Basic."))
    password = secret_field()
    password_set = is_set_field()
    token = secret_field(help_text=_("Bearer token."))
    token_set = is_set_field()
    api_key_header = plain_field(help_text=_("API key: the header that carries it."))
    api_key = secret_field()
    api_key_set = is_set_field()
    token_url = plain_field(help_text=_("OAuth 2.0 client credentials."))
    client_id = plain_field()
    client_secret = secret_field()
    client_secret_set = is_set_field()
    scope = plain_field()


class WebhookConfigurationSerializer(ClosedSerializer):
    """The webhook as scripts read and write it; read-only fields are ignored."""

    workspace = serializers.SlugField(read_only=True)
    enabled = serializers.BooleanField(
        help_text=_(
            "While false, nothing is sent, and only this field is read: the "
            "rest of the configuration is kept as stored."
        )
    )
    http_method = serializers.ChoiceField(choices=HttpMethod.choices)
    endpoint_url = serializers.CharField(allow_blank=True, trim_whitespace=False)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices)
    )
    headers = WebhookHeaderSerializer(
        many=True,
        help_text=_(
            "Every custom header, in order. A header already stored under the "
            "same name (in any case) keeps its value unless a new one is given."
        ),
    )
    authentication = WebhookAuthenticationSerializer()
    signing_secret_rotated_at = serializers.DateTimeField(
        read_only=True, allow_null=True
    )
    failing_since = serializers.DateTimeField(read_only=True, allow_null=True)
    disabled_reason = serializers.CharField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


def describe_configuration(config: WebhookConfig) -> dict:
    """Return the configuration as the API answers it, without any secret."""
    auth = config.auth
    authentication = {"kind": auth.kind}
    authentication.update({name: getattr(auth, name) for name in AUTH_PLAIN_FIELDS})
    authentication.update(
        {f"{name}_set": bool(getattr(auth, name)) for name in AUTH_SECRET_FIELDS}
    )
    return WebhookConfigurationSerializer(
        {
            "workspace": config.workspace.slug,
            "enabled": config.enabled,
            "http_method": config.http_method,
            "endpoint_url": config.endpoint_url,
            "event_types": config.event_types,
            "headers": [
                {"name": header.name, "value_set": bool(header.value)}
                for header in config.headers.all()
            ],
            "authentication": authentication,
            "signing_secret_rotated_at": config.signing_secret_rotated_at,
            "failing_since": config.failing_since,
            "disabled_reason": config.disabled_reason,
            "updated_at": config.updated_at,
        }
    ).data


def build_form_data(
    *, config: WebhookConfig, values: dict, partial: bool
) -> tuple[QueryDict, dict[int, int]]:
    """Translate the request's values into the settings form's POST data.

    PATCH starts from the stored configuration; PUT from nothing but the
    stored secrets, which a blank box keeps. Returns the data and, for each
    header row of the form, the index of that header in the request.
    """
    data = QueryDict(mutable=True)

    # The webhook itself: the serializer requires every field for PUT.
    stored = {
        "enabled": config.enabled,
        "http_method": config.http_method,
        "endpoint_url": config.endpoint_url,
        "event_types": config.event_types,
    }
    merged = {**stored, **{name: values[name] for name in stored if name in values}}
    if merged["enabled"]:
        data["enabled"] = "on"
    data["http_method"] = merged["http_method"]
    data["endpoint_url"] = merged["endpoint_url"]
    data.setlist("event_types", merged["event_types"])

    # Authentication: plain fields merged for PATCH; secrets blank unless given.
    auth = config.auth
    fields = {"kind": auth.kind}
    if partial:
        fields.update({name: getattr(auth, name) for name in AUTH_PLAIN_FIELDS})
    fields.update(values.get("authentication", {}))
    for name in ("kind", *AUTH_PLAIN_FIELDS, *AUTH_SECRET_FIELDS):
        data[f"auth-{name}"] = fields.get(name, "")

    rows, initial, row_index = header_rows(config=config, values=values)
    data["headers-TOTAL_FORMS"] = str(len(rows))
    data["headers-INITIAL_FORMS"] = str(initial)
    for number, row in enumerate(rows):
        for key, value in row.items():
            data[f"headers-{number}-{key}"] = str(value)
    return data, row_index


def header_rows(*, config: WebhookConfig, values: dict):
    """Return the formset rows, how many are stored ones, and request indexes.

    A requested name that is stored already (in any case) edits that row,
    so its value is kept when none is given; stored names not requested are
    deleted. The formset wants stored rows first: ORDER restores the
    request's order.
    """
    stored = list(config.headers.all())
    requested = values.get("headers")
    if requested is None:
        requested = [{"name": header.name} for header in stored]
    by_name = {header.name.lower(): header for header in stored}

    kept, added, row_index = [], [], {}
    for index, header in enumerate(requested):
        row = {"name": header["name"], "value": header.get("value", ""), "ORDER": index}
        match = by_name.pop(header["name"].lower(), None)
        if match is None:
            added.append((index, row))
        else:
            kept.append((index, {"id": match.pk, **row}))
    removed = [
        (None, {"id": header.pk, "name": header.name, "DELETE": "on"})
        for header in by_name.values()
    ]
    rows = []
    for number, (index, row) in enumerate([*kept, *removed, *added]):
        rows.append(row)
        if index is not None:
            row_index[number] = index
    return rows, len(stored), row_index


def describe_errors(form: WebhookSettingsForm, row_index: dict[int, int]) -> dict:
    """Return the form's errors as JSON, by field, nested as the request is."""
    errors = _field_errors(form.config_form)
    if form.header_formset not in form.parts:
        return errors

    headers = {}
    if form.header_formset.non_form_errors():
        headers[api_settings.NON_FIELD_ERRORS_KEY] = list(
            form.header_formset.non_form_errors()
        )
    for number, row in enumerate(form.header_formset.forms):
        if row.errors and number in row_index:
            headers[str(row_index[number])] = _field_errors(row)
    if headers:
        errors["headers"] = headers
    authentication = _field_errors(form.auth_form)
    if authentication:
        errors["authentication"] = authentication
    return errors


def _field_errors(form) -> dict:
    return {
        (api_settings.NON_FIELD_ERRORS_KEY if name == "__all__" else name): list(
            messages
        )
        for name, messages in form.errors.items()
    }


INVALID_EXAMPLE = OpenApiExample(
    "Invalid configuration",
    value={
        "endpoint_url": ["An enabled webhook needs an endpoint URL."],
        "headers": {
            "1": {
                "name": [
                    "“Host” is set by External Events on every request and "
                    "cannot be configured."
                ]
            }
        },
        "authentication": {"password": ["Basic authentication needs this."]},
    },
    status_codes=["400"],
)
ERROR_RESPONSES = {
    401: error_response(_("No valid token or session.")),
    403: error_response(
        _("Only the workspace's admins can configure it (or a CSRF check failed).")
    ),
    404: error_response(_("No such workspace, or not one of yours.")),
}
WRITE_RESPONSES = {
    200: OpenApiResponse(
        WebhookConfigurationSerializer, description=_("Saved; the new configuration.")
    ),
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description=_(
            "Nothing was saved. Every problem by field; header problems by the "
            "header's index in the request, authentication problems nested "
            'under "authentication".'
        ),
        examples=[INVALID_EXAMPLE],
    ),
    **ERROR_RESPONSES,
}


class WebhookConfigurationView(APIView):
    """Read and change a workspace's webhook configuration."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    def get_config(self) -> WebhookConfig:
        workspace = get_configurable_workspace(
            user=self.request.user, slug=self.kwargs["slug"]
        )
        config = WebhookConfig.objects.select_related("auth").get(workspace=workspace)
        config.workspace = workspace
        return config

    @extend_schema(
        operation_id="get_webhook",
        summary=_("Read the webhook configuration"),
        tags=["webhook"],
        responses={200: WebhookConfigurationSerializer, **ERROR_RESPONSES},
    )
    def get(self, request, slug):
        return Response(describe_configuration(self.get_config()))

    @extend_schema(
        operation_id="put_webhook",
        summary=_("Replace the webhook configuration"),
        description=_(
            "Every field is required; secrets left out keep their stored "
            "values. Headers not listed are removed."
        ),
        tags=["webhook"],
        request=WebhookConfigurationSerializer,
        responses=WRITE_RESPONSES,
    )
    def put(self, request, slug):
        return self.update(request, partial=False)

    @extend_schema(
        operation_id="patch_webhook",
        summary=_("Change some of the webhook configuration"),
        description=_(
            "Fields left out keep their stored values; authentication fields "
            "merge with the stored ones. When given, headers replace the "
            "stored list, as with PUT."
        ),
        tags=["webhook"],
        request=WebhookConfigurationSerializer,
        responses=WRITE_RESPONSES,
    )
    def patch(self, request, slug):
        return self.update(request, partial=True)

    def update(self, request, *, partial: bool):
        config = self.get_config()
        serializer = WebhookConfigurationSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data, row_index = build_form_data(
            config=config, values=serializer.validated_data, partial=partial
        )
        form = WebhookSettingsForm(config=config, data=data)
        if not form.is_valid():
            return Response(describe_errors(form, row_index), status=400)
        form.save(user=request.user)
        return Response(describe_configuration(self.get_config()))


def close_configuration_schemas(result, generator, request, public):
    """Say in the schema that unknown fields are refused, as the API does."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        if name.removeprefix("Patched") in CLOSED_COMPONENTS:
            schema["additionalProperties"] = False
    return result
