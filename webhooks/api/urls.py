from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from webhooks.api.configuration import WebhookConfigurationView
from webhooks.api.views import EventsView

app_name = "api"

# The event path has no trailing slash, and nothing redirects to it: a
# redirect would turn a POST into a GET in many clients.
urlpatterns = [
    path("v1/events", EventsView.as_view(), name="events"),
    path(
        "v1/workspaces/<slug:slug>/webhook",
        WebhookConfigurationView.as_view(),
        name="webhook",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api:schema"),
        name="docs",
    ),
]
