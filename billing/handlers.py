"""Outbox handlers: redemption events become ledger postings (registered in apps.py).

Each runs inside the outbox's transaction with its delivery row, so exactly once per event;
the services are idempotent as well, so a replay is a no-op either way.
"""

from __future__ import annotations

from . import services


def _redemption_id(event) -> int:
    payload = event.payload if hasattr(event, "payload") else event
    return int(payload["redemption_id"])


def charge(event) -> None:
    """ATTRIBUTION_RECORDED -> one charge posting if the write-off is billable."""
    services.charge_redemption(redemption_id=_redemption_id(event))


def void(event) -> None:
    """REDEMPTION_VOIDED -> a reversal (pending charge) or a credit (locked charge)."""
    services.undo_charge(redemption_id=_redemption_id(event))


def charge_batch(events) -> None:
    """The batch form of :func:`charge` (the outbox falls back to it per event)."""
    services.charge_redemptions(redemption_ids=[_redemption_id(e) for e in events])
