"""`manage.py attribution_report`: a table or CSV with the same figures as the API."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backend.api import ids
from tests.factories import (
    CouponFactory,
    MerchantFactory,
    PlacementFactory,
    StoreFactory,
    active_campaign,
    attribution_dispatch,
    attribution_writeoff,
    make_terminal,
)

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 10, 10, 4, 0, tzinfo=dt.UTC)


@pytest.fixture
def issuer():
    merchant = MerchantFactory(slug="dessert", timezone="Asia/Shanghai")
    campaign = active_campaign(merchant=merchant, name="5 off", amount_off=500, fee_per_redemption=120)
    placement = PlacementFactory(campaign=campaign)
    terminal, _ = make_terminal(StoreFactory(merchant=merchant))
    for order, hours in ((3000, 0), (1000, 30)):
        coupon = CouponFactory(placement=placement, issued_at=AT - dt.timedelta(days=1))
        attribution_dispatch(
            attribution_writeoff(
                coupon=coupon, terminal=terminal, order_amount=order, at=AT + dt.timedelta(hours=hours)
            )
        )
    CouponFactory(placement=placement)
    return merchant, placement


def test_csv_has_the_figures(issuer, tmp_path):
    _, placement = issuer
    target = tmp_path / "report.csv"
    call_command(
        "attribution_report",
        "--merchant",
        "dessert",
        "--by",
        "placement",
        "--csv",
        str(target),
        stderr=io.StringIO(),
    )
    frame = pd.read_csv(target)
    row = frame[frame["key"] == ids.encode("Placement", placement.pk)].iloc[0]
    assert (row["issued"], row["redeemed"], row["gmv"], row["discount"], row["fees"]) == (
        3,
        2,
        4000,
        1000,
        240,
    )
    assert row["cost_per_redemption"] == 620
    total = frame[frame["key"] == "TOTAL"].iloc[0]
    assert total["gmv"] == 4000


def test_table_by_day_with_a_date_filter(issuer):
    out = io.StringIO()
    call_command(
        "attribution_report", "--merchant", "dessert", "--by", "day", "--from", "2026-10-11", stdout=out
    )
    text = out.getvalue()
    assert "2026-10-11" in text and "2026-10-10" not in text  # 04:00 + 30 h UTC = the 11th in Shanghai


def test_bad_arguments_are_refused(issuer):
    with pytest.raises(CommandError, match="No merchant"):
        call_command("attribution_report", "--merchant", "nobody")
    with pytest.raises(CommandError, match="INVALID_PERIOD"):
        call_command(
            "attribution_report", "--merchant", "dessert", "--from", "2026-10-12", "--to", "2026-10-01"
        )
