"""Demo campaign: Sweet Spoon's "5 off any dessert", placed in Mochi Cartoon's "Mochi Fans" pool.

Run by `manage.py seed_demo` after the audience demo (settings.DEMO_SEED_HOOKS). Idempotent:
a second run finds the campaign, the placement and the coupons already there.
"""

from __future__ import annotations

from django.db import transaction

from backend.audience.models import FanPool
from backend.coupons import issuance
from backend.coupons.models import Coupon, IssuanceJob
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
        job = None
        if not IssuanceJob.objects.filter(placement=placement, status=IssuanceJob.Status.SUCCEEDED).exists():
            job = IssuanceJob.objects.create(placement=placement, requested_by=pool.merchant)
    if job is not None:
        issuance.run_job_inline(job_id=job.pk)  # synchronously, so the demo needs no worker
    placement.refresh_from_db()
    sample = list(
        Coupon.objects.filter(placement=placement).order_by("id").values_list("code", flat=True)[:3]
    )
    return [
        f"Demo campaign {CAMPAIGN!r} ({ISSUER}) placed in {POOL!r} ({PUBLISHER}): "
        f"{placement.issued_count} coupons issued.",
        f"  demo coupon codes: {', '.join(sample) or '(none)'}",
    ]
