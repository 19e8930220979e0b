from django.apps import AppConfig


class FansConfig(AppConfig):
    name = "backend.fans"
    default_auto_field = "django.db.models.BigAutoField"
