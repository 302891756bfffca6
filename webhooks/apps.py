from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "External Events"

    def ready(self):
        # Registers the system checks.
        from webhooks import checks  # noqa: F401
