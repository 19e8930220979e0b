from django.apps import AppConfig


class TeamConfig(AppConfig):
    name = "backend.team"
    label = "team"
