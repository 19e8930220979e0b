"""Reads of the fan pages (by token: the fan holds no account) and of the publisher's links."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.db import connection, models
from django.db.models import Count, Q
from django.utils import timezone

from backend.api.rows import columns, model_from_row
from backend.campaigns.models import Campaign, Placement
from backend.coupons.delivery import coupon_id_of
from backend.coupons.models import Coupon
from backend.merchants.models import Merchant, Store

from .models import Claim, ClaimLink, Gift, ReferralReward, ShareLink, Wallet


@dataclass(frozen=True)
class Offer:
    campaign: Campaign
    placement: Placement
    issuer: Merchant
    publisher: Merchant
    stores: list[Store]
    quota_left: int
    available: bool


def claim_link_by_token(token: str) -> ClaimLink | None:
    return (
        ClaimLink.objects.select_related(
            "placement__campaign__merchant", "placement__publisher", "placement__issuer"
        )
        .filter(token=token)
        .first()
    )


def claim_link_to_claim(token: str) -> ClaimLink | None:
    """The link with only what a claim reads (its placement and campaign), in one plain
    statement: the ORM's compilation of this three-table read cost about a fifth of a claim's
    CPU. The page's other rows (issuer, publisher) load only if the page is shown after all
    (a refusal)."""
    sql, parts = _link_to_claim_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [token])
        row = cursor.fetchone()
    if row is None:
        return None
    link, placement, campaign = (model_from_row(model, row, start) for model, start in parts)
    placement.campaign = campaign
    link.placement = placement
    return link


@functools.cache
def _link_to_claim_sql() -> tuple[str, list[tuple[type[models.Model], int]]]:
    tables = [(ClaimLink, "l"), (Placement, "p"), (Campaign, "c")]
    parts, start = [], 0
    for model, _alias in tables:
        parts.append((model, start))
        start += len(model._meta.concrete_fields)
    sql = (
        f"SELECT {', '.join(columns(model, alias) for model, alias in tables)} "  # noqa: S608 (names from the models)
        f"FROM {ClaimLink._meta.db_table} l "
        f"JOIN {Placement._meta.db_table} p ON p.id = l.placement_id "
        f"JOIN {Campaign._meta.db_table} c ON c.id = p.campaign_id WHERE l.token = %s"
    )
    return sql, parts


def share_link_by_token(token: str) -> ShareLink | None:
    return (
        ShareLink.objects.select_related(
            "placement__campaign__merchant", "placement__publisher", "placement__issuer"
        )
        .filter(token=token)
        .first()
    )


def accepted_stores(campaign: Campaign) -> list[Store]:
    if campaign.all_stores:
        return list(Store.objects.filter(merchant_id=campaign.merchant_id).order_by("name"))
    return list(campaign.accepted_stores.order_by("name"))


def offer_of(link: ClaimLink) -> Offer:
    placement = link.placement
    campaign = placement.campaign
    now = timezone.now()
    quota_left = max(0, placement.quota - placement.issued_count)
    if isinstance(link, ShareLink):  # friends may also draw on the share allowance
        quota_left += max(0, placement.share_allowance - placement.share_issued_count)
    available = (
        link.is_active
        and placement.status == Placement.Status.ACCEPTED
        and campaign.status == Campaign.Status.ACTIVE
        and (campaign.valid_until is None or campaign.valid_until > now)
        and quota_left > 0
    )
    return Offer(
        campaign=campaign,
        placement=placement,
        issuer=campaign.merchant,
        publisher=placement.publisher,
        stores=accepted_stores(campaign),
        quota_left=quota_left,
        available=available,
    )


def wallet_by_token(token: str) -> Wallet | None:
    return Wallet.objects.select_related("fan").filter(token=token, revoked_at__isnull=True).first()


def gift_by_token(token: str) -> Gift | None:
    return Gift.objects.select_related("coupon__campaign__merchant").filter(token=token).first()


def reward_coupon_ids(coupon_ids: list[int]) -> set[int]:
    """Of these coupons, the referral rewards still standing (not taken back)."""
    return set(
        ReferralReward.objects.filter(coupon_id__in=coupon_ids, revoked_at__isnull=True).values_list(
            "coupon_id", flat=True
        )
    )


def gifted_coupon_ids(coupon_ids: list[int]) -> set[int]:
    return set(Gift.objects.filter(coupon_id__in=coupon_ids).values_list("coupon_id", flat=True))


def wallet_coupons(wallet: Wallet) -> list[Coupon]:
    """Every coupon the wallet's fan holds or gave away, across merchants, newest first."""
    return list(
        Coupon.objects.filter(
            Q(fan_id=wallet.fan_id) | Q(gift__giver_id=wallet.fan_id, gift__accepted_at__isnull=False)
        )
        .select_related("campaign__merchant", "placement__publisher")
        .order_by("-issued_at", "-id")
    )


def delivered_coupon(token: str) -> Coupon | None:
    coupon_id = coupon_id_of(token)
    if coupon_id is None:
        return None
    # a coupon given to a friend leaves its delivery link: the friend holds it (under a new code)
    return (
        Coupon.objects.select_related("campaign__merchant")
        .filter(pk=coupon_id)
        .exclude(gift__accepted_at__isnull=False)
        .first()
    )


def wallet_coupon(wallet: Wallet, code: str) -> Coupon | None:
    return Coupon.objects.filter(fan_id=wallet.fan_id, code=code).first()


def claim_links_for(*, merchant: Merchant, placement_id: int):
    """The placement's claim links with their claim counts: its publisher only (empty otherwise)."""
    return (
        ClaimLink.objects.filter(placement_id=placement_id, placement__publisher=merchant)
        .annotate(claim_count=Count("claims"))
        .select_related("placement")
        .order_by("id")
    )


def claim_link_for(*, merchant: Merchant, claim_link_id: int) -> ClaimLink | None:
    return (
        ClaimLink.objects.filter(Q(placement__publisher=merchant), pk=claim_link_id)
        .select_related("placement__campaign__merchant")
        .first()
    )


@dataclass(frozen=True)
class FunnelRow:
    key: str  # the channel, or the sharer's global fan id
    claimed: int
    redeemed: int


@dataclass(frozen=True)
class Funnel:
    issued: int  # coupons bound to fans (bulk, published, claimed)
    claimed: int  # of which claimed on demand (links, shares)
    shared: int  # fans who made a share link
    redeemed: int
    rows: list[FunnelRow]


def claim_funnel_for(*, merchant: Merchant, placement_id: int, dimension: str) -> Funnel | None:
    """The placement's funnel issued -> claimed -> shared -> redeemed, split by CHANNEL or
    SHARER: for its issuer and its publisher only (None otherwise)."""
    placement = Placement.objects.filter(Q(issuer=merchant) | Q(publisher=merchant), pk=placement_id).first()
    if placement is None:
        return None
    claims = Claim.objects.filter(placement_id=placement_id)
    field = "channel" if dimension == "CHANNEL" else "sharer_id"
    if dimension == "SHARER":
        claims = claims.filter(sharer_id__isnull=False)
    grouped = (
        claims.values(field)
        .annotate(claimed=Count("id"), redeemed=Count("id", filter=Q(coupon__status=Coupon.Status.REDEEMED)))
        .order_by("-claimed", field)
    )
    rows = [
        FunnelRow(
            key=str(row[field]) if dimension == "CHANNEL" else f"fan:{row[field]}",
            claimed=row["claimed"],
            redeemed=row["redeemed"],
        )
        for row in grouped
    ]
    return Funnel(
        issued=Coupon.objects.filter(placement_id=placement_id).count(),
        claimed=Claim.objects.filter(placement_id=placement_id).count(),
        shared=ShareLink.objects.filter(placement_id=placement_id).count(),
        redeemed=Coupon.objects.filter(placement_id=placement_id, status=Coupon.Status.REDEEMED).count(),
        rows=rows,
    )
