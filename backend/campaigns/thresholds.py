"""``campaign.budget_threshold``: after a write-off, tell the issuer once when its campaign
has used 80 % and once when it has used 100 % of its budget or its max redemptions.

An outbox handler of ``redemption.verified``; a unique row per (campaign, metric, percent)
makes each crossing announced once, whatever the concurrency or a void that dips below it.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Q, Sum

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


def _campaigns_of(redemption_ids: list[int]) -> list[Campaign]:
    """The capped campaigns of these write-offs (the redemptions app sits above this one:
    read its table, import nothing)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT campaign_id FROM redemptions_redemption "
            "WHERE id = ANY(%s) AND campaign_id IS NOT NULL",
            [redemption_ids],
        )
        campaign_ids = [row[0] for row in cursor.fetchall()]
    if not campaign_ids:
        return []
    return list(
        Campaign.objects.filter(pk__in=campaign_ids)
        .filter(Q(budget_cap__isnull=False) | Q(max_redemptions__isnull=False))
        .order_by("pk")
    )


def check_thresholds_batch(events) -> None:
    """The batch form: each campaign of the batch is measured once, whatever its write-offs."""
    for campaign in _campaigns_of([int(e.payload["redemption_id"]) for e in events]):
        _check_campaign(campaign)


@registry.register(
    registry.REDEMPTION_VERIFIED, name="webhooks.budget_threshold", batch=check_thresholds_batch
)
def check_thresholds(event) -> None:
    for campaign in _campaigns_of([int(event.payload["redemption_id"])]):
        _check_campaign(campaign)


def _check_campaign(campaign: Campaign) -> None:
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
