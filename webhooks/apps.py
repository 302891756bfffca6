from django.apps import AppConfig
from django.db.models.signals import post_migrate


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "External Events"

    def ready(self):
        # Registers the system checks.
        from webhooks import checks  # noqa: F401
        from webhooks.schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self)
