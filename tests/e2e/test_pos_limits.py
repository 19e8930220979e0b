"""The till's abuse limits over HTTP (issue 10, item 5): only guesses cool a till down, and
checks count like write-offs."""

from __future__ import annotations

import itertools
import uuid

import pytest

from backend.coupons import codes
from tests.factories import pos_setup

pytestmark = pytest.mark.django_db
_amounts = itertools.count()


def redeem(api, operation, setup, code: str) -> dict:
    variables = {"code": code, "orderAmount": 3000, "currency": "CNY", "idempotencyKey": uuid.uuid4().hex}
    return api.execute(operation("pos_redeem_coupon"), variables, terminal=setup.signing).ok()["redeemCoupon"]


def check(api, operation, setup, code: str) -> dict:
    # A distinct amount each time: an identical signed body within the same second is a replay.
    variables = {"code": code, "orderAmount": 3000 + next(_amounts), "currency": "CNY"}
    return api.execute(operation("pos_check_coupon"), variables, terminal=setup.signing).ok()["checkCoupon"]


def error_codes(payload: dict) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def test_ten_already_used_codes_do_not_lock_the_till(api, operation, settings):
    settings.POS_MAX_REJECTIONS = 10
    setup = pos_setup(coupons=2)
    used = setup.coupons[0].code
    assert redeem(api, operation, setup, used)["redemption"]["status"] == "VERIFIED"
    for _ in range(10):
        assert redeem(api, operation, setup, used)["redemption"]["reasonCode"] == "ALREADY_REDEEMED"
    assert redeem(api, operation, setup, setup.coupons[1].code)["redemption"]["status"] == "VERIFIED"


def test_ten_unknown_codes_lock_the_till(api, operation, settings):
    settings.POS_MAX_REJECTIONS = 10
    setup = pos_setup()
    for _ in range(10):
        assert redeem(api, operation, setup, codes.new_code())["redemption"]["reasonCode"] == "UNKNOWN_CODE"
    refused = redeem(api, operation, setup, setup.coupons[0].code)
    assert refused["redemption"] is None
    assert error_codes(refused) == ["TERMINAL_COOLING_DOWN"]


def test_checks_of_unknown_codes_count_as_guesses(api, operation, settings):
    settings.POS_MAX_REJECTIONS = 10
    setup = pos_setup()
    for i in range(10):
        code = codes.new_code() if i % 2 else "NOT-A-CODE!"
        assert check(api, operation, setup, code)["check"]["reasonCode"] in {"UNKNOWN_CODE", "MISTYPED_CODE"}
    assert error_codes(check(api, operation, setup, setup.coupons[0].code)) == ["TERMINAL_COOLING_DOWN"]
    assert error_codes(redeem(api, operation, setup, setup.coupons[0].code)) == ["TERMINAL_COOLING_DOWN"]


def test_checks_count_toward_the_per_minute_limit(api, operation, settings):
    settings.POS_MAX_WRITEOFFS_PER_MINUTE = 3
    setup = pos_setup()
    for _ in range(3):
        assert check(api, operation, setup, setup.coupons[0].code)["check"]["ok"] is True
    assert error_codes(check(api, operation, setup, setup.coupons[0].code)) == ["RATE_LIMITED"]
    assert error_codes(redeem(api, operation, setup, setup.coupons[0].code)) == ["RATE_LIMITED"]
