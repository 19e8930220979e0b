"""Factories for campaigns, placements and coupons."""

from __future__ import annotations

import factory
from django.utils import timezone

from backend.campaigns.budget import allocate_slots
from backend.campaigns.models import Campaign, CampaignPartner, Placement
from backend.coupons import codes
from backend.coupons.models import Coupon
from tests.factories.audience import FanFactory, FanPoolFactory
from tests.factories.merchants import MerchantFactory

__all__ = [
    "CampaignFactory",
    "PlacementFactory",
    "CouponFactory",
    "CampaignPartnerFactory",
    "active_campaign",
]


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")
    status = Campaign.Status.DRAFT
    benefit_kind = Campaign.BenefitKind.AMOUNT_OFF
    amount_off = 500
    currency = "CNY"
    fee_per_redemption = 120
    publisher_share_bps = 5000


def active_campaign(**kwargs) -> Campaign:
    """An active campaign with its budget slots allocated, as activation leaves it."""
    campaign = CampaignFactory(status=Campaign.Status.ACTIVE, activated_at=timezone.now(), **kwargs)
    allocate_slots(campaign=campaign)
    return campaign


class PlacementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Placement

    campaign = factory.SubFactory(CampaignFactory)
    issuer = factory.SelfAttribute("campaign.merchant")
    pool = factory.SubFactory(FanPoolFactory)
    publisher = factory.SelfAttribute("pool.merchant")
    status = Placement.Status.ACCEPTED
    quota = 1000
    publisher_share_bps = factory.SelfAttribute("campaign.publisher_share_bps")
    decided_at = factory.LazyFunction(timezone.now)


class CouponFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coupon

    code = factory.LazyFunction(codes.new_code)
    placement = factory.SubFactory(PlacementFactory)
    campaign = factory.SelfAttribute("placement.campaign")
    fan = factory.SubFactory(FanFactory)
    issued_at = factory.LazyFunction(timezone.now)


class CampaignPartnerFactory(factory.django.DjangoModelFactory):
    """An accepted partnership for all the partner's stores (pass ``status`` / ``all_stores``)."""

    class Meta:
        model = CampaignPartner

    campaign = factory.SubFactory(CampaignFactory)
    issuer = factory.SelfAttribute("campaign.merchant")
    partner = factory.SubFactory(MerchantFactory)
    status = CampaignPartner.Status.ACCEPTED
    all_stores = True
    max_reimbursement = 500
    handling_fee = 30
    decided_at = factory.LazyFunction(timezone.now)
