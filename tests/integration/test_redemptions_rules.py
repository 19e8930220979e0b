"""The rules of the write-off, as they live: SQL functions (redemptions migration 0005) that
the one-statement write-off, its general path and checkCoupon all call."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

orders = st.integers(min_value=1, max_value=10**12)
examples = settings(max_examples=40, deadline=None)


def discount(order: int, **campaign) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT redemption_discount(jsonb_populate_record(NULL::campaigns_campaign, %s::jsonb), %s)",
            [json.dumps(campaign), order],
        )
        return cursor.fetchone()[0]


def rejection(
    at: dt.datetime, *, coupon: dict, campaign: dict, merchant: int = 1, order: int = 3000
) -> str | None:
    coupon = {"status": "issued", **coupon}
    campaign = {
        "status": "active",
        "merchant_id": 1,
        "currency": "CNY",
        "min_spend": 0,
        "all_stores": True,
        **campaign,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT redemption_rejection(jsonb_populate_record(NULL::coupons_coupon, %s::jsonb), "
            "jsonb_populate_record(NULL::campaigns_campaign, %s::jsonb), %s, 1, true, false, %s, 'CNY', %s)",
            [json.dumps(coupon, default=str), json.dumps(campaign, default=str), merchant, order, at],
        )
        return cursor.fetchone()[0]


@examples
@given(order=orders, amount_off=st.integers(min_value=1, max_value=10**9))
def test_amount_off_never_exceeds_the_order(order, amount_off):
    assert discount(order, benefit_kind="amount_off", amount_off=amount_off) == min(order, amount_off)


@examples
@given(
    order=orders,
    bps=st.integers(min_value=1, max_value=10_000),
    cap=st.none() | st.integers(min_value=1, max_value=10**9),
)
def test_percent_off_rounds_down_then_caps(order, bps, cap):
    found = discount(order, benefit_kind="percent_off", percent_off_bps=bps, percent_cap=cap)
    exact = order * bps / 10_000
    assert 0 <= found <= order
    if cap is None or cap >= exact:
        assert found == order * bps // 10_000  # rounded down, by less than one minor unit
    else:
        assert found == cap


@examples
@given(order=orders, value=st.integers(min_value=1, max_value=10**9))
def test_free_item_is_its_value_up_to_the_order(order, value):
    assert discount(order, benefit_kind="free_item", free_item_value=value) == min(order, value)


def test_documented_rounding_example():
    assert discount(3333, benefit_kind="percent_off", percent_off_bps=1500) == 499


def test_validity_window_is_the_intersection():
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    campaign = {"valid_from": t0, "valid_until": t0 + dt.timedelta(days=30), "valid_days_after_issue": 10}
    late = {"issued_at": t0 + dt.timedelta(days=25), "valid_from": t0 + dt.timedelta(days=26)}
    assert rejection(
        t0 + dt.timedelta(days=26) - dt.timedelta(microseconds=1), coupon=late, campaign=campaign
    ) == ("NOT_YET_VALID")
    assert rejection(t0 + dt.timedelta(days=26), coupon=late, campaign=campaign) is None
    assert (
        rejection(t0 + dt.timedelta(days=30), coupon=late, campaign=campaign) == "EXPIRED"
    )  # the end is exclusive
    early = {"issued_at": t0}
    assert (
        rejection(t0 + dt.timedelta(days=10) - dt.timedelta(microseconds=1), coupon=early, campaign=campaign)
        is None
    )
    assert rejection(t0 + dt.timedelta(days=10), coupon=early, campaign=campaign) == "EXPIRED"  # 10 x 24 h
    assert rejection(t0 - dt.timedelta(days=999), coupon=early, campaign={}) is None  # no bounds at all


def test_the_order_of_the_rules():
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    used = {"issued_at": t0, "status": "redeemed"}
    # another merchant's coupon says nothing more about itself
    assert rejection(t0, coupon=used, campaign={"status": "paused"}, merchant=2) == "WRONG_MERCHANT"
    assert rejection(t0, coupon=used, campaign={"status": "paused"}) == "ALREADY_REDEEMED"
    assert rejection(t0, coupon={"issued_at": t0}, campaign={"status": "paused"}) == "CAMPAIGN_PAUSED"
    assert rejection(t0, coupon={"issued_at": t0}, campaign={"currency": "USD"}) == "CURRENCY_MISMATCH"
    assert rejection(t0, coupon={"issued_at": t0}, campaign={"min_spend": 3001}) == "BELOW_MIN_SPEND"


def reimbursement(discount_amount: int, maximum: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT redemption_reimbursement(%s, %s)", [discount_amount, maximum])
        return cursor.fetchone()[0]


@examples
@given(
    discount_amount=st.integers(min_value=0, max_value=10**12),
    maximum=st.integers(min_value=0, max_value=10**12),
)
def test_a_reimbursement_is_the_discount_capped(discount_amount, maximum):
    assert reimbursement(discount_amount, maximum) == min(discount_amount, maximum) <= discount_amount


@examples
@given(
    kind=st.sampled_from(["amount_off", "percent_off", "free_item"]),
    amount=st.integers(min_value=1, max_value=10**9),
    cap=st.none() | st.integers(min_value=1, max_value=10**9),
    bps=st.integers(min_value=1, max_value=10_000),
    order=orders,
)
def test_no_discount_exceeds_the_campaigns_largest_per_coupon(kind, amount, cap, bps, order):
    # the bound the partner's maximum reimbursement is checked against (REIMBURSEMENT_ABOVE_DISCOUNT)
    from backend.campaigns.models import Campaign
    from backend.campaigns.services import max_discount_per_coupon

    terms = {
        "benefit_kind": kind,
        "amount_off": amount if kind == "amount_off" else None,
        "free_item_value": amount if kind == "free_item" else None,
        "percent_off_bps": bps if kind == "percent_off" else None,
        "percent_cap": cap if kind == "percent_off" else None,
    }
    most = max_discount_per_coupon(Campaign(**terms))
    assert most is None or discount(order, **terms) <= most
    assert (most is None) == (kind == "percent_off" and cap is None)
