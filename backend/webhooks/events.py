"""The catalogue of webhook event types, and how each becomes messages to merchants.

Every event type is an outbox topic: the fact and its event commit together, and the
webhooks fan-out runs as one more outbox handler (exactly once per event). Adding a type is
one line here plus the emit at its source::

    event_type("coupon.claimed", "A fan claimed a coupon through a claim link.")

and, where the fact happens (inside its transaction)::

    announce(topic="coupon.claimed", recipients=[(issuer_id, {"coupon": {...}})])

``recipients`` says which merchant receives which data: only ids and facts that merchant
may already read through the API (public GraphQL ids), never another merchant's private
data. Types whose facts already have an outbox event with another payload (the write-off's
``{"redemption_id"}``) pass a ``build`` function that turns the event into recipients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backend.outbox import registry
from backend.outbox.services import emit

Recipient = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    build: Callable[[Any], list[Recipient]] | None
    ordering_key: Callable[[Any], str] | None = None


CATALOGUE: dict[str, EventType] = {}
FAN_OUT_HANDLER = "webhooks.fan_out"


def announce(*, topic: str, recipients: list[Recipient], ordering_key: str = "") -> None:
    """Write the outbox event of a webhook event type, in the caller's transaction."""
    if topic not in CATALOGUE:
        raise KeyError(f"unknown webhook event type {topic!r}: add it to backend/webhooks/events.py")
    emit(
        topic=topic,
        payload={
            "webhook": {
                "recipients": [{"merchant_id": m, "data": data} for m, data in recipients],
                "ordering_key": ordering_key,
            }
        },
    )


def _announced(event) -> list[Recipient]:
    section = event.payload.get("webhook") or {}
    return [(r["merchant_id"], r["data"]) for r in section.get("recipients", [])]


def fan_out(event) -> None:
    """The outbox handler of every event type: one message per recipient merchant."""
    from .services import announce_now

    etype = CATALOGUE.get(event.topic)
    if etype is None or etype.build is None:
        return
    ordering_key = (event.payload.get("webhook") or {}).get("ordering_key", "")
    if etype.ordering_key is not None:
        ordering_key = etype.ordering_key(event)
    for merchant_id, data in etype.build(event):
        announce_now(
            merchant_id=merchant_id,
            event_type=event.topic,
            data=data,
            ordering_key=ordering_key,
            source_event_id=event.pk,
        )


def fan_out_batch(events) -> None:
    """The batch form of :func:`fan_out`: the events of a type that no active endpoint
    listens to (the common case) cost one query for the whole batch, not one per event."""
    from .models import WebhookEndpoint

    listened = {
        topic
        for topic in {e.topic for e in events}
        if WebhookEndpoint.objects.filter(
            status=WebhookEndpoint.Status.ACTIVE, deleted_at__isnull=True, event_types__contains=[topic]
        ).exists()
    }
    for event in events:
        if event.topic in listened:
            fan_out(event)


def event_type(
    name: str,
    description: str,
    build: Callable[[Any], list[Recipient]] | None = _announced,
    ordering_key: Callable[[Any], str] | None = None,
) -> EventType:
    """Declare an event type; ``build=None`` for types announced directly (not via the outbox).

    Apps declare the types of facts whose outbox events predate webhooks themselves (the
    write-off's, in backend.redemptions.announcements), so this app imports no domain app."""
    etype = EventType(name=name, description=description, build=build, ordering_key=ordering_key)
    CATALOGUE[name] = etype
    if build is not None:
        registry.register(name, name=FAN_OUT_HANDLER, batch=fan_out_batch)(fan_out)
    return etype


# --- the catalogue ---------------------------------------------------------------------------

PLACEMENT_PROPOSED = event_type("placement.proposed", "An issuer proposed a placement into a pool.")
PLACEMENT_ACCEPTED = event_type("placement.accepted", "The publisher accepted a placement.")
PLACEMENT_DECLINED = event_type("placement.declined", "The publisher declined a placement.")
ISSUANCE_COMPLETED = event_type("issuance.completed", "An issuance job finished (succeeded or failed).")
COUPONS_EXPIRED = event_type("coupons.expired", "Coupons of a campaign passed their validity (a batch).")
COUPONS_REVOKED = event_type(
    "coupons.revoked", "The issuer revoked coupons (one, a placement's, a campaign's)."
)
CAMPAIGN_CHANGED = event_type("campaign.changed", "A live campaign's caps, validity or daily cap changed.")
INVOICE_SENT = event_type("invoice.sent", "A monthly invoice was sent through Stripe.")
INVOICE_PAID = event_type("invoice.paid", "An invoice was paid.")
INVOICE_PAYMENT_FAILED = event_type("invoice.payment_failed", "A payment of an invoice failed.")
