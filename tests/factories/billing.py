"""Factories for billing: verified write-offs (redemption rows) ready to charge, and voids.

They write Redemption rows directly (as the write-off service leaves them) so that ledger
tests do not depend on the POS path, and the attribution record as attribution's handler
does (billing posts from it; it never creates one).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.utils import timezone

from attribution import recording as attribution_recording
from backend.campaigns.models import Campaign, Placement
from backend.coupons.models import Coupon
from backend.merchants.models import Merchant, Store, Terminal
from backend.redemptions.models import Redemption
from tests.factories.campaigns import CouponFactory, PlacementFactory, active_campaign
from tests.factories.merchants import MerchantFactory, StoreFactory, make_terminal

__all__ = ["BillingSetup", "billing_setup", "write_off", "void_write_off"]


@dataclass
class BillingSetup:
    """An issuer with a till and a campaign placed in one publisher's pool."""

    issuer: Merchant
    store: Store
    terminal: Terminal
    campaign: Campaign
    placement: Placement

    @property
    def publisher(self) -> Merchant:
        return self.placement.publisher


def billing_setup(
    *,
    fee: int = 120,
    share_bps: int = 5000,
    void_window_seconds: int = 900,
    timezone_name: str = "UTC",
    issuer: Merchant | None = None,
    currency: str = "CNY",
) -> BillingSetup:
    issuer = issuer or MerchantFactory(timezone=timezone_name)
    store = StoreFactory(merchant=issuer)
    terminal, _ = make_terminal(store)
    campaign = active_campaign(
        merchant=issuer,
        fee_per_redemption=fee,
        publisher_share_bps=share_bps,
        void_window_seconds=void_window_seconds,
        currency=currency,
    )
    placement = PlacementFactory(campaign=campaign, publisher_share_bps=share_bps)
    return BillingSetup(issuer, store, terminal, campaign, placement)


def write_off(
    setup: BillingSetup,
    *,
    at: dt.datetime | None = None,
    issued_at: dt.datetime | None = None,
    fee: int | None = None,
    order_amount: int = 3000,
    recorded: bool = True,
) -> Redemption:
    """A verified write-off of a fresh coupon, as the write-off service records it, and its
    attribution record unless ``recorded`` is false (attribution's handler has not run)."""
    at = at or timezone.now()
    coupon = CouponFactory(
        placement=setup.placement,
        campaign=setup.campaign,
        issued_at=issued_at or at - dt.timedelta(days=1),
        status=Coupon.Status.REDEEMED,
        redeemed_at=at,
    )
    redemption = Redemption.objects.create(
        merchant=setup.issuer,
        store=setup.store,
        terminal=setup.terminal,
        coupon=coupon,
        campaign=setup.campaign,
        placement=setup.placement,
        code=coupon.code,
        status=Redemption.Status.VERIFIED,
        order_amount=order_amount,
        currency=setup.campaign.currency,
        discount_amount=500,
        fee_amount=setup.campaign.fee_per_redemption if fee is None else fee,
        idempotency_key=uuid.uuid4().hex,
        request_fingerprint=uuid.uuid4().hex,
        response={},
        created_at=at,
    )
    if recorded:
        attribution_recording.record_for_redemption(redemption_id=redemption.pk)
    return redemption


def void_write_off(redemption: Redemption, *, at: dt.datetime | None = None) -> Redemption:
    redemption.status = Redemption.Status.VOIDED
    redemption.voided_at = at or timezone.now()
    redemption.save(update_fields=["status", "voided_at"])
    return redemption
