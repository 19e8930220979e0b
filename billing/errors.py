"""Error codes of the billing app (payload errors; see backend.api.errors)."""

from enum import StrEnum


class BillingErrorCode(StrEnum):
    PERIOD_NOT_ENDED = "PERIOD_NOT_ENDED"
    INVALID_PERIOD = "INVALID_PERIOD"
    STRIPE_UNAVAILABLE = "STRIPE_UNAVAILABLE"
    STILL_VOIDABLE = "STILL_VOIDABLE"
    # Payouts (billing/payouts.py): below the minimum (a request, an account's own minimum), bad
    # account details, a request before any payout account.
    BELOW_MINIMUM = "BELOW_MINIMUM"
    BAD_ACCOUNT = "BAD_ACCOUNT"
    NO_PAYOUT_ACCOUNT = "NO_PAYOUT_ACCOUNT"
