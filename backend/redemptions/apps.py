from django.apps import AppConfig


class RedemptionsConfig(AppConfig):
    name = "backend.redemptions"
    label = "redemptions"
