"""The write-off's webhook event types: ``redemption.verified`` and ``redemption.voided``.

Their outbox events predate webhooks (payload ``{"redemption_id"}``), so this module turns
one into its recipient: the merchant whose till wrote it off (the issuer). The publisher
learns of write-offs through its statement, which carries no store or terminal of the issuer.
A void never reaches an endpoint before the write-off it undoes (one ordering key).
"""

from __future__ import annotations

from typing import Any

from backend.api import ids
from backend.outbox import registry
from backend.webhooks.events import Recipient, event_type

from .models import Redemption


def redemption_data(redemption: Redemption) -> dict[str, Any]:
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


def _recipients(event) -> list[Recipient]:
    redemption = (
        Redemption.objects.filter(pk=event.payload["redemption_id"]).select_related("campaign").first()
    )
    if redemption is None:
        return []
    data = redemption_data(redemption)
    if redemption.partnership_id is None:
        return [(redemption.merchant_id, data)]
    # At a partner's store: the partner hears of its till's write-off without the issuer's
    # campaign and placement; the issuer hears of its coupon without the partner's store and
    # terminal.
    partner = {**data["redemption"], "campaignId": None, "placementId": None}
    issuer = {**data["redemption"], "storeId": None, "terminalId": None}
    return [
        (redemption.merchant_id, {"redemption": partner}),
        (redemption.campaign.merchant_id, {"redemption": issuer}),
    ]


def _ordering_key(event) -> str:
    return f"redemption:{event.payload['redemption_id']}"


REDEMPTION_VERIFIED = event_type(
    registry.REDEMPTION_VERIFIED, "A coupon was written off at a till.", _recipients, _ordering_key
)
REDEMPTION_VOIDED = event_type(
    registry.REDEMPTION_VOIDED, "A write-off was voided inside its void window.", _recipients, _ordering_key
)
