"""Outbox handlers: referral rewards on a friend's write-off and their take-back on a void
(registered in apps.py)."""

from __future__ import annotations

from . import services


def _redemption_id(event) -> int:
    payload = event.payload if hasattr(event, "payload") else event
    return int(payload["redemption_id"])


def grant_referral_reward(event) -> None:
    """REDEMPTION_VERIFIED -> the sharer's reward coupon, once per write-off."""
    services.grant_referral_reward(redemption_id=_redemption_id(event))


def take_back_referral_reward(event) -> None:
    """REDEMPTION_VOIDED -> the sharer's unused reward coupon is revoked."""
    services.take_back_referral_reward(redemption_id=_redemption_id(event))


def grant_referral_rewards_batch(events) -> None:
    """The batch form (the outbox falls back to the per-event one if it raises)."""
    services.grant_referral_rewards(redemption_ids=[_redemption_id(e) for e in events])


def take_back_referral_rewards_batch(events) -> None:
    services.take_back_referral_rewards(redemption_ids=[_redemption_id(e) for e in events])
