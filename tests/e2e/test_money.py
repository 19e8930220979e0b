"""Every amount is a ``Money`` scalar (issue 10, item 7): 64-bit safe integers in minor units,
past GraphQL's 32-bit Int, and anything else refused with a clear message."""

from __future__ import annotations

import uuid

import pytest

from backend.api.scalars import MONEY_MAX
from tests.factories import MerchantFactory, make_api_key, pos_setup

pytestmark = pytest.mark.django_db

BEYOND_INT32 = 5_000_000_000  # about USD 200k in VND minor units


def campaign_input(**overrides):
    return {
        "name": "Big spender",
        "benefitKind": "AMOUNT_OFF",
        "amountOff": BEYOND_INT32,
        "currency": "VND",
        "validDaysAfterIssue": 30,
        "feePerRedemption": 120,
        "publisherShareBps": 5000,
        "budgetCap": 4 * BEYOND_INT32,
        "minSpend": 2 * BEYOND_INT32,
        **overrides,
    }


def test_amounts_beyond_32_bits_go_in_and_come_back_exact(api, operation):
    key = make_api_key(MerchantFactory(), "brand")
    payload = api.execute(operation("campaigns_create"), {"input": campaign_input()}, key=key).ok()
    campaign = payload["campaignCreate"]["campaign"]
    assert payload["campaignCreate"]["errors"] == []
    assert (campaign["amountOff"], campaign["minSpend"]) == (BEYOND_INT32, 2 * BEYOND_INT32)


def test_a_till_order_beyond_32_bits_is_an_amount(api, operation):
    setup = pos_setup()
    variables = {
        "code": setup.coupons[0].code,
        "orderAmount": BEYOND_INT32,
        "currency": setup.campaign.currency,
    }
    check = api.execute(operation("pos_check_coupon"), variables, terminal=setup.signing).ok()["checkCoupon"]
    assert check["check"]["orderAmount"] == BEYOND_INT32
    assert check["check"]["payAmount"] == BEYOND_INT32 - check["check"]["discountAmount"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "integer"),
        ("100", "integer"),
        (True, "boolean"),
        (MONEY_MAX + 1, "between"),
        (-MONEY_MAX - 1, "between"),
        (10**30, "between"),
    ],
)
def test_money_variables_refuse_anything_but_a_safe_integer(api, operation, value, message):
    setup = pos_setup()
    variables = {"code": "X", "orderAmount": value, "currency": "CNY", "idempotencyKey": uuid.uuid4().hex}
    r = api.execute(operation("pos_redeem_coupon"), variables, terminal=setup.signing)
    assert r.error_codes == ["GRAPHQL_VALIDATION_FAILED"], r.body
    assert message in r.errors[0]["message"]
    assert r.data is None


@pytest.mark.parametrize(
    ("literal", "message"), [("1.5", "integer"), ('"7"', "integer"), (str(2**53), "between")]
)
def test_money_literals_are_checked_by_validation(api, literal, message):
    key = make_api_key(MerchantFactory(), "brand")
    query = f'mutation {{ campaignCreate(input: {{name: "x", benefitKind: AMOUNT_OFF, currency: "CNY", amountOff: {literal}, validDaysAfterIssue: 1}}) {{ errors {{ code }} }} }}'
    r = api.execute(query, key=key)
    assert r.error_codes == ["GRAPHQL_VALIDATION_FAILED"], r.body
    assert message in r.errors[0]["message"]
