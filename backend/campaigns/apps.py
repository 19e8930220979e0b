from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "backend.campaigns"
    label = "campaigns"
