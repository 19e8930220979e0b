from importlib import import_module

from django.apps import AppConfig
from django.conf import settings


class OutboxConfig(AppConfig):
    name = "backend.outbox"
    label = "outbox"

    def ready(self) -> None:
        # Extra handler modules named by settings (tests use it to give worker processes
        # their test handlers); the apps register their own from their ready().
        for module in getattr(settings, "OUTBOX_EXTRA_HANDLER_MODULES", ()):
            import_module(module)
