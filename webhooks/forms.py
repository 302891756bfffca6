"""Validation of a webhook's configuration, shared by every way to change it.

The settings page and ``manage.py configurewebhook`` go through
WebhookSettingsForm, and the admin uses the same form classes for its inlines,
so a configuration is judged by the same rules wherever it comes from.
"""

import re

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from webhooks.destinations import DestinationError, check_destination_url
from webhooks.models import (
    AUTH_FIELDS,
    AUTH_SECRET_FIELDS,
    EVENT_TYPE_DESCRIPTIONS,
    AuthKind,
    EventType,
    WebhookAuth,
    WebhookConfig,
    WebhookHeader,
)

MAX_HEADERS = 20

# RFC 9110 token characters.
HEADER_NAME_PATTERN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

# Headers the product sets itself on every request. Letting a configuration
# override them would break framing (Host, Content-Length, Transfer-Encoding,
# Connection) or forge the signature headers the receiver verifies.
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection"}
)
RESERVED_HEADER_PREFIX = "webhook-"

SECRET_PLACEHOLDER = _("A value is set. Leave blank to keep it.")


def validate_header_name(name: str) -> None:
    """Refuse names that are not HTTP tokens or that the product sets itself."""
    if not HEADER_NAME_PATTERN.match(name):
        raise ValidationError(
            _(
                "“%(name)s” is not a valid header name: use letters, digits and "
                "- _ . ! # $ %% & ' * + ^ ` | ~ only, without spaces."
            ),
            code="invalid_header_name",
            params={"name": name},
        )
    lowered = name.lower()
    if lowered in RESERVED_HEADERS or lowered.startswith(RESERVED_HEADER_PREFIX):
        raise ValidationError(
            _(
                "“%(name)s” is set by External Events on every request and "
                "cannot be configured."
            ),
            code="reserved_header_name",
            params={"name": name},
        )


def validate_header_value(value: str) -> None:
    """Refuse values that would split or truncate the request's headers."""
    if any(character in value for character in "\r\n\0"):
        raise ValidationError(
            _("Header values cannot contain line breaks or NUL characters."),
            code="invalid_header_value",
        )


def validate_endpoint_url(url: str) -> None:
    """Refuse endpoint URLs that are not plain http(s) addresses."""
    scheme = url.split(":", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise ValidationError(
            _("The endpoint URL must start with http:// or https://."),
            code="invalid_scheme",
        )
    authority = url.split("//", 1)[1].split("/", 1)[0] if "//" in url else ""
    if "@" in authority:
        # Credentials in the URL would be stored and shown in clear text.
        raise ValidationError(
            _(
                "Put credentials under Authentication, not in the URL: a user "
                "name or password in the URL would be stored unencrypted."
            ),
            code="userinfo",
        )


def validate_public_destination(url: str) -> None:
    """Refuse URLs whose host is not on the public internet or does not resolve.

    Delivery checks again at connect time; this check is for a clear message
    while the person can still fix the URL.
    """
    try:
        check_destination_url(url=url, timeout=settings.WEBHOOK_CONNECT_TIMEOUT)
    except DestinationError as error:
        raise ValidationError(error.message, code="destination") from error


class SecretInput(forms.PasswordInput):
    """A password box that never sends a stored value back to the browser."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"autocomplete": "new-password", **(attrs or {})})


class SecretField(forms.CharField):
    """A write-only value: blank means "keep what is stored"."""

    widget = SecretInput

    def __init__(self, **kwargs):
        super().__init__(required=False, strip=False, **kwargs)

    def has_changed(self, initial, data):
        # The box is always empty on the page, so only a typed value is a
        # change; comparing with the stored value would flag every save.
        return bool(data)


class WebhookConfigForm(forms.ModelForm):
    endpoint_url = forms.URLField(
        label=_("Endpoint URL"),
        max_length=2048,
        required=False,
        assume_scheme="https",
        validators=[validate_endpoint_url],
        help_text=WebhookConfig._meta.get_field("endpoint_url").help_text,
    )
    event_types = forms.MultipleChoiceField(
        label=_("Subscribed events"),
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = WebhookConfig
        fields = ["enabled", "http_method", "endpoint_url", "event_types"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.event_type_descriptions = EVENT_TYPE_DESCRIPTIONS
        # While the webhook is off, the fields below the toggle are ignored:
        # the stored values stay as they are, ready for switching back on.
        if self.is_bound and not self.is_enabling():
            for name in ("http_method", "endpoint_url", "event_types"):
                self.fields[name].disabled = True

    def is_enabling(self) -> bool:
        """Tell whether the submitted data switches the webhook on."""
        field = self.fields["enabled"]
        value = field.widget.value_from_datadict(
            self.data, self.files, self.add_prefix("enabled")
        )
        return bool(field.to_python(value))

    def clean_endpoint_url(self):
        url = self.cleaned_data["endpoint_url"]
        # Only while the webhook is being kept on: switching it off must work
        # whatever the stored URL resolves to today.
        if url and not self.fields["endpoint_url"].disabled:
            validate_public_destination(url)
        return url

    def clean_event_types(self):
        selected = self.cleaned_data["event_types"]
        # Keep the order of the five types, whatever order they came in.
        return [value for value in EventType.values if value in selected]

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("enabled"):
            return cleaned
        errors = {}
        if "endpoint_url" in cleaned and not cleaned["endpoint_url"]:
            errors["endpoint_url"] = _("An enabled webhook needs an endpoint URL.")
        if "event_types" in cleaned and not cleaned["event_types"]:
            errors["event_types"] = _("Choose at least one event to send.")
        if errors:
            raise ValidationError(errors)
        return cleaned


class WebhookHeaderForm(forms.ModelForm):
    value = SecretField(label=_("Value"), validators=[validate_header_value])

    class Meta:
        model = WebhookHeader
        fields = ["name", "value"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].validators.append(validate_header_name)
        self.fields["name"].widget.attrs["autocomplete"] = "off"
        if self.instance.pk and self.instance.value:
            self.fields["value"].help_text = SECRET_PLACEHOLDER

    def clean_value(self):
        value = self.cleaned_data["value"]
        # A blank box on a saved row means "keep the stored value": the page
        # never receives that value, so it cannot send it back.
        if not value and self.instance.pk:
            return self.instance.value
        return value


class BaseHeaderFormSet(forms.BaseInlineFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "ORDER" in form.fields:
            # Only the API sends an order: a row without one is unchanged.
            form.fields["ORDER"].initial = None

    def clean(self):
        super().clean()
        seen = {}
        for form in self.forms:
            if not form.has_changed() and not form.instance.pk:
                continue
            if self.can_delete and self._should_delete_form(form):
                continue
            name = form.cleaned_data.get("name")
            if not name:
                continue
            lowered = name.lower()
            if lowered in seen:
                form.add_error(
                    "name",
                    ValidationError(
                        _(
                            "“%(name)s” is already set in another row: a header "
                            "can be sent only once."
                        ),
                        code="duplicate_header",
                        params={"name": name},
                    ),
                )
            seen[lowered] = form

    def save(self, commit=True):
        # Positions follow the rows' order on the page.
        saved = super().save(commit=False)
        for obj in self.deleted_objects:
            obj.delete()
        kept_forms = [
            form
            for form in self.forms
            if form.instance.name
            and not (self.can_delete and self._should_delete_form(form))
            and (form.instance.pk or form.has_changed())
        ]
        if self.can_order:
            # Rows that give an ORDER (the API's do) go there; the others,
            # as the page sends them, keep the order of the rows.
            kept_forms.sort(key=_row_order)
        kept = [form.instance for form in kept_forms]
        # Two saved rows may swap names in one submission. Renamed rows first
        # take a placeholder no header can have (spaces are not allowed in
        # names), so the unique name constraint never sees a transient clash.
        renamed = [
            form.instance
            for form in self.initial_forms
            if form.instance in kept and "name" in form.changed_data
        ]
        for header in renamed:
            WebhookHeader.objects.filter(pk=header.pk).update(
                name=f"renaming {header.pk}"
            )
        for position, form in enumerate(kept_forms):
            header = form.instance
            # Rows neither moved nor edited are left alone: the history then
            # records real changes only.
            if header.pk and header.position == position and not form.has_changed():
                continue
            header.position = position
            header.config = self.instance
            header.save()
        return saved


def _row_order(form):
    order = form.cleaned_data.get("ORDER")
    return (order is None, order or 0)


HeaderFormSet = forms.inlineformset_factory(
    WebhookConfig,
    WebhookHeader,
    form=WebhookHeaderForm,
    formset=BaseHeaderFormSet,
    extra=0,
    can_delete=True,
    can_order=True,
    max_num=MAX_HEADERS,
    validate_max=True,
    # Rows removed in the same submission count towards absolute_max but not
    # towards max_num, so replacing every row at once must still fit.
    absolute_max=2 * MAX_HEADERS,
)


class WebhookAuthForm(forms.ModelForm):
    token_url = forms.URLField(
        label=_("Token URL"),
        max_length=2048,
        required=False,
        assume_scheme="https",
        validators=[validate_endpoint_url],
    )

    class Meta:
        model = WebhookAuth
        fields = [
            "kind",
            "username",
            "password",
            "token",
            "api_key_header",
            "api_key",
            "token_url",
            "client_id",
            "client_secret",
            "scope",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in AUTH_SECRET_FIELDS:
            model_field = WebhookAuth._meta.get_field(name)
            self.fields[name] = SecretField(label=capfirst(model_field.verbose_name))
            if getattr(self.instance, name):
                self.fields[name].help_text = SECRET_PLACEHOLDER

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind is None:
            return cleaned

        # A blank secret keeps the stored one: the page never shows it.
        for name in AUTH_SECRET_FIELDS:
            if not cleaned.get(name):
                cleaned[name] = getattr(self.instance, name)

        # Every field the chosen kind uses is required.
        errors = {}
        for name in AUTH_FIELDS[AuthKind(kind)]:
            if name == "scope" or cleaned.get(name) or name in self.errors:
                continue
            errors[name] = ValidationError(
                _("%(kind)s authentication needs this."),
                code="required",
                params={"kind": AuthKind(kind).label},
            )
        header = cleaned.get("api_key_header")
        if kind == AuthKind.API_KEY and header:
            try:
                validate_header_name(header)
            except ValidationError as error:
                errors["api_key_header"] = error
        token_url = cleaned.get("token_url")
        if kind == AuthKind.OAUTH2 and token_url:
            try:
                validate_public_destination(token_url)
            except ValidationError as error:
                errors["token_url"] = error
        for name in ("api_key", "token", "password", "username"):
            try:
                validate_header_value(cleaned.get(name) or "")
            except ValidationError as error:
                errors.setdefault(name, error)
        if errors:
            raise ValidationError(errors)
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        self.instance.clear_unused_fields()


class WebhookSettingsForm:
    """The configuration, its headers and its authentication, judged together.

    Nothing is saved unless all three are valid. While the submitted data
    leaves the webhook off, only the toggle is read: the headers and
    authentication stored before stay untouched.
    """

    def __init__(self, *, config: WebhookConfig, data=None, prefix_headers="headers"):
        self.config = config
        self.config_form = WebhookConfigForm(data, instance=config)
        self.header_formset = HeaderFormSet(
            data, instance=config, prefix=prefix_headers
        )
        self.auth_form = WebhookAuthForm(data, instance=config.auth, prefix="auth")

    @property
    def parts(self):
        if self.config_form.is_bound and not self.config_form.is_enabling():
            return [self.config_form]
        return [self.config_form, self.header_formset, self.auth_form]

    def is_valid(self) -> bool:
        return all([part.is_valid() for part in self.parts])

    @property
    def errors(self) -> list[tuple[str, str]]:
        """Every error as (field label, message), for summaries and the CLI."""
        return [(label, message) for label, message, _field in self.error_entries]

    @property
    def error_entries(self) -> list[tuple[str, str, forms.BoundField | None]]:
        """Every error as (field label, message, the field or None).

        The field lets a page link each summarised error to its box; errors
        of no single field (too many headers) have none.
        """
        found = []
        for form in (self.config_form, self.auth_form):
            if form in self.parts:
                found.extend(_labelled_errors(form))
        if self.header_formset in self.parts:
            for message in self.header_formset.non_form_errors():
                found.append((str(_("Headers")), message, None))
            # Rows are numbered as the person sees them: removed rows are gone.
            formset = self.header_formset
            kept = [
                form for form in formset.forms if not formset._should_delete_form(form)
            ]
            for index, form in enumerate(kept, start=1):
                for label, message, field in _labelled_errors(form):
                    found.append(
                        (f"{_('Header')} {index} {label.lower()}", message, field)
                    )
        return found

    def save(self, *, user=None) -> WebhookConfig:
        """Save every part in one transaction and return the configuration."""
        if not self.is_valid():
            raise ValueError("WebhookSettingsForm.save() called with invalid data.")
        with transaction.atomic():
            config = self.config_form.save(commit=False)
            config.updated_by = user if user and user.is_authenticated else None
            # Only the fields on the form: a key rotation or the delivery
            # engine's health fields written meanwhile must not be undone.
            update_fields = [*self.config_form.changed_data, "updated_by", "updated_at"]
            # Turning the webhook back on starts its health afresh: the
            # person has seen why it was off and means to try again.
            if "enabled" in self.config_form.changed_data and config.enabled:
                config.failing_since = None
                config.disabled_reason = ""
                update_fields += ["failing_since", "disabled_reason"]
            config.save(update_fields=update_fields)
            if self.header_formset in self.parts:
                self.header_formset.save()
                if self.auth_form.has_changed():
                    self.auth_form.save()
        return config


def _labelled_errors(form):
    for name, messages in form.errors.items():
        label = str(form.fields[name].label) if name in form.fields else str(_("Form"))
        field = form[name] if name in form.fields else None
        for message in messages:
            yield label, message, field


class SendTestEventForm(forms.Form):
    """The event type of a test event to send."""

    event_type = forms.ChoiceField(
        label=_("Event"), choices=EventType.choices, initial=EventType.PLAYER_OPENED
    )
