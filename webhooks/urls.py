from django.urls import path

from webhooks import views

app_name = "webhooks"

PAGE = "workspaces/<slug:slug>/settings/external-events/"

urlpatterns = [
    path("", views.workspace_list, name="workspaces"),
    path(PAGE, views.external_events, name="external-events"),
    path(
        PAGE + "ingest-key/rotate/",
        views.rotate_ingest_key_view,
        name="rotate-ingest-key",
    ),
    path(
        PAGE + "signing-secret/rotate/",
        views.rotate_signing_secret_view,
        name="rotate-signing-secret",
    ),
    path(
        PAGE + "signing-secret/reveal/",
        views.reveal_signing_secret,
        name="reveal-signing-secret",
    ),
    path(
        PAGE + "headers/<int:header_id>/reveal/",
        views.reveal_header,
        name="reveal-header",
    ),
    path(PAGE + "test/", views.send_test, name="send-test-event"),
]
