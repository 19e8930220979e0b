"""Attribution's records: one per verified redemption, voids, new-customer flags.

Only attribution creates records: its outbox handlers (attribution.handlers) call this
module; billing reads the records (attribution.selectors) and an import contract keeps it
from importing this module.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, transaction
from django.utils import timezone

from backend.redemptions.models import Redemption

from .models import AttributionRecord

# Write-offs that were verified at some point: a voided one was verified first.
ATTRIBUTABLE_STATUSES = (Redemption.Status.VERIFIED, Redemption.Status.VOIDED)


def _table(model) -> str:
    return model._meta.db_table


def _build_insert_sql() -> str:
    """The records of a batch of redemptions in one ``INSERT ... SELECT``: every rule of a
    record's values lives here (the single and the batch form both use it).

    - campaign and placement: the redemption's, else its coupon's;
    - the issuer is the campaign's merchant, the publisher the placement's;
    - channel and sharer: the coupon's claim, when it was claimed through a link (none for
      coupons issued to a pool);
    - the partner: the redeeming terminal's merchant when it wrote off under a partnership;
    - seconds to redeem: whole seconds from issue to write-off, never negative;
    - in the attribution window: written off at most ``attribution_window_days`` x 24 h after
      issue (exact hours, as ``timedelta(days=n)``, not calendar days);
    - voided: the redemption's void time when it is voided (now, if it has none).
    Rejected and unknown redemptions, and those without a coupon, get no record; a record
    that exists already is left alone (``ON CONFLICT DO NOTHING``: a concurrent creator wins).
    """
    coupon_field = Redemption._meta.get_field("coupon")
    coupon_model = coupon_field.related_model
    claim_model = coupon_model._meta.get_field("claim").related_model
    campaign_model = Redemption._meta.get_field("campaign").related_model
    placement_model = Redemption._meta.get_field("placement").related_model
    values = {
        "redemption_id": "r.id",
        "campaign_id": "cam.id",
        "issuer_id": "cam.merchant_id",
        "publisher_id": "pl.publisher_id",
        "placement_id": "pl.id",
        "fan_id": "c.fan_id",
        "store_id": "r.store_id",
        "terminal_id": "r.terminal_id",
        "channel": "cl.channel",
        "sharer_id": "cl.sharer_id",
        "partner_id": "CASE WHEN r.partnership_id IS NOT NULL THEN r.merchant_id END",
        "reimbursement_amount": "r.reimbursement_amount",
        "handling_fee_amount": "r.handling_fee_amount",
        "issued_at": "c.issued_at",
        "redeemed_at": "r.created_at",
        "seconds_to_redeem": "GREATEST(0, trunc(extract(epoch FROM r.created_at - c.issued_at)))::bigint",
        "order_amount": "r.order_amount",
        "discount_amount": "r.discount_amount",
        "fee_amount": "r.fee_amount",
        "currency": "r.currency",
        "is_new_customer": "false",  # set by the refresh that follows, per (issuer, fan)
        "in_attribution_window": (
            "r.created_at <= c.issued_at + make_interval(hours => 24 * cam.attribution_window_days)"
        ),
        "voided_at": "CASE WHEN r.status = %(voided)s THEN COALESCE(r.voided_at, now()) END",
        "created_at": "now()",
    }
    # Every column without a database default is written: a new field must be added above.
    required = {
        f.column
        for f in AttributionRecord._meta.concrete_fields
        if not f.primary_key and not f.null and not f.has_db_default()
    }
    missing = required - values.keys()
    assert not missing, f"attribution record columns without a value: {sorted(missing)}"
    return (
        f"INSERT INTO {_table(AttributionRecord)} ({', '.join(values)}) "  # noqa: S608 - names from the models
        f"SELECT {', '.join(values.values())} "
        f"FROM {_table(Redemption)} r "
        f"JOIN {_table(coupon_model)} c ON c.id = r.{coupon_field.column} "
        f"JOIN {_table(campaign_model)} cam ON cam.id = COALESCE(r.campaign_id, c.campaign_id) "
        f"JOIN {_table(placement_model)} pl ON pl.id = COALESCE(r.placement_id, c.placement_id) "
        f"LEFT JOIN {_table(claim_model)} cl ON cl.coupon_id = c.id "
        "WHERE r.id = ANY(%(ids)s) AND r.status = ANY(%(statuses)s) "
        f"AND NOT EXISTS (SELECT 1 FROM {_table(AttributionRecord)} a WHERE a.redemption_id = r.id) "
        "ORDER BY r.id "
        "ON CONFLICT (redemption_id) DO NOTHING RETURNING issuer_id, fan_id"
    )


_INSERT_SQL = _build_insert_sql()


def _create_records(redemption_ids: Sequence[int]) -> None:
    """Create the missing records of these redemptions and refresh the new-customer flags of
    their (issuer, fan) pairs; inside the caller's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_SQL,
            {
                "ids": sorted(set(redemption_ids)),
                "statuses": [str(s) for s in ATTRIBUTABLE_STATUSES],
                "voided": str(Redemption.Status.VOIDED),
            },
        )
        pairs = sorted(set(cursor.fetchall()))
    _refresh_new_customers(pairs)


def record_for_redemption(*, redemption_id: int) -> AttributionRecord | None:
    """The attribution record of a verified (or since voided) redemption, created if missing.

    Exactly one record per redemption whatever the concurrency or the number of calls:
    the insert is ``ON CONFLICT (redemption_id) DO NOTHING`` and the row is then read back,
    so whichever caller (the attribution handler, billing's handler) runs first creates it.
    Returns None for a rejected or unknown redemption (nothing to attribute).
    """
    with transaction.atomic():
        record = AttributionRecord.objects.filter(redemption_id=redemption_id).first()
        if record is None:
            _create_records([redemption_id])
            record = AttributionRecord.objects.filter(redemption_id=redemption_id).first()
        return record


def record_redemptions(*, redemption_ids: Sequence[int]) -> list[int]:
    """The batch form of :func:`record_for_redemption` for the outbox handler: the records of
    these redemptions created where missing, in two statements whatever the batch's size (and
    the new-customer refresh); the redemption ids that have a record, sorted (rejected and
    unknown ones have none)."""
    ids = sorted(set(redemption_ids))
    with transaction.atomic():
        _create_records(ids)
        return sorted(
            AttributionRecord.objects.filter(redemption_id__in=ids).values_list("redemption_id", flat=True)
        )


def record_for_redemptions(*, redemption_ids: Sequence[int]) -> dict[int, AttributionRecord]:
    """:func:`record_redemptions`, the records themselves by redemption id."""
    ids = sorted(set(redemption_ids))
    with transaction.atomic():
        _create_records(ids)
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


