from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from webhooks import dev_receiver

urlpatterns = [
    path("", include("webhooks.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("webhooks.api.urls")),
    # Answers 404 unless DEBUG is on.
    path("dev/receiver/", dev_receiver.receive, name="dev-receiver"),
]
