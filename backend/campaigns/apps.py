from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "backend.campaigns"
    label = "campaigns"

    def ready(self) -> None:
        from . import thresholds  # noqa: F401  (campaign.budget_threshold: an outbox handler)
