"""Reads of disputes: a merchant sees the disputes it is a party to (as the issuer or the
counterparty); the network operator also sees every dispute, when it asks as the operator."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from backend.merchants.models import Merchant

from .models import Dispute, DisputeAttachment


def _base() -> QuerySet[Dispute]:
    return Dispute.objects.select_related("issuer", "counterparty", "campaign").prefetch_related(
        "events", "attachments"
    )


def disputes_for(
    *, merchant: Merchant, status: str | None = None, as_operator: bool = False
) -> QuerySet[Dispute]:
    qs = _base()
    if not (as_operator and merchant.is_network_operator):
        qs = qs.filter(Q(issuer=merchant) | Q(counterparty=merchant))
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-opened_at", "-id")


def dispute_for(*, merchant: Merchant, dispute_id: int) -> Dispute | None:
    """A dispute the merchant is a party to, or any dispute for the network operator."""
    return disputes_for(merchant=merchant, as_operator=True).filter(pk=dispute_id).first()


def attachment_for(*, merchant: Merchant, attachment_id: int) -> DisputeAttachment | None:
    attachment = DisputeAttachment.objects.select_related("dispute").filter(pk=attachment_id).first()
    if attachment is None:
        return None
    dispute = attachment.dispute
    if merchant.is_network_operator or merchant.pk in (dispute.issuer_id, dispute.counterparty_id):
        return attachment
    return None
