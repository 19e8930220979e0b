"""Demo campaign: Sweet Spoon's "5 off any dessert", placed in Mochi Cartoon's "Mochi Fans" pool.

Run by the demo network (backend.demo.seeding) after the audience demo; the coupons' demo
then issues codes through the placement. Idempotent: a second run finds the campaign and the
placement already there.
"""

from __future__ import annotations

from django.db import transaction

from backend.audience.models import FanPool
from backend.merchants.models import Merchant

from . import services
from .models import Campaign, Placement

ISSUER = "sweet-spoon"
PUBLISHER = "mochi-cartoon"
POOL = "Mochi Fans"
CAMPAIGN = "5 off any dessert"
QUOTA = 1000


def seed() -> list[str]:
    issuer = Merchant.objects.filter(slug=ISSUER).first()
    pool = FanPool.objects.filter(merchant__slug=PUBLISHER, name=POOL).first()
    if issuer is None or pool is None:
        return [f"Demo campaign skipped: no {ISSUER!r} merchant or {POOL!r} pool."]
    with transaction.atomic():
        campaign = Campaign.objects.filter(merchant=issuer, name=CAMPAIGN).first()
        if campaign is None:
            campaign = services.campaign_create(
                merchant=issuer,
                name=CAMPAIGN,
                description="5 yuan off any dessert at Sweet Spoon; the network earns 1.20 per write-off.",
                benefit_kind=Campaign.BenefitKind.AMOUNT_OFF,
                amount_off=500,
                min_spend=1500,
                currency="CNY",
                valid_days_after_issue=30,
                fee_per_redemption=120,
                publisher_share_bps=5000,
                max_redemptions=10_000,
                budget_cap=10_000 * (500 + 120),
            )
        if campaign.status == Campaign.Status.DRAFT:
            campaign = services.campaign_activate(campaign=campaign)
        placement = Placement.objects.filter(campaign=campaign, pool=pool).order_by("-id").first()
        if placement is None and campaign.status == Campaign.Status.ACTIVE:
            placement = services.placement_propose(campaign=campaign, pool=pool, quota=QUOTA)
        if placement is not None and placement.status == Placement.Status.PROPOSED:
            placement = services.placement_accept(placement=placement, merchant=pool.merchant)
    if placement is None or placement.status != Placement.Status.ACCEPTED:
        return [f"Demo campaign {CAMPAIGN!r}: {campaign.status}, no accepted placement."]
    return [f"Demo campaign {CAMPAIGN!r} ({ISSUER}) placed in {POOL!r} ({PUBLISHER})."]


def accepted_placement() -> Placement | None:
    """The demo campaign's accepted placement in the demo pool, once seed() has made it."""
    return (
        Placement.objects.filter(
            campaign__merchant__slug=ISSUER,
            campaign__name=CAMPAIGN,
            pool__merchant__slug=PUBLISHER,
            pool__name=POOL,
            status=Placement.Status.ACCEPTED,
        )
        .order_by("-id")
        .first()
    )
