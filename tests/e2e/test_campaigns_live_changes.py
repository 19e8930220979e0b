"""Live changes of an active or paused campaign over the API: caps, validity, daily caps,
history with the actor; and the daily cap at the till."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backend.api import ids
from backend.campaigns.models import Campaign, CampaignSlot
from backend.coupons.models import Coupon
from backend.redemptions.services import void_redemption
from tests.factories import MerchantFactory, clear_of_midnight, make_api_key, pos_setup, redeem
from tests.factories.campaigns import CampaignFactory

pytestmark = pytest.mark.django_db


def change(api, operation, key, campaign, **fields):
    variables = {"id": ids.encode("Campaign", campaign.pk), "input": fields}
    return api.execute(operation("campaigns_live_change"), variables, key=key).ok()["campaignLiveChange"]


def codes_of(payload):
    return [(e["field"], e["code"]) for e in payload["errors"]]


def slots(campaign):
    rows = CampaignSlot.objects.filter(campaign=campaign)
    return (
        sum(s.redemption_allowance for s in rows),
        sum(s.budget_allowance for s in rows),
        sum(s.redeemed_count for s in rows),
    )


def test_raise_and_lower_caps_never_below_use_and_the_history(api, operation):
    setup = pos_setup(coupons=3, max_redemptions=3, budget_cap=1860)  # 3 x (500 + 120)
    key = make_api_key(setup.merchant)
    redeem(setup)
    redeem(setup, setup.coupons[1].code)

    below = change(api, operation, key, setup.campaign, maxRedemptions=1, budgetCap=1000)
    assert codes_of(below) == [("maxRedemptions", "BELOW_USED"), ("budgetCap", "BELOW_USED")]

    raised = change(api, operation, key, setup.campaign, maxRedemptions=10, budgetCap=10_000)
    assert raised["errors"] == [] and raised["campaign"]["maxRedemptions"] == 10
    assert slots(setup.campaign) == (10, 10_000, 2)

    lowered = change(api, operation, key, setup.campaign, maxRedemptions=2)  # exactly what is used
    assert lowered["errors"] == []
    assert redeem(setup, setup.coupons[2].code).reason_code == "BUDGET_EXHAUSTED"
    assert slots(setup.campaign) == (2, 10_000, 2)

    history = api.execute(
        operation("campaigns_history"), {"id": ids.encode("Campaign", setup.campaign.pk)}, key=key
    ).ok()["campaign"]["history"]
    assert [(h["field"], h["oldValue"], h["newValue"]) for h in history] == [
        ("budgetCap", "1860", "10000"),
        ("maxRedemptions", "3", "10"),
        ("maxRedemptions", "10", "2"),
    ]
    assert {h["actor"] for h in history} == {"test admin"}
    assert history[0]["actorApiKeyId"] is not None


def test_extend_validity_reaches_the_coupons_and_only_extends(api, operation):
    end = timezone.now() + dt.timedelta(hours=1)
    setup = pos_setup(coupons=0, valid_until=end)
    coupon = setup.coupon(valid_until=end)
    expired = setup.coupon(valid_until=end, status=Coupon.Status.EXPIRED)
    key = make_api_key(setup.merchant)
    assert codes_of(
        change(api, operation, key, setup.campaign, validUntil=(end - dt.timedelta(minutes=5)).isoformat())
    ) == [("validUntil", "VALIDITY_NOT_EXTENDED")]
    later = end + dt.timedelta(days=30)
    assert change(api, operation, key, setup.campaign, validUntil=later.isoformat())["errors"] == []
    coupon.refresh_from_db()
    expired.refresh_from_db()
    assert coupon.valid_until == later and (expired.status, expired.valid_until) == ("issued", later)
    # usable at the till after the old end
    assert redeem(setup, coupon.code, now=end + dt.timedelta(days=1)).status == "verified"


def test_only_live_campaigns_and_only_the_issuer(api, operation):
    setup = pos_setup(coupons=0)
    key = make_api_key(setup.merchant)
    draft = CampaignFactory(merchant=setup.merchant)
    assert codes_of(change(api, operation, key, draft, budgetCap=5000)) == [("id", "NOT_LIVE")]
    other = make_api_key(MerchantFactory())
    assert codes_of(change(api, operation, other, setup.campaign, budgetCap=5000)) == [("id", "NOT_FOUND")]
    assert make_api_key(setup.merchant, "finance") and api.execute(
        operation("campaigns_live_change"),
        {"id": ids.encode("Campaign", setup.campaign.pk), "input": {"budgetCap": 1}},
        key=make_api_key(setup.merchant, "finance"),
    ).error_codes == ["FORBIDDEN"]
    assert codes_of(change(api, operation, key, setup.campaign, dailyRedemptionCap=0)) == [
        ("dailyRedemptionCap", "OUT_OF_RANGE")
    ]


def test_a_daily_cap_counts_today_resets_tomorrow_and_gives_back_on_void(api, operation):
    setup = pos_setup(coupons=6)
    clear_of_midnight(setup)  # "today" is one local day throughout
    key = make_api_key(setup.merchant)
    first = redeem(setup)  # before the cap: counted when the cap is set
    assert change(api, operation, key, setup.campaign, dailyRedemptionCap=2)["errors"] == []
    assert redeem(setup, setup.coupons[1].code).status == "verified"
    third = redeem(setup, setup.coupons[2].code)
    assert (third.status, third.reason_code) == ("rejected", "DAILY_CAP_REACHED")
    void_redemption(terminal=setup.terminal, redemption_id=first.pk)
    assert redeem(setup, setup.coupons[3].code).status == "verified"
    tomorrow = timezone.now() + dt.timedelta(days=1)
    assert redeem(setup, setup.coupons[4].code, now=tomorrow).status == "verified"
    # removing the cap lifts it
    assert change(api, operation, key, setup.campaign, dailyRedemptionCap=None)["errors"] == []
    assert Campaign.objects.get(pk=setup.campaign.pk).daily_redemption_cap is None
    assert redeem(setup, setup.coupons[5].code).status == "verified"


def test_a_daily_spend_cap_holds_to_the_cent(api, operation):
    setup = pos_setup(coupons=4)  # each write-off costs 500 + 120
    clear_of_midnight(setup)  # "today" is one local day throughout
    key = make_api_key(setup.merchant)
    assert change(api, operation, key, setup.campaign, dailySpendCap=1239)["errors"] == []
    assert redeem(setup).status == "verified"
    assert redeem(setup, setup.coupons[1].code).reason_code == "DAILY_CAP_REACHED"  # 1240 > 1239
    assert change(api, operation, key, setup.campaign, dailySpendCap=1240)["errors"] == []
    assert redeem(setup, setup.coupons[2].code).status == "verified"
