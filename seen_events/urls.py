from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from webhooks import dev_receiver

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path("admin/", admin.site.urls),
    path("api/", include("webhooks.api.urls")),
    # Answers 404 unless DEBUG is on.
    path("dev/receiver/", dev_receiver.receive, name="dev-receiver"),
]
