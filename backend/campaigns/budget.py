"""A campaign's caps, split into slot rows so concurrent write-offs do not queue on one row.

The write-off path (backend.redemptions) takes and gives back units through this module;
activation allocates the slots. See CampaignSlot for the guarantee.
"""

from __future__ import annotations

from django.db import transaction

from .models import Campaign, CampaignSlot

SLOT_COUNT = 16


def _split(total: int | None, parts: int) -> list[int | None]:
    if total is None:
        return [None] * parts
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


@transaction.atomic
def allocate_slots(*, campaign: Campaign) -> list[CampaignSlot]:
    """Create the campaign's slots once (idempotent); allowances sum exactly to the caps."""
    existing = list(CampaignSlot.objects.filter(campaign=campaign).order_by("slot"))
    if existing:
        return existing
    parts = SLOT_COUNT
    if campaign.max_redemptions is not None:
        parts = max(1, min(SLOT_COUNT, campaign.max_redemptions))
    counts = _split(campaign.max_redemptions, parts)
    budgets = _split(campaign.budget_cap, parts)
    return CampaignSlot.objects.bulk_create(
        CampaignSlot(campaign=campaign, slot=i, redemption_allowance=counts[i], budget_allowance=budgets[i])
        for i in range(parts)
    )
