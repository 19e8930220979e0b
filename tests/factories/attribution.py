"""Factories for attribution tests: write-offs made directly as rows, and their events.

The write-off path has its own service; these helpers write the rows it would write
(a redeemed coupon, a verified Redemption, an outbox event) so attribution can be tested
on its own.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from backend.coupons.models import Coupon
from backend.merchants.models import Terminal
from backend.outbox.models import OutboxEvent
from backend.outbox.registry import REDEMPTION_VERIFIED, REDEMPTION_VOIDED
from backend.redemptions.models import Redemption

__all__ = ["attribution_writeoff", "attribution_void", "attribution_event", "attribution_dispatch"]


def attribution_writeoff(
    *,
    coupon: Coupon,
    terminal: Terminal,
    order_amount: int = 3000,
    discount_amount: int | None = None,
    fee_amount: int | None = None,
    at: dt.datetime | None = None,
    with_event: bool = True,
) -> Redemption:
    """A verified write-off of ``coupon`` at ``terminal``, as the POS path records it."""
    campaign = coupon.campaign
    at = at or timezone.now()
    discount = min(campaign.amount_off or 0, order_amount) if discount_amount is None else discount_amount
    fee = campaign.fee_per_redemption if fee_amount is None else fee_amount
    Coupon.objects.filter(pk=coupon.pk).update(status=Coupon.Status.REDEEMED, redeemed_at=at)
    redemption = Redemption.objects.create(
        merchant_id=terminal.merchant_id,
        store_id=terminal.store_id,
        terminal=terminal,
        coupon=coupon,
        campaign=campaign,
        placement_id=coupon.placement_id,
        code=coupon.code,
        status=Redemption.Status.VERIFIED,
        order_amount=order_amount,
        currency=campaign.currency,
        discount_amount=discount,
        fee_amount=fee,
        idempotency_key=uuid.uuid4().hex,
        request_fingerprint=uuid.uuid4().hex,
        response={"status": "verified"},
        created_at=at,
    )
    if with_event:
        attribution_event(REDEMPTION_VERIFIED, redemption)
    return redemption


def attribution_void(
    redemption: Redemption, *, at: dt.datetime | None = None, with_event: bool = True
) -> Redemption:
    """Void a verified write-off, as the POS path does."""
    redemption.status = Redemption.Status.VOIDED
    redemption.voided_at = at or timezone.now()
    redemption.void_reason = "test"
    redemption.save(update_fields=["status", "voided_at", "void_reason"])
    if with_event:
        attribution_event(REDEMPTION_VOIDED, redemption)
    return redemption


def attribution_event(topic: str, redemption: Redemption) -> OutboxEvent:
    return OutboxEvent.objects.create(topic=topic, payload={"redemption_id": redemption.pk})


def attribution_dispatch(redemption: Redemption) -> int:
    """Run the outbox dispatcher (every registered handler) on the redemption's pending events,
    and on the events they emit (attribution's record announces itself to billing)."""
    from backend.outbox.services import process_event

    pending = OutboxEvent.objects.filter(
        payload__redemption_id=redemption.pk, dispatched_at__isnull=True
    ).order_by("id")
    ran = 0
    while event_ids := list(pending.values_list("id", flat=True)):
        for event_id in event_ids:
            process_event(event_id)
            ran += 1
    return ran
