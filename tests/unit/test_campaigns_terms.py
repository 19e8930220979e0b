"""Campaign terms validation: every invalid combination gives a field-level error."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.audience.models import FanPool
from backend.campaigns.currencies import is_iso_4217
from backend.campaigns.services import auto_accepts
from backend.campaigns.terms import DEFAULTS, validate_terms

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def terms(**overrides):
    base = {
        **DEFAULTS,
        "name": "5 off any dessert",
        "benefit_kind": "amount_off",
        "amount_off": 500,
        "currency": "CNY",
        "valid_days_after_issue": 30,
    }
    base.update(overrides)
    return base


def codes_of(values) -> set[tuple[str | None, str]]:
    return {(e.field, e.code) for e in validate_terms(values).errors}


def test_valid_terms_of_each_kind_pass():
    assert codes_of(terms()) == set()
    assert (
        codes_of(terms(benefit_kind="percent_off", amount_off=None, percent_off_bps=1500, percent_cap=2000))
        == set()
    )
    assert (
        codes_of(
            terms(benefit_kind="free_item", amount_off=None, free_item_name="Mochi", free_item_value=900)
        )
        == set()
    )
    window = terms(valid_days_after_issue=None, valid_from=T0, valid_until=T0 + dt.timedelta(days=1))
    assert codes_of(window) == set()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # benefit kinds and their fields
        ({"percent_off_bps": 1000}, ("percent_off_bps", "BENEFIT_FIELD_CONFLICT")),
        ({"percent_cap": 100}, ("percent_cap", "BENEFIT_FIELD_CONFLICT")),
        ({"free_item_name": "Cake"}, ("free_item_name", "BENEFIT_FIELD_CONFLICT")),
        ({"amount_off": None}, ("amount_off", "REQUIRED")),
        ({"amount_off": 0}, ("amount_off", "OUT_OF_RANGE")),
        ({"amount_off": -1}, ("amount_off", "NEGATIVE_AMOUNT")),
        (
            {"benefit_kind": "percent_off", "amount_off": None, "percent_off_bps": 1000},
            ("percent_cap", "REQUIRED"),
        ),
        (
            {"benefit_kind": "percent_off", "amount_off": None, "percent_cap": 100},
            ("percent_off_bps", "REQUIRED"),
        ),
        (
            {"benefit_kind": "percent_off", "amount_off": None, "percent_off_bps": 10001, "percent_cap": 1},
            ("percent_off_bps", "OUT_OF_RANGE"),
        ),
        (
            {"benefit_kind": "percent_off", "amount_off": 500, "percent_off_bps": 10, "percent_cap": 1},
            ("amount_off", "BENEFIT_FIELD_CONFLICT"),
        ),
        (
            {"benefit_kind": "free_item", "amount_off": None, "free_item_value": 900},
            ("free_item_name", "REQUIRED"),
        ),
        (
            {"benefit_kind": "free_item", "amount_off": None, "free_item_name": "Tea"},
            ("free_item_value", "REQUIRED"),
        ),
        ({"benefit_kind": "cashback"}, ("benefit_kind", "INVALID")),
        # money
        ({"min_spend": -5}, ("min_spend", "NEGATIVE_AMOUNT")),
        ({"fee_per_redemption": -1}, ("fee_per_redemption", "NEGATIVE_AMOUNT")),
        ({"budget_cap": -100}, ("budget_cap", "NEGATIVE_AMOUNT")),
        ({"budget_cap": 0}, ("budget_cap", "OUT_OF_RANGE")),
        ({"currency": "XYZ"}, ("currency", "INVALID_CURRENCY")),
        ({"currency": "cny"}, ("currency", "INVALID_CURRENCY")),
        ({"currency": None}, ("currency", "INVALID_CURRENCY")),
        # validity
        ({"valid_days_after_issue": None}, ("valid_until", "VALIDITY_REQUIRED")),
        ({"valid_days_after_issue": None, "valid_from": T0}, ("valid_until", "VALIDITY_REQUIRED")),
        ({"valid_from": T0, "valid_until": T0 - dt.timedelta(seconds=1)}, ("valid_until", "VALIDITY_ORDER")),
        ({"valid_from": T0, "valid_until": T0}, ("valid_until", "VALIDITY_ORDER")),
        ({"valid_until": dt.datetime(2026, 12, 1)}, ("valid_until", "INVALID")),  # noqa: DTZ001
        ({"valid_days_after_issue": 0}, ("valid_days_after_issue", "OUT_OF_RANGE")),
        # shares, limits, windows
        ({"publisher_share_bps": 10001}, ("publisher_share_bps", "OUT_OF_RANGE")),
        ({"publisher_share_bps": -1}, ("publisher_share_bps", "OUT_OF_RANGE")),
        ({"per_fan_limit": 0}, ("per_fan_limit", "OUT_OF_RANGE")),
        ({"coupons_per_fan": 0}, ("coupons_per_fan", "OUT_OF_RANGE")),
        ({"coupons_per_fan": 101}, ("coupons_per_fan", "OUT_OF_RANGE")),
        ({"max_redemptions": 0}, ("max_redemptions", "OUT_OF_RANGE")),
        ({"void_window_seconds": -1}, ("void_window_seconds", "OUT_OF_RANGE")),
        ({"attribution_window_days": 0}, ("attribution_window_days", "OUT_OF_RANGE")),
        ({"per_fan_limit": None}, ("per_fan_limit", "REQUIRED")),
        # words
        ({"name": "  "}, ("name", "REQUIRED")),
        ({"name": "x" * 201}, ("name", "TOO_LONG")),
    ],
)
def test_each_invalid_term_is_reported_on_its_field(overrides, expected):
    assert expected in codes_of(terms(**overrides))


def test_all_errors_are_reported_together():
    found = codes_of(
        terms(amount_off=-1, currency="ZZZ", publisher_share_bps=20000, valid_days_after_issue=None)
    )
    assert {f for f, _ in found} >= {"amount_off", "currency", "publisher_share_bps", "valid_until"}


@given(st.text(min_size=3, max_size=3, alphabet=st.characters(min_codepoint=65, max_codepoint=90)))
def test_currency_is_iso_4217_only(code):
    assert is_iso_4217("CNY") and is_iso_4217("USD") and not is_iso_4217("ABC")
    assert (("currency", "INVALID_CURRENCY") in codes_of(terms(currency=code))) != is_iso_4217(code)


@pytest.mark.parametrize(
    ("min_share", "max_quota", "quota", "share", "accepted"),
    [
        (None, None, 10, 10000, False),  # rule off
        (3000, None, 10**6, 3000, True),
        (3000, None, 10, 2999, False),
        (3000, 500, 500, 5000, True),
        (3000, 500, 501, 5000, False),
    ],
)
def test_auto_accept_rule(min_share, max_quota, quota, share, accepted):
    pool = FanPool(auto_accept_min_share_bps=min_share, auto_accept_max_quota=max_quota)
    assert auto_accepts(pool, quota=quota, share_bps=share) is accepted
