"""Pure rules of the write-off: the discount and the validity window (no database)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from backend.campaigns.models import Campaign
from backend.coupons.models import Coupon
from backend.redemptions.rules import compute_discount, validity_window

orders = st.integers(min_value=1, max_value=10**12)


@given(order=orders, amount_off=st.integers(min_value=1, max_value=10**9))
def test_amount_off_never_exceeds_the_order(order, amount_off):
    campaign = Campaign(benefit_kind="amount_off", amount_off=amount_off)
    assert compute_discount(campaign, order) == min(order, amount_off)


@given(
    order=orders,
    bps=st.integers(min_value=1, max_value=10_000),
    cap=st.none() | st.integers(min_value=1, max_value=10**9),
)
def test_percent_off_rounds_down_then_caps(order, bps, cap):
    campaign = Campaign(benefit_kind="percent_off", percent_off_bps=bps, percent_cap=cap)
    discount = compute_discount(campaign, order)
    exact = order * bps / 10_000
    assert 0 <= discount <= order
    if cap is None or cap >= exact:
        assert exact - 1 < discount <= exact  # rounded down, by less than one minor unit
    else:
        assert discount == cap


@given(order=orders, value=st.integers(min_value=1, max_value=10**9))
def test_free_item_is_its_value_up_to_the_order(order, value):
    campaign = Campaign(benefit_kind="free_item", free_item_value=value)
    assert compute_discount(campaign, order) == min(order, value)


def test_documented_rounding_example():
    campaign = Campaign(benefit_kind="percent_off", percent_off_bps=1500)
    assert compute_discount(campaign, 3333) == 499


def test_validity_window_is_the_intersection():
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    campaign = Campaign(valid_from=t0, valid_until=t0 + dt.timedelta(days=30), valid_days_after_issue=10)
    coupon = Coupon(issued_at=t0 + dt.timedelta(days=25), valid_from=t0 + dt.timedelta(days=26))
    window = validity_window(coupon, campaign)
    assert window.starts == t0 + dt.timedelta(days=26)
    assert window.ends == t0 + dt.timedelta(days=30)
    early = Coupon(issued_at=t0)
    assert validity_window(early, campaign).ends == t0 + dt.timedelta(days=10)
    assert validity_window(early, Campaign()).starts is None


@given(
    discount=st.integers(min_value=0, max_value=10**12),
    maximum=st.integers(min_value=0, max_value=10**12),
    fee=st.integers(min_value=0, max_value=10**9),
)
def test_a_reimbursement_is_the_discount_capped_plus_the_fee(discount, maximum, fee):
    from backend.redemptions.rules import compute_reimbursement

    owed = compute_reimbursement(discount=discount, max_reimbursement=maximum, handling_fee=fee)
    assert owed.discount == min(discount, maximum) <= discount
    assert owed.total == owed.discount + fee


@given(
    kind=st.sampled_from(["amount_off", "percent_off", "free_item"]),
    amount=st.integers(min_value=1, max_value=10**9),
    cap=st.none() | st.integers(min_value=1, max_value=10**9),
    bps=st.integers(min_value=1, max_value=10_000),
    order=orders,
)
def test_no_discount_exceeds_the_campaigns_largest_per_coupon(kind, amount, cap, bps, order):
    # the bound the partner's maximum reimbursement is checked against (REIMBURSEMENT_ABOVE_DISCOUNT)
    from backend.campaigns.services import max_discount_per_coupon

    campaign = Campaign(
        benefit_kind=kind,
        amount_off=amount if kind == "amount_off" else None,
        free_item_value=amount if kind == "free_item" else None,
        percent_off_bps=bps if kind == "percent_off" else None,
        percent_cap=cap if kind == "percent_off" else None,
    )
    most = max_discount_per_coupon(campaign)
    assert most is None or compute_discount(campaign, order) <= most
    assert (most is None) == (kind == "percent_off" and cap is None)
