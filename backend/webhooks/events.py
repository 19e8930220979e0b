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

from backend.api import ids
from backend.outbox import registry
from backend.outbox.services import emit

Recipient = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    build: Callable[[Any], list[Recipient]] | None


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
    if event.topic in ORDERING_KEYS:
        ordering_key = ORDERING_KEYS[event.topic](event)
    for merchant_id, data in etype.build(event):
        announce_now(
            merchant_id=merchant_id,
            event_type=event.topic,
            data=data,
            ordering_key=ordering_key,
            source_event_id=event.pk,
        )


def event_type(
    name: str, description: str, build: Callable[[Any], list[Recipient]] | None = _announced
) -> EventType:
    """Declare an event type; ``build=None`` for types announced directly (not via the outbox)."""
    etype = EventType(name=name, description=description, build=build)
    CATALOGUE[name] = etype
    if build is not None:
        registry.register(name, name=FAN_OUT_HANDLER)(fan_out)
    return etype


# --- builders of types whose outbox events predate webhooks --------------------------------


def redemption_data(redemption) -> dict[str, Any]:
    return {
        "redemption": {
            "id": ids.encode("Redemption", redemption.pk),
            "status": redemption.status.upper(),
            "code": redemption.code,
            "orderAmount": redemption.order_amount,
            "discountAmount": redemption.discount_amount,
            "feeAmount": redemption.fee_amount,
            "currency": redemption.currency,
            "createdAt": redemption.created_at.isoformat(),
            "voidedAt": redemption.voided_at.isoformat() if redemption.voided_at else None,
            "campaignId": ids.encode("Campaign", redemption.campaign_id) if redemption.campaign_id else None,
            "placementId": ids.encode("Placement", redemption.placement_id)
            if redemption.placement_id
            else None,
            "storeId": ids.encode("Store", redemption.store_id),
            "terminalId": ids.encode("Terminal", redemption.terminal_id),
        }
    }


def _redemption_recipients(event) -> list[Recipient]:
    """The merchant whose till wrote it off (the issuer): the publisher learns of write-offs
    through its statement, which carries no store or terminal of the issuer."""
    from backend.redemptions.models import Redemption

    redemption = Redemption.objects.filter(pk=event.payload["redemption_id"]).first()
    if redemption is None:
        return []
    return [(redemption.merchant_id, redemption_data(redemption))]


def _redemption_ordering(event) -> str:
    # A void must never reach an endpoint before the write-off it undoes.
    return f"redemption:{event.payload['redemption_id']}"


ORDERING_KEYS: dict[str, Callable[[Any], str]] = {
    registry.REDEMPTION_VERIFIED: _redemption_ordering,
    registry.REDEMPTION_VOIDED: _redemption_ordering,
}

# --- the catalogue ---------------------------------------------------------------------------

PLACEMENT_PROPOSED = event_type("placement.proposed", "An issuer proposed a placement into a pool.")
PLACEMENT_ACCEPTED = event_type("placement.accepted", "The publisher accepted a placement.")
PLACEMENT_DECLINED = event_type("placement.declined", "The publisher declined a placement.")
ISSUANCE_COMPLETED = event_type("issuance.completed", "An issuance job finished (succeeded or failed).")
REDEMPTION_VERIFIED = event_type(
    registry.REDEMPTION_VERIFIED, "A coupon was written off at a till.", _redemption_recipients
)
REDEMPTION_VOIDED = event_type(
    registry.REDEMPTION_VOIDED, "A write-off was voided inside its void window.", _redemption_recipients
)
CAMPAIGN_BUDGET_THRESHOLD = event_type(
    "campaign.budget_threshold",
    "A campaign used 80 % or 100 % of its budget or max redemptions (once each).",
    build=None,
)
COUPONS_EXPIRED = event_type("coupons.expired", "Coupons of a campaign passed their validity (a batch).")
COUPONS_REVOKED = event_type(
    "coupons.revoked", "The issuer revoked coupons (one, a placement's, a campaign's)."
)
CAMPAIGN_CHANGED = event_type("campaign.changed", "A live campaign's caps, validity or daily cap changed.")
INVOICE_SENT = event_type("invoice.sent", "A monthly invoice was sent through Stripe.")
INVOICE_PAID = event_type("invoice.paid", "An invoice was paid.")
INVOICE_PAYMENT_FAILED = event_type("invoice.payment_failed", "A payment of an invoice failed.")
