"""``campaign.budget_threshold``: after a write-off, tell the issuer once when its campaign
has used 80 % and once when it has used 100 % of its budget or its max redemptions.

An outbox handler of ``redemption.verified``; a unique row per (campaign, metric, percent)
makes each crossing announced once, whatever the concurrency or a void that dips below it.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Sum

from backend.api import ids
from backend.outbox import registry
from backend.webhooks.events import event_type
from backend.webhooks.services import announce_now

from .models import Campaign, CampaignSlot

CAMPAIGN_BUDGET_THRESHOLD = event_type(
    "campaign.budget_threshold",
    "A campaign used 80 % or 100 % of its budget or max redemptions (once each).",
    build=None,  # announced by the handler below, not through an outbox event of its own
)

PERCENTS = (80, 100)


def crossed(used: int, cap: int | None) -> list[int]:
    if not cap:
        return []
    return [p for p in PERCENTS if used * 100 >= cap * p]


@registry.register(registry.REDEMPTION_VERIFIED, name="webhooks.budget_threshold")
def check_thresholds(event) -> None:
    with connection.cursor() as cursor:  # the redemptions app sits above this one: no import
        cursor.execute(
            "SELECT campaign_id FROM redemptions_redemption WHERE id = %s", [event.payload["redemption_id"]]
        )
        row = cursor.fetchone()
    campaign_id = row[0] if row else None
    campaign = Campaign.objects.filter(pk=campaign_id).first() if campaign_id else None
    if campaign is None or (campaign.budget_cap is None and campaign.max_redemptions is None):
        return
    usage = CampaignSlot.objects.filter(campaign=campaign).aggregate(
        count=Sum("redeemed_count"), spent=Sum("spent_amount")
    )
    measures = {
        "budget": (usage["spent"] or 0, campaign.budget_cap),
        "redemptions": (usage["count"] or 0, campaign.max_redemptions),
    }
    for metric, (used, cap) in measures.items():
        for percent in crossed(used, cap):
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO webhooks_campaignthresholdcrossing (campaign_id, metric, percent, crossed_at) "
                    "VALUES (%s, %s, %s, now()) ON CONFLICT DO NOTHING",
                    [campaign.pk, metric, percent],
                )
                if cursor.rowcount != 1:
                    continue
            announce_now(
                merchant_id=campaign.merchant_id,
                event_type=CAMPAIGN_BUDGET_THRESHOLD.name,
                data={
                    "campaign": {"id": ids.encode("Campaign", campaign.pk), "name": campaign.name},
                    "metric": metric,
                    "percent": percent,
                    "used": used,
                    "cap": cap,
                    "currency": campaign.currency if metric == "budget" else None,
                },
                ordering_key=f"campaign-threshold:{campaign.pk}",
                source_event_id=None,
            )
