"""Attribution's records: one per verified redemption, voids, new-customer flags.

Only attribution creates records: its outbox handlers (attribution.handlers) call this
module; billing reads the records (attribution.selectors) and an import contract keeps it
from importing this module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import connection, transaction
from django.utils import timezone

from backend.redemptions.models import Redemption

from .models import AttributionRecord

# Write-offs that were verified at some point: a voided one was verified first.
ATTRIBUTABLE_STATUSES = (Redemption.Status.VERIFIED, Redemption.Status.VOIDED)


def _record_values(redemption: Redemption) -> dict:
    coupon = redemption.coupon
    campaign = redemption.campaign or coupon.campaign
    placement = redemption.placement or coupon.placement
    redeemed_at = redemption.created_at
    seconds = max(0, int((redeemed_at - coupon.issued_at).total_seconds()))
    in_window = redeemed_at <= coupon.issued_at + dt.timedelta(days=campaign.attribution_window_days)
    # How the coupon was claimed (backend.fans Claim, a reverse one-to-one loaded with the
    # redemption): its channel and sharer; none for coupons issued to a pool.
    claim = getattr(coupon, "claim", None)
    voided_at = None
    if redemption.status == Redemption.Status.VOIDED:
        voided_at = redemption.voided_at or timezone.now()
    return {
        "redemption_id": redemption.pk,
        "campaign_id": campaign.pk,
        "issuer_id": campaign.merchant_id,
        "publisher_id": placement.publisher_id,
        "placement_id": placement.pk,
        "fan_id": coupon.fan_id,
        "store_id": redemption.store_id,
        "terminal_id": redemption.terminal_id,
        "channel": claim.channel if claim is not None else None,
        "sharer_id": claim.sharer_id if claim is not None else None,
        # the redeeming partner: the terminal's merchant when it wrote off under a partnership
        "partner_id": redemption.merchant_id if redemption.partnership_id is not None else None,
        "reimbursement_amount": redemption.reimbursement_amount,
        "handling_fee_amount": redemption.handling_fee_amount,
        "issued_at": coupon.issued_at,
        "redeemed_at": redeemed_at,
        "seconds_to_redeem": seconds,
        "order_amount": redemption.order_amount,
        "discount_amount": redemption.discount_amount,
        "fee_amount": redemption.fee_amount,
        "currency": redemption.currency,
        "in_attribution_window": in_window,
        "voided_at": voided_at,
    }


def record_for_redemption(*, redemption_id: int) -> AttributionRecord | None:
    """The attribution record of a verified (or since voided) redemption, created if missing.

    Exactly one record per redemption whatever the concurrency or the number of calls:
    the insert is ``ON CONFLICT (redemption_id) DO NOTHING`` and the row is then read back,
    so whichever caller (the attribution handler, billing's handler) runs first creates it.
    Returns None for a rejected or unknown redemption (nothing to attribute).
    """
    with transaction.atomic():
        existing = AttributionRecord.objects.filter(redemption_id=redemption_id).first()
        if existing is not None:
            return existing
        redemption = (
            Redemption.objects.select_related(
                "coupon", "campaign", "placement", "coupon__placement", "coupon__claim"
            )
            .filter(pk=redemption_id, status__in=ATTRIBUTABLE_STATUSES, coupon__isnull=False)
            .first()
        )
        if redemption is None:
            return None
        values = _record_values(redemption)
        # ON CONFLICT DO NOTHING: a concurrent creator wins, we then read its row.
        AttributionRecord.objects.bulk_create([AttributionRecord(**values)], ignore_conflicts=True)
        record = AttributionRecord.objects.get(redemption_id=redemption_id)
        _refresh_new_customer(issuer_id=record.issuer_id, fan_id=record.fan_id)
        record.refresh_from_db(fields=["is_new_customer"])
        return record


def record_for_redemptions(*, redemption_ids: Sequence[int]) -> dict[int, AttributionRecord]:
    """The batch form of :func:`record_for_redemption`, with the same guarantees: the records
    of these redemptions by redemption id, created where missing (rejected and unknown ones
    have none). A handful of statements for the whole batch, whatever its size."""
    ids = sorted(set(redemption_ids))
    with transaction.atomic():
        have = set(
            AttributionRecord.objects.filter(redemption_id__in=ids).values_list("redemption_id", flat=True)
        )
        missing = [i for i in ids if i not in have]
        if missing:
            redemptions = (
                Redemption.objects.select_related(
                    "coupon", "campaign", "placement", "coupon__placement", "coupon__claim"
                )
                .filter(pk__in=missing, status__in=ATTRIBUTABLE_STATUSES, coupon__isnull=False)
                .order_by("pk")
            )
            rows = [AttributionRecord(**_record_values(r)) for r in redemptions]
            if rows:
                AttributionRecord.objects.bulk_create(rows, ignore_conflicts=True)
                _refresh_new_customers(sorted({(r.issuer_id, r.fan_id) for r in rows}))
        return {r.redemption_id: r for r in AttributionRecord.objects.filter(redemption_id__in=ids)}


def void_record(*, redemption_id: int) -> AttributionRecord | None:
    """Mark the record of a voided redemption voided (creating it first if its event lags).

    Idempotent: a second call changes nothing. The record is kept, never deleted.
    """
    with transaction.atomic():
        record = record_for_redemption(redemption_id=redemption_id)
        if record is None or record.voided_at is not None:
            return record
        redemption = Redemption.objects.filter(pk=redemption_id).only("status", "voided_at").first()
        if redemption is None or redemption.status != Redemption.Status.VOIDED:
            return record  # not voided (yet): nothing to mark
        voided_at = redemption.voided_at or timezone.now()
        AttributionRecord.objects.filter(pk=record.pk, voided_at__isnull=True).update(voided_at=voided_at)
        _refresh_new_customer(issuer_id=record.issuer_id, fan_id=record.fan_id)
        record.refresh_from_db(fields=["voided_at", "is_new_customer"])
        return record


def _refresh_new_customer(*, issuer_id: int, fan_id: int) -> None:
    """Flag the fan's earliest non-voided write-off at the issuer as its new-customer one.

    Definition: a write-off is a new-customer write-off when it is the fan's earliest
    (by ``redeemed_at``, then redemption id) non-voided attributed write-off at this issuer.
    Records may arrive out of order, so the flag is recomputed for the (issuer, fan) pair
    under a transaction-scoped advisory lock: concurrent writers for one pair run one after
    the other and each sees the rows the previous one committed. A partial unique index
    makes two flagged records for one pair impossible.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, _pair_key(issuer_id, fan_id)]
        )
        cursor.execute(
            """
            SELECT id FROM attribution_attributionrecord
            WHERE issuer_id = %s AND fan_id = %s AND voided_at IS NULL
            ORDER BY redeemed_at, redemption_id
            LIMIT 1
            """,
            [issuer_id, fan_id],
        )
        row = cursor.fetchone()
        winner = row[0] if row else None
        # Clear first, then set: the partial unique index is checked row by row.
        cursor.execute(
            """
            UPDATE attribution_attributionrecord SET is_new_customer = false
            WHERE issuer_id = %s AND fan_id = %s AND is_new_customer AND id IS DISTINCT FROM %s
            """,
            [issuer_id, fan_id, winner],
        )
        if winner is not None:
            cursor.execute(
                "UPDATE attribution_attributionrecord SET is_new_customer = true "
                "WHERE id = %s AND NOT is_new_customer",
                [winner],
            )


# The new-customer winner of each pair (as in _refresh_new_customer), then the flags.
_CLEAR_LOSERS = """
WITH pairs AS (SELECT * FROM unnest(%(issuers)s::bigint[], %(fans)s::bigint[]) AS p(issuer_id, fan_id)),
winners AS (
    SELECT DISTINCT ON (r.issuer_id, r.fan_id) r.id FROM attribution_attributionrecord r
      JOIN pairs p ON p.issuer_id = r.issuer_id AND p.fan_id = r.fan_id
     WHERE r.voided_at IS NULL
     ORDER BY r.issuer_id, r.fan_id, r.redeemed_at, r.redemption_id)
UPDATE attribution_attributionrecord r SET is_new_customer = false FROM pairs p
 WHERE p.issuer_id = r.issuer_id AND p.fan_id = r.fan_id AND r.is_new_customer
   AND r.id NOT IN (SELECT id FROM winners)
"""
_SET_WINNERS = """
WITH pairs AS (SELECT * FROM unnest(%(issuers)s::bigint[], %(fans)s::bigint[]) AS p(issuer_id, fan_id)),
winners AS (
    SELECT DISTINCT ON (r.issuer_id, r.fan_id) r.id FROM attribution_attributionrecord r
      JOIN pairs p ON p.issuer_id = r.issuer_id AND p.fan_id = r.fan_id
     WHERE r.voided_at IS NULL
     ORDER BY r.issuer_id, r.fan_id, r.redeemed_at, r.redemption_id)
UPDATE attribution_attributionrecord r SET is_new_customer = true
 WHERE r.id IN (SELECT id FROM winners) AND NOT r.is_new_customer
"""


def _refresh_new_customers(pairs: list[tuple[int, int]]) -> None:
    """:func:`_refresh_new_customer` for many (issuer, fan) pairs in four statements: the
    pairs' advisory locks in key order (so two batches cannot deadlock), then the flags."""
    if not pairs:
        return
    params = {"issuers": [p[0] for p in pairs], "fans": [p[1] for p in pairs]}
    with connection.cursor() as cursor:
        # OFFSET 0 keeps the sorted subquery whole, so the locks are taken in key order.
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, k)) FROM "
            "(SELECT DISTINCT k FROM unnest(%s::int[]) AS k ORDER BY k OFFSET 0) AS keys",
            [_LOCK_NAMESPACE, sorted({_pair_key(i, f) for i, f in pairs})],
        )
        # Clear first, then set: the partial unique index is checked row by row.
        cursor.execute(_CLEAR_LOSERS, params)
        cursor.execute(_SET_WINNERS, params)


# Advisory locks take two int4 keys: a namespace for this use, and the pair folded to int4.
_LOCK_NAMESPACE = 0x41545452  # "ATTR"


def _pair_key(issuer_id: int, fan_id: int) -> int:
    value = (issuer_id * 1_000_003 + fan_id) % (2**32)
    return value - 2**32 if value >= 2**31 else value


