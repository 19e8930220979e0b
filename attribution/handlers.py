"""Outbox handlers: turn redemption events into attribution records (registered in apps.py)."""

from __future__ import annotations

from . import services


def _redemption_id(event) -> int:
    payload = event.payload if hasattr(event, "payload") else event
    return int(payload["redemption_id"])


def record_verified(event) -> None:
    """REDEMPTION_VERIFIED -> exactly one AttributionRecord (a second run is a no-op)."""
    services.record_for_redemption(redemption_id=_redemption_id(event))


def record_voided(event) -> None:
    """REDEMPTION_VOIDED -> the record is marked voided; it is never deleted."""
    services.void_record(redemption_id=_redemption_id(event))


def record_verified_batch(events) -> None:
    """The batch form of :func:`record_verified` (the outbox falls back to it per event)."""
    services.record_for_redemptions(redemption_ids=[_redemption_id(e) for e in events])
