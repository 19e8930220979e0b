"""The demo network, seeded floor by floor: Sweet Spoon's campaign placed in Mochi Fans with
coupons, idempotently, through the `seed_demo` command."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from backend.audience import demo as audience_demo
from backend.campaigns import demo as campaigns_demo
from backend.campaigns.models import Campaign, Placement
from backend.coupons import codes
from backend.coupons import demo as coupons_demo
from backend.coupons.models import Coupon
from backend.demo import seeding
from backend.merchants.demo import seed_demo_network

pytestmark = pytest.mark.django_db


def test_floors_skip_gracefully_without_what_the_floor_below_seeds():
    seed_demo_network()
    assert "skipped" in campaigns_demo.seed()[0]
    assert "skipped" in coupons_demo.seed()[0]
    assert not Campaign.objects.exists() and not Coupon.objects.exists()


def test_the_floors_run_in_order():
    assert seeding.STEPS == (audience_demo.seed, campaigns_demo.seed, coupons_demo.seed)


def test_seed_demo_is_idempotent_and_names_codes(tmp_path):
    out = tmp_path / "demo-credentials.txt"
    call_command("seed_demo", out=str(out))
    first = out.read_text().splitlines()
    campaign = Campaign.objects.get(name=campaigns_demo.CAMPAIGN)
    assert campaign.merchant.slug == "sweet-spoon" and campaign.status == "active"
    placement = Placement.objects.get(campaign=campaign)
    assert placement.status == "accepted" and placement.publisher.slug == "mochi-cartoon"
    issued = Coupon.objects.filter(placement=placement).count()
    assert issued == placement.issued_count == min(campaigns_demo.QUOTA, audience_demo.DEMO_FANS)
    assert any(line.startswith("Demo API keys") for line in first)
    [codes_line] = [line for line in first if line.strip().startswith("demo coupon codes:")]
    sample = codes_line.split(": ", 1)[1].split(", ")
    assert any("/c/" in line for line in first)  # the fans' hook ran too: a demo claim link
    assert len(sample) == 3 and all(codes.is_well_formed(c) for c in sample)
    assert Coupon.objects.filter(code__in=sample, placement=placement).count() == 3

    call_command("seed_demo", out=str(out))
    assert out.read_text().splitlines() == first
    assert Campaign.objects.filter(name=campaigns_demo.CAMPAIGN).count() == 1
    assert Placement.objects.count() == 1
    assert Coupon.objects.count() == issued


def test_seed_demo_creates_console_members_and_an_operator_idempotently(tmp_path):
    from django.contrib.auth import get_user_model

    from backend.merchants.models import Membership

    out = tmp_path / "demo-credentials.txt"
    call_command("seed_demo", out=str(out))
    first = out.read_text()
    roles = set(Membership.objects.values_list("merchant__slug", "role"))
    assert roles == {(m, r) for m in ("sweet-spoon", "mochi-cartoon") for r in ("admin", "brand", "finance")}
    line = next(line for line in first.splitlines() if "brand@sweet-spoon.example" in line)
    password = line.split()[-1]
    user = get_user_model().objects.get(email="brand@sweet-spoon.example")
    assert user.check_password(password) and user.emailaddress_set.get().verified
    operator = get_user_model().objects.get(username="operator")
    assert operator.is_superuser and "Operator (/admin/)" in first

    call_command("seed_demo", out=str(out))
    assert out.read_text() == first
    assert Membership.objects.count() == 6
