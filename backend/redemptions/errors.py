"""Reason codes of the write-off path: stable strings a cashier's screen can show.

``RedemptionReason`` codes are outcomes of a write-off attempt; the attempt is recorded as
a rejected Redemption row and replayed for a repeated idempotency key. ``RedemptionErrorCode``
codes refuse the request itself (abuse limits, a reused key, a void that cannot happen):
nothing is recorded, and the same request may be sent again later.
"""

from enum import StrEnum

from django.utils.translation import gettext_lazy as _


class RedemptionReason(StrEnum):
    UNKNOWN_CODE = "UNKNOWN_CODE"
    MISTYPED_CODE = "MISTYPED_CODE"
    ALREADY_REDEEMED = "ALREADY_REDEEMED"
    COUPON_REVOKED = "COUPON_REVOKED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    WRONG_MERCHANT = "WRONG_MERCHANT"
    STORE_NOT_ACCEPTED = "STORE_NOT_ACCEPTED"
    STORE_INACTIVE = "STORE_INACTIVE"
    BELOW_MIN_SPEND = "BELOW_MIN_SPEND"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    BUDGET_EXHAUSTED = "BUDGET_EXHAUSTED"
    FAN_LIMIT_REACHED = "FAN_LIMIT_REACHED"
    CAMPAIGN_PAUSED = "CAMPAIGN_PAUSED"
    CAMPAIGN_ENDED = "CAMPAIGN_ENDED"
    CAMPAIGN_NOT_ACTIVE = "CAMPAIGN_NOT_ACTIVE"


REASON_MESSAGES: dict[str, str] = {  # lazy: rendered in the caller's language
    RedemptionReason.UNKNOWN_CODE: _("No coupon has this code."),
    RedemptionReason.MISTYPED_CODE: _("This code is mistyped: please check it and scan or type it again."),
    RedemptionReason.ALREADY_REDEEMED: _("This coupon has already been used."),
    RedemptionReason.COUPON_REVOKED: _("This coupon has been withdrawn."),
    RedemptionReason.EXPIRED: _("This coupon has expired."),
    RedemptionReason.NOT_YET_VALID: _("This coupon is not valid yet."),
    RedemptionReason.WRONG_MERCHANT: _("This coupon is for another merchant."),
    RedemptionReason.STORE_NOT_ACCEPTED: _("This coupon is not accepted at this store."),
    RedemptionReason.STORE_INACTIVE: _("This store is not active."),
    RedemptionReason.BELOW_MIN_SPEND: _("The order is below the coupon's minimum spend."),
    RedemptionReason.CURRENCY_MISMATCH: _("The order's currency is not the coupon's currency."),
    RedemptionReason.BUDGET_EXHAUSTED: _("This offer has run out."),
    RedemptionReason.FAN_LIMIT_REACHED: _("This customer has already used this offer as often as allowed."),
    RedemptionReason.CAMPAIGN_PAUSED: _("This offer is paused."),
    RedemptionReason.CAMPAIGN_ENDED: _("This offer has ended."),
    RedemptionReason.CAMPAIGN_NOT_ACTIVE: _("This offer is not active."),
}
ACCEPTED_MESSAGE = _("Coupon accepted.")
CAN_BE_USED_MESSAGE = _("Coupon can be used.")


def reason_message(reason: str | None, *, verified: bool = False) -> str:
    """The cashier's line for an outcome, in the active language (the caller's Accept-Language)."""
    if verified or not reason:
        return str(ACCEPTED_MESSAGE)
    message = REASON_MESSAGES.get(reason)
    return str(message) if message is not None else reason


class RedemptionErrorCode(StrEnum):
    RATE_LIMITED = "RATE_LIMITED"
    TERMINAL_COOLING_DOWN = "TERMINAL_COOLING_DOWN"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    INVALID_CURRENCY = "INVALID_CURRENCY"
    ALREADY_VOIDED = "ALREADY_VOIDED"
    VOID_WINDOW_PASSED = "VOID_WINDOW_PASSED"
    NOT_VOIDABLE = "NOT_VOIDABLE"
