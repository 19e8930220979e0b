from django.apps import AppConfig


class TillConfig(AppConfig):
    name = "backend.till"
    label = "till"
    verbose_name = "Web till"
