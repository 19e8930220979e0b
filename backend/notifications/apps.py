from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "backend.notifications"
    default_auto_field = "django.db.models.BigAutoField"
