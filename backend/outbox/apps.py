from importlib import import_module

from django.apps import AppConfig
from django.conf import settings


class OutboxConfig(AppConfig):
    name = "backend.outbox"
    label = "outbox"

    def ready(self) -> None:
        from . import worker  # noqa: F401 - the dispatcher starts with each Celery worker

        # Extra handlers named by settings, "module" or "module:function" to call (tests use
        # it to give worker processes their test handlers); apps register theirs in ready().
        for entry in getattr(settings, "OUTBOX_EXTRA_HANDLER_MODULES", ()):
            module_name, _, function = entry.partition(":")
            module = import_module(module_name)
            if function:
                getattr(module, function)()
