"""A campaign's terms and the rules that make them coherent (pure logic, no database).

Every rule reports a field-level error; all errors of one input are reported together.
Field names are the model's (snake_case); the API layer shows them camelCased.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from backend.api.errors import CommonErrorCode, ErrorCollector

from .currencies import is_iso_4217
from .errors import CampaignErrorCode
from .models import Campaign

NAME_MAX = 200
DESCRIPTION_MAX = 2000
FREE_ITEM_NAME_MAX = 200
MAX_PER_FAN_LIMIT = 1000
MAX_COUPONS_PER_FAN = 100
MAX_VALID_DAYS = 3650
MAX_VOID_WINDOW_SECONDS = 30 * 24 * 3600
MAX_ATTRIBUTION_WINDOW_DAYS = 365
MAX_AMOUNT = 10**15  # minor units; far above any real offer, far below bigint

# The benefit fields each kind uses; any other benefit field given is a conflict.
BENEFIT_FIELDS = {
    Campaign.BenefitKind.AMOUNT_OFF: ("amount_off",),
    Campaign.BenefitKind.PERCENT_OFF: ("percent_off_bps", "percent_cap"),
    Campaign.BenefitKind.FREE_ITEM: ("free_item_name", "free_item_value"),
}
ALL_BENEFIT_FIELDS = tuple(f for fields in BENEFIT_FIELDS.values() for f in fields)

# Terms a campaign takes when the caller does not say.
DEFAULTS: dict[str, Any] = {
    "description": "",
    "amount_off": None,
    "percent_off_bps": None,
    "percent_cap": None,
    "free_item_name": "",
    "free_item_value": None,
    "min_spend": 0,
    "valid_from": None,
    "valid_until": None,
    "valid_days_after_issue": None,
    "per_fan_limit": 1,
    "coupons_per_fan": 1,
    "max_redemptions": None,
    "budget_cap": None,
    "fee_per_redemption": 0,
    "publisher_share_bps": 0,
    "void_window_seconds": 900,
    "attribution_window_days": 30,
    "voided_coupon_returns": False,
    "allow_gifting": True,
}
REQUIRED_NUMBERS = (
    "per_fan_limit",
    "coupons_per_fan",
    "fee_per_redemption",
    "publisher_share_bps",
    "void_window_seconds",
    "attribution_window_days",
)
TERM_FIELDS = ("name", "benefit_kind", "currency", *DEFAULTS.keys())
# What may change once a campaign has left draft: words, never money, benefit or validity.
EDITABLE_AFTER_DRAFT = frozenset({"name", "description"})


def _is_set(value: Any) -> bool:
    return value is not None and value != ""


def _money(errors: ErrorCollector, field: str, value: int | None, *, positive: bool, required: bool) -> None:
    if value is None:
        if required:
            errors.add(field, CommonErrorCode.REQUIRED, "This field is required.")
        return
    if value < 0:
        errors.add(field, CampaignErrorCode.NEGATIVE_AMOUNT, "Amounts are never negative.")
    elif positive and value == 0:
        errors.add(field, CommonErrorCode.OUT_OF_RANGE, "Must be greater than zero.")
    elif value > MAX_AMOUNT:
        errors.add(field, CommonErrorCode.OUT_OF_RANGE, f"At most {MAX_AMOUNT} minor units.")


def _in_range(errors: ErrorCollector, field: str, value: int | None, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        errors.add(field, CommonErrorCode.OUT_OF_RANGE, f"Must be between {low} and {high}.")


def _aware(errors: ErrorCollector, field: str, value: dt.datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        errors.add(
            field, CommonErrorCode.INVALID, "Give a time zone offset (e.g. 2026-12-01T00:00:00+08:00)."
        )


def validate_terms(terms: dict[str, Any]) -> ErrorCollector:
    """Check a complete set of terms (``TERM_FIELDS``); returns the collected errors."""
    errors = ErrorCollector()
    errors.require_text("name", terms.get("name"), max_length=NAME_MAX)
    if len(terms.get("description") or "") > DESCRIPTION_MAX:
        errors.add("description", CommonErrorCode.TOO_LONG, f"At most {DESCRIPTION_MAX} characters.")

    kind = terms.get("benefit_kind")
    if kind not in Campaign.BenefitKind.values:
        errors.add("benefit_kind", CommonErrorCode.INVALID, "Unknown benefit kind.")
    else:
        own = BENEFIT_FIELDS[Campaign.BenefitKind(kind)]
        for field in ALL_BENEFIT_FIELDS:
            if field not in own and _is_set(terms.get(field)):
                errors.add(field, CampaignErrorCode.BENEFIT_FIELD_CONFLICT, f"Not used by a {kind} benefit.")
        if kind == Campaign.BenefitKind.AMOUNT_OFF:
            _money(errors, "amount_off", terms.get("amount_off"), positive=True, required=True)
        elif kind == Campaign.BenefitKind.PERCENT_OFF:
            if terms.get("percent_off_bps") is None:
                errors.add("percent_off_bps", CommonErrorCode.REQUIRED, "This field is required.")
            _in_range(errors, "percent_off_bps", terms.get("percent_off_bps"), 1, 10000)
            _money(errors, "percent_cap", terms.get("percent_cap"), positive=True, required=True)
        else:
            name = terms.get("free_item_name")
            if not name or not name.strip():
                errors.add("free_item_name", CommonErrorCode.REQUIRED, "Name the free item.")
            elif len(name) > FREE_ITEM_NAME_MAX:
                errors.add(
                    "free_item_name", CommonErrorCode.TOO_LONG, f"At most {FREE_ITEM_NAME_MAX} characters."
                )
            _money(errors, "free_item_value", terms.get("free_item_value"), positive=True, required=True)

    _money(errors, "min_spend", terms.get("min_spend"), positive=False, required=True)
    if not is_iso_4217(terms.get("currency")):
        errors.add("currency", CampaignErrorCode.INVALID_CURRENCY, "Not an ISO 4217 currency code.")

    valid_from, valid_until = terms.get("valid_from"), terms.get("valid_until")
    days = terms.get("valid_days_after_issue")
    _aware(errors, "valid_from", valid_from)
    _aware(errors, "valid_until", valid_until)
    if valid_until is None and days is None:
        errors.add(
            "valid_until",
            CampaignErrorCode.VALIDITY_REQUIRED,
            "Give a window end (validUntil) or a number of days after issue.",
        )
    aware = all(v is None or v.utcoffset() is not None for v in (valid_from, valid_until))
    if valid_from is not None and valid_until is not None and aware and valid_until <= valid_from:
        errors.add("valid_until", CampaignErrorCode.VALIDITY_ORDER, "Must be after validFrom.")
    _in_range(errors, "valid_days_after_issue", days, 1, MAX_VALID_DAYS)

    _in_range(errors, "per_fan_limit", terms.get("per_fan_limit"), 1, MAX_PER_FAN_LIMIT)
    _in_range(errors, "coupons_per_fan", terms.get("coupons_per_fan"), 1, MAX_COUPONS_PER_FAN)
    for field in REQUIRED_NUMBERS:
        if terms.get(field) is None:
            errors.add(field, CommonErrorCode.REQUIRED, "This field is required.")
    _in_range(errors, "max_redemptions", terms.get("max_redemptions"), 1, 2**31 - 1)
    _money(errors, "budget_cap", terms.get("budget_cap"), positive=True, required=False)
    _money(errors, "fee_per_redemption", terms.get("fee_per_redemption"), positive=False, required=False)
    _in_range(errors, "publisher_share_bps", terms.get("publisher_share_bps"), 0, 10000)
    _in_range(errors, "void_window_seconds", terms.get("void_window_seconds"), 0, MAX_VOID_WINDOW_SECONDS)
    _in_range(
        errors,
        "attribution_window_days",
        terms.get("attribution_window_days"),
        1,
        MAX_ATTRIBUTION_WINDOW_DAYS,
    )
    return errors


def terms_of(campaign: Campaign) -> dict[str, Any]:
    return {field: getattr(campaign, field) for field in TERM_FIELDS}
