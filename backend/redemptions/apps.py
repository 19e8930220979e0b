from django.apps import AppConfig


class RedemptionsConfig(AppConfig):
    name = "backend.redemptions"
    label = "redemptions"

    def ready(self) -> None:
        from . import announcements  # noqa: F401  (declares the write-off's webhook event types)
