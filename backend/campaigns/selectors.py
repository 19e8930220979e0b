"""Reads of the campaigns app, always scoped to the caller's merchant.

A campaign is its issuer's alone. A placement is visible to its two parties (the issuer
and the publisher) and to nobody else; neither side reads the other's rows through it.
"""

from __future__ import annotations

from django.db.models import Count, JSONField, Prefetch, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL

from backend.merchants.models import Merchant

from .models import Campaign, CampaignPartner, Placement


def _with_usage(qs: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """Usage summed from the budget slots, and the accepted stores, without a query per row."""
    return qs.annotate(
        redeemed_total=Sum("slots__redeemed_count"), spent_total=Sum("slots__spent_amount")
    ).prefetch_related("accepted_stores")


def campaigns_with_usage() -> QuerySet[Campaign]:
    """For ``Prefetch("campaign", queryset=...)`` where a list reaches campaigns through a
    foreign key: one query for the page's campaigns, usage included (no query per row)."""
    return _with_usage(Campaign.objects.all())


_PLACEMENT_RELATED = ("campaign", "issuer", "publisher", "pool")


# A row's coupons by state in the row's own query (a correlated subquery on the coupons'
# foreign-key index), so a list showing couponCounts costs no query per row.
_COUPON_STATE_COUNTS = (
    "SELECT coalesce(jsonb_object_agg(s.status, s.n), '{{}}'::jsonb) FROM "
    "(SELECT status, count(*) AS n FROM coupons_coupon WHERE {column} = {table}.id GROUP BY status) s"
)


def _with_coupon_counts(qs: QuerySet, *, column: str) -> QuerySet:
    table = qs.model._meta.db_table
    return qs.annotate(
        coupon_state_counts=RawSQL(  # noqa: S611 - no parameters: the names are ours
            _COUPON_STATE_COUNTS.format(column=column, table=table), [], output_field=JSONField()
        )
    )


def campaigns_for(
    *,
    merchant: Merchant,
    status: str | None = None,
    with_placements: bool = False,
    with_coupon_counts: bool = False,
    with_history: bool = False,
) -> QuerySet[Campaign]:
    """The merchant's campaigns with their usage; ``with_placements`` prefetches each one's
    placements (all the issuer's side, the merchant's own) in one query for the page, and
    ``with_coupon_counts`` / ``with_history`` load those for the page too."""
    qs = Campaign.objects.filter(merchant=merchant)
    if status is not None:
        qs = qs.filter(status=status)
    qs = _with_usage(qs).order_by("id")
    if with_coupon_counts:
        qs = _with_coupon_counts(qs, column="campaign_id")
    if with_history:
        qs = qs.prefetch_related("changes")
    if with_placements:
        placements = Placement.objects.select_related(*_PLACEMENT_RELATED).order_by("id")
        qs = qs.prefetch_related(Prefetch("placements", queryset=placements, to_attr="issuer_placements"))
    return qs


def campaign_for(*, merchant: Merchant, campaign_id: int) -> Campaign | None:
    return _with_usage(Campaign.objects.filter(merchant=merchant, pk=campaign_id)).first()


def placements_for(
    *,
    merchant: Merchant,
    side: str | None = None,
    status: str | None = None,
    campaign_id: int | None = None,
    with_campaign_usage: bool = False,
    with_coupon_counts: bool = False,
) -> QuerySet[Placement]:
    """Placements ``merchant`` is party to; ``side`` = "issuer" or "publisher" narrows it.
    ``with_campaign_usage`` loads the campaigns' usage too (one more query for the page)."""
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
    if with_campaign_usage:
        qs = qs.select_related("issuer", "publisher", "pool").prefetch_related(
            Prefetch("campaign", queryset=campaigns_with_usage())
        )
    else:
        qs = qs.select_related(*_PLACEMENT_RELATED)
    if with_coupon_counts:
        qs = _with_coupon_counts(qs, column="placement_id")
    return qs.order_by("id")


def placement_for(*, merchant: Merchant, placement_id: int) -> Placement | None:
    return (
        Placement.objects.filter(Q(issuer=merchant) | Q(publisher=merchant), pk=placement_id)
        .select_related("campaign", "issuer", "publisher", "pool")
        .first()
    )


COUPON_STATES = ("issued", "redeemed", "expired", "revoked")


def coupon_counts(*, owner: Campaign | Placement) -> dict[str, int]:
    """A campaign's or a placement's coupons by state (through the reverse relation: the
    coupons app sits above this one). The caller already scoped ``owner`` to its merchant.
    A list's selector may have loaded them with the row (``coupon_state_counts``)."""
    if hasattr(owner, "coupon_state_counts"):
        counts = owner.coupon_state_counts or {}
        return {state: counts.get(state, 0) for state in COUPON_STATES}
    counts = dict(
        owner.coupons.values("status").annotate(n=Count("id")).values_list("status", "n").order_by()
    )
    return {state: counts.get(state, 0) for state in COUPON_STATES}


# --- partner acceptance ------------------------------------------------------------------------


def merchant_by_slug(*, slug: str | None) -> Merchant | None:
    """A merchant an issuer names to invite as a partner (by its public slug)."""
    slug = (slug or "").strip().lower()
    return Merchant.objects.filter(slug=slug).first() if slug else None


def partnerships_for(
    *,
    merchant: Merchant,
    side: str | None = None,
    status: str | None = None,
    campaign_id: int | None = None,
    with_campaign_usage: bool = False,
) -> QuerySet[CampaignPartner]:
    """Partnerships ``merchant`` is party to (as the issuer or the partner); ``side`` =
    "issuer" or "partner" narrows it. ``with_campaign_usage`` loads the campaigns' usage."""
    if side == "issuer":
        qs = CampaignPartner.objects.filter(issuer=merchant)
    elif side == "partner":
        qs = CampaignPartner.objects.filter(partner=merchant)
    else:
        qs = CampaignPartner.objects.filter(Q(issuer=merchant) | Q(partner=merchant))
    if status is not None:
        qs = qs.filter(status=status)
    if campaign_id is not None:
        qs = qs.filter(campaign_id=campaign_id)
    qs = qs.select_related("issuer", "partner", "ended_by").prefetch_related("stores")
    if with_campaign_usage:
        qs = qs.prefetch_related(Prefetch("campaign", queryset=campaigns_with_usage()))
    else:
        qs = qs.select_related("campaign")
    return qs.order_by("id")


def partnership_for(*, merchant: Merchant, partnership_id: int) -> CampaignPartner | None:
    return (
        CampaignPartner.objects.filter(Q(issuer=merchant) | Q(partner=merchant), pk=partnership_id)
        .select_related("campaign", "issuer", "partner")
        .first()
    )
