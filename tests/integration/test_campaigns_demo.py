"""The demo seed: Sweet Spoon's campaign placed in Mochi Fans with coupons, idempotently."""

from __future__ import annotations

import pytest

from backend.audience import demo as audience_demo
from backend.campaigns import demo
from backend.campaigns.models import Campaign, Placement
from backend.coupons import codes
from backend.coupons.models import Coupon
from backend.merchants.demo import seed_demo_network

pytestmark = pytest.mark.django_db


def test_skips_gracefully_without_the_pool():
    seed_demo_network()
    lines = demo.seed()
    assert "skipped" in lines[0]
    assert not Campaign.objects.exists()


def test_seed_is_idempotent_and_names_codes(settings):
    assert "backend.campaigns.demo.seed" in settings.DEMO_SEED_HOOKS
    assert settings.DEMO_SEED_HOOKS.index("backend.audience.demo.seed") < settings.DEMO_SEED_HOOKS.index(
        "backend.campaigns.demo.seed"
    )
    seed_demo_network()
    audience_demo.seed()
    first = demo.seed()
    campaign = Campaign.objects.get(name=demo.CAMPAIGN)
    assert campaign.merchant.slug == "sweet-spoon" and campaign.status == "active"
    placement = Placement.objects.get(campaign=campaign)
    assert placement.status == "accepted" and placement.publisher.slug == "mochi-cartoon"
    issued = Coupon.objects.filter(placement=placement).count()
    assert issued == placement.issued_count == min(demo.QUOTA, audience_demo.DEMO_FANS)
    sample = first[-1].split(": ", 1)[1].split(", ")
    assert len(sample) == 3 and all(codes.is_well_formed(c) for c in sample)
    assert Coupon.objects.filter(code__in=sample, placement=placement).count() == 3

    second = demo.seed()
    assert second == first
    assert Campaign.objects.filter(name=demo.CAMPAIGN).count() == 1
    assert Placement.objects.count() == 1
    assert Coupon.objects.count() == issued
