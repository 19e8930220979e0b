from django.apps import AppConfig


class FansConfig(AppConfig):
    name = "backend.fans"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from backend.audience.signals import consent_withdrawn

        from . import services

        consent_withdrawn.connect(services.forget_contact_without_consent, dispatch_uid="fans.contact")
