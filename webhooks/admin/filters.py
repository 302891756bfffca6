"""List filters of the delivery audit that Django does not provide."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

# Each class as a range of the status code, so the filter reads an index
# range instead of computing a class for every row.
RESPONSE_CLASSES = {
    "2xx": (200, 299),
    "3xx": (300, 399),
    "4xx": (400, 499),
    "5xx": (500, 599),
}
NO_RESPONSE = "none"


class ResponseClassFilter(admin.SimpleListFilter):
    """Rows by the class of an HTTP status code, or without any."""

    title = _("response code")
    parameter_name = "response"
    field_name = ""

    def lookups(self, request, model_admin):
        return [
            ("2xx", _("2xx success")),
            ("3xx", _("3xx redirect")),
            ("4xx", _("4xx client error")),
            ("5xx", _("5xx server error")),
            (NO_RESPONSE, _("No response")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == NO_RESPONSE:
            return queryset.filter(**{f"{self.field_name}__isnull": True})
        if value in RESPONSE_CLASSES:
            low, high = RESPONSE_CLASSES[value]
            return queryset.filter(**{f"{self.field_name}__range": (low, high)})
        return queryset


class LastResponseClassFilter(ResponseClassFilter):
    title = _("last response code")
    field_name = "last_status_code"


class AttemptResponseClassFilter(ResponseClassFilter):
    field_name = "response_status"
