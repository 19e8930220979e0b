"""The rules of a write-off, as pure functions: who may redeem what, when, and for how much.

Kept apart from the database so they are easy to test exhaustively; the service
(backend.redemptions.services) supplies the rows and enforces the caps under lock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from backend.campaigns.models import Campaign
from backend.coupons.models import Coupon

from .errors import RedemptionReason as R

BPS = 10_000


def compute_discount(campaign: Campaign, order_amount: int) -> int:
    """The discount in minor units, never above the order amount.

    Percent off rounds DOWN to the minor unit (integer division), then the cap applies:
    the issuer never gives a fraction of a cent more than it promised, and the customer
    loses less than one minor unit. 3333 at 15 % -> 499 (499.95 rounded down).
    """
    kind = campaign.benefit_kind
    if kind == Campaign.BenefitKind.AMOUNT_OFF:
        discount = campaign.amount_off or 0
    elif kind == Campaign.BenefitKind.PERCENT_OFF:
        discount = order_amount * (campaign.percent_off_bps or 0) // BPS
        if campaign.percent_cap is not None:
            discount = min(discount, campaign.percent_cap)
    elif kind == Campaign.BenefitKind.FREE_ITEM:
        discount = campaign.free_item_value or 0
    else:
        discount = 0
    return max(0, min(discount, order_amount))


class Reimbursement(NamedTuple):
    """What an issuer owes a partner for one write-off at the partner's store."""

    discount: int  # the discount the partner gave, capped at the per-coupon maximum
    handling_fee: int

    @property
    def total(self) -> int:
        return self.discount + self.handling_fee


def compute_reimbursement(*, discount: int, max_reimbursement: int, handling_fee: int) -> Reimbursement:
    """The discount given, never above the partnership's per-coupon maximum, plus its fee."""
    return Reimbursement(discount=max(0, min(discount, max_reimbursement)), handling_fee=max(0, handling_fee))


@dataclass(frozen=True)
class Window:
    starts: dt.datetime | None
    ends: dt.datetime | None  # exclusive


def validity_window(coupon: Coupon, campaign: Campaign) -> Window:
    """The intersection of the campaign's window, the coupon's own, and N days after issue."""
    starts = [t for t in (campaign.valid_from, coupon.valid_from) if t is not None]
    ends = [t for t in (campaign.valid_until, coupon.valid_until) if t is not None]
    if campaign.valid_days_after_issue is not None:
        ends.append(coupon.issued_at + dt.timedelta(days=campaign.valid_days_after_issue))
    return Window(starts=max(starts) if starts else None, ends=min(ends) if ends else None)


_COUPON_STATUS_REASONS = {
    Coupon.Status.REDEEMED: R.ALREADY_REDEEMED,
    Coupon.Status.REVOKED: R.COUPON_REVOKED,
    Coupon.Status.EXPIRED: R.EXPIRED,
}

_CAMPAIGN_STATUS_REASONS = {
    Campaign.Status.PAUSED: R.CAMPAIGN_PAUSED,
    Campaign.Status.ENDED: R.CAMPAIGN_ENDED,
    Campaign.Status.DRAFT: R.CAMPAIGN_NOT_ACTIVE,
}


def static_rejection(
    *,
    coupon: Coupon,
    campaign: Campaign,
    merchant_id: int,
    store_active: bool,
    order_amount: int,
    currency: str,
    now: dt.datetime,
) -> R | None:
    """The first rule the attempt breaks, before any cap is touched; None if it passes.

    The order matters: another merchant's coupon says nothing more about itself than
    WRONG_MERCHANT; then the coupon's state, the offer's state, and the order's terms.
    The accepted-store rule needs a query, so the service checks it right after.
    """
    if campaign.merchant_id != merchant_id:
        return R.WRONG_MERCHANT
    if coupon.status in _COUPON_STATUS_REASONS:
        return _COUPON_STATUS_REASONS[coupon.status]
    if campaign.status in _CAMPAIGN_STATUS_REASONS:
        return _CAMPAIGN_STATUS_REASONS[campaign.status]
    if not store_active:
        return R.STORE_INACTIVE
    if currency != campaign.currency:
        return R.CURRENCY_MISMATCH
    window = validity_window(coupon, campaign)
    if window.starts is not None and now < window.starts:
        return R.NOT_YET_VALID
    if window.ends is not None and now >= window.ends:
        return R.EXPIRED
    if order_amount < campaign.min_spend:
        return R.BELOW_MIN_SPEND
    return None
