"""Reads of the campaigns app, always scoped to the caller's merchant.

A campaign is its issuer's alone. A placement is visible to its two parties (the issuer
and the publisher) and to nobody else; neither side reads the other's rows through it.
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum

from backend.merchants.models import Merchant

from .models import Campaign, Placement


def _with_usage(qs: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """Usage summed from the budget slots, and the accepted stores, without a query per row."""
    return qs.annotate(
        redeemed_total=Sum("slots__redeemed_count"), spent_total=Sum("slots__spent_amount")
    ).prefetch_related("accepted_stores")


def campaigns_for(*, merchant: Merchant, status: str | None = None) -> QuerySet[Campaign]:
    qs = Campaign.objects.filter(merchant=merchant)
    if status is not None:
        qs = qs.filter(status=status)
    return _with_usage(qs).order_by("id")


def campaign_for(*, merchant: Merchant, campaign_id: int) -> Campaign | None:
    return _with_usage(Campaign.objects.filter(merchant=merchant, pk=campaign_id)).first()


def placements_for(
    *,
    merchant: Merchant,
    side: str | None = None,
    status: str | None = None,
    campaign_id: int | None = None,
) -> QuerySet[Placement]:
    """Placements ``merchant`` is party to; ``side`` = "issuer" or "publisher" narrows it."""
    if side == "issuer":
        qs = Placement.objects.filter(issuer=merchant)
    elif side == "publisher":
        qs = Placement.objects.filter(publisher=merchant)
    else:
        qs = Placement.objects.filter(Q(issuer=merchant) | Q(publisher=merchant))
    if status is not None:
        qs = qs.filter(status=status)
    if campaign_id is not None:
        qs = qs.filter(campaign_id=campaign_id)
    return qs.select_related("campaign", "issuer", "publisher", "pool").order_by("id")


def placement_for(*, merchant: Merchant, placement_id: int) -> Placement | None:
    return (
        Placement.objects.filter(Q(issuer=merchant) | Q(publisher=merchant), pk=placement_id)
        .select_related("campaign", "issuer", "publisher", "pool")
        .first()
    )


COUPON_STATES = ("issued", "redeemed", "expired", "revoked")


def coupon_counts(*, owner: Campaign | Placement) -> dict[str, int]:
    """A campaign's or a placement's coupons by state (through the reverse relation: the
    coupons app sits above this one). The caller already scoped ``owner`` to its merchant."""
    counts = dict(
        owner.coupons.values("status").annotate(n=Count("id")).values_list("status", "n").order_by()
    )
    return {state: counts.get(state, 0) for state in COUPON_STATES}
