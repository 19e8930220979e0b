from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "backend.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        # Importing the catalogue registers one outbox handler per event type.
        from . import events  # noqa: F401
