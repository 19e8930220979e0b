"""Money in the console follows the currency's ISO 4217 exponent: shown and typed in JPY (0
decimals), CNY (2) and KWD (3); more decimals than the currency has is a form error."""

from __future__ import annotations

import re

import pytest

from backend.api.currencies import exponent, format_minor
from backend.campaigns.models import Campaign
from backend.console.templatetags.console import money
from tests.factories import MerchantFactory, active_campaign, make_member

pytestmark = pytest.mark.django_db


def member(client, currency: str):
    brand = make_member(MerchantFactory(name="Shop", default_currency=currency), "brand")
    client.force_login(brand.user)
    return brand


def create(client, **terms):
    data = {
        "name": "Offer",
        "benefit_kind": "AMOUNT_OFF",
        "publisher_share_bps": "50",
        "valid_days_after_issue": "30",
    }
    data.update(terms)
    return client.post("/console/campaigns/new/", data)


def test_exponents_and_display():
    assert [exponent(c) for c in ("JPY", "CNY", "USD", "KWD", "jpy", None)] == [0, 2, 2, 3, 0, 2]
    assert money(500, "JPY") == "¥500" and money(123456, "JPY") == "¥123,456"
    assert money(500, "CNY") == "¥5.00" and money(-5, "USD") == "-$0.05"
    assert format_minor(1500, "KWD") == "1.500"


def test_jpy_amounts_are_typed_and_stored_whole(client):
    brand = member(client, "JPY")
    response = create(client, amount_off="500", fee_per_redemption="30", min_spend="3000")
    assert response.status_code == 302, re.findall(r'data-code="([A-Z_]+)"', response.content.decode())
    campaign = Campaign.objects.get(merchant=brand.merchant)
    assert campaign.currency == "JPY"
    assert (campaign.amount_off, campaign.fee_per_redemption, campaign.min_spend) == (500, 30, 3000)


def test_jpy_amount_with_decimals_is_a_form_error_and_writes_nothing(client):
    brand = member(client, "JPY")
    response = create(client, amount_off="5.5", fee_per_redemption="30")
    assert response.status_code == 400
    html = response.content.decode()
    assert re.findall(r'data-code="([A-Z_]+)"', html) == ["TOO_MANY_DECIMALS"]
    assert "JPY amounts have no decimal places." in html
    assert not Campaign.objects.filter(merchant=brand.merchant).exists()


def test_two_decimal_currency_takes_cents_and_refuses_a_third_decimal(client):
    brand = member(client, "CNY")
    assert create(client, amount_off="1.005", fee_per_redemption="1").status_code == 400
    assert create(client, amount_off="5.5", fee_per_redemption="1.20").status_code == 302
    campaign = Campaign.objects.get(merchant=brand.merchant)
    assert (campaign.amount_off, campaign.fee_per_redemption) == (550, 120)


def test_currency_typed_on_the_form_wins_over_the_merchants_default(client):
    brand = member(client, "CNY")
    response = create(client, currency="JPY", amount_off="1.50", fee_per_redemption="10")
    assert response.status_code == 400 and "TOO_MANY_DECIMALS" in response.content.decode()
    assert create(client, currency="KWD", amount_off="1.250", fee_per_redemption="0.100").status_code == 302
    campaign = Campaign.objects.get(merchant=brand.merchant)
    assert (campaign.currency, campaign.amount_off, campaign.fee_per_redemption) == ("KWD", 1250, 100)


def test_campaign_list_shows_jpy_without_decimals(client):
    brand = member(client, "JPY")
    active_campaign(
        merchant=brand.merchant, name="Yen off", currency="JPY", fee_per_redemption=30, budget_cap=50_000
    )
    html = client.get("/console/campaigns/").content.decode()
    assert "¥30<" in html and "¥50,000<" in html and "¥0.30" not in html
