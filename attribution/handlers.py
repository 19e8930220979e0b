"""Outbox handlers: turn redemption events into attribution records (registered in apps.py).

Attribution owns its records: only these handlers (and the void's, when its event comes
first) create them. Each verified write-off's record is announced once on the
``attribution.recorded`` topic, in the handler's transaction (so exactly once per
``redemption.verified`` event); billing reacts to that topic and never creates a record.
"""

from __future__ import annotations

from backend.outbox.services import emit, emit_many

from . import recording
from .events import ATTRIBUTION_RECORDED as RECORDED


def _redemption_id(event) -> int:
    payload = event.payload if hasattr(event, "payload") else event
    return int(payload["redemption_id"])


def record_verified(event) -> None:
    """REDEMPTION_VERIFIED -> exactly one AttributionRecord (a second run is a no-op), announced."""
    record = recording.record_for_redemption(redemption_id=_redemption_id(event))
    if record is not None:
        emit(topic=RECORDED, payload={"redemption_id": record.redemption_id})


def record_voided(event) -> None:
    """REDEMPTION_VOIDED -> the record is marked voided; it is never deleted."""
    recording.void_record(redemption_id=_redemption_id(event))


def record_verified_batch(events) -> None:
    """The batch form of :func:`record_verified` (the outbox falls back to it per event)."""
    recorded = recording.record_redemptions(redemption_ids=[_redemption_id(e) for e in events])
    emit_many(topic=RECORDED, payloads=[{"redemption_id": pk} for pk in recorded])
