"""Reconciliation: verified, non-voided redemptions = attribution records, per campaign.

Checks live in a small registry so that billing can add its own (ledger postings)
without attribution importing billing::

    from attribution.reconcile import Discrepancy, register_check

    @register_check("billing.postings")
    def postings(*, merchant, start, end) -> list[Discrepancy]: ...

Every check gets the issuer and a half-open period [start, end) of write-off times and
returns every discrepancy it finds (an empty list when all is well).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection

from backend.merchants.models import Merchant


@dataclass(frozen=True)
class Discrepancy:
    check: str
    kind: str  # a stable code, e.g. REDEMPTION_WITHOUT_RECORD
    detail: str
    campaign_id: int | None = None
    redemption_id: int | None = None
    record_id: int | None = None


@dataclass(frozen=True)
class CampaignBalance:
    campaign_id: int
    verified_redemptions: int  # verified and not voided
    attribution_records: int  # not voided

    @property
    def balanced(self) -> bool:
        return self.verified_redemptions == self.attribution_records


@dataclass
class ReconcileResult:
    start: dt.datetime
    end: dt.datetime
    checks: list[str] = field(default_factory=list)
    campaigns: list[CampaignBalance] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.discrepancies


Check = Callable[..., list[Discrepancy]]
_checks: dict[str, Check] = {}


def register_check(name: str) -> Callable[[Check], Check]:
    """Register ``func(*, merchant, start, end) -> list[Discrepancy]`` under ``name`` (once)."""

    def decorator(func: Check) -> Check:
        _checks.setdefault(name, func)
        return func

    return decorator


def registered_checks() -> list[str]:
    return list(_checks)


def reconcile(*, merchant: Merchant, start: dt.datetime, end: dt.datetime) -> ReconcileResult:
    """Run every registered check for the issuer ``merchant`` over [start, end)."""
    result = ReconcileResult(
        start=start, end=end, campaigns=campaign_balances(merchant=merchant, start=start, end=end)
    )
    for name, check in _checks.items():
        result.checks.append(name)
        result.discrepancies.extend(check(merchant=merchant, start=start, end=end))
    return result


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def campaign_balances(*, merchant: Merchant, start: dt.datetime, end: dt.datetime) -> list[CampaignBalance]:
    rows = _rows(
        """
        WITH red AS (
            SELECT r.campaign_id, count(*) AS n
            FROM redemptions_redemption r JOIN campaigns_campaign c ON c.id = r.campaign_id
            WHERE c.merchant_id = %s AND r.status = 'verified'
              AND r.created_at >= %s AND r.created_at < %s
            GROUP BY r.campaign_id
        ), rec AS (
            SELECT a.campaign_id, count(*) AS n
            FROM attribution_attributionrecord a
            WHERE a.issuer_id = %s AND a.voided_at IS NULL
              AND a.redeemed_at >= %s AND a.redeemed_at < %s
            GROUP BY a.campaign_id
        )
        SELECT coalesce(red.campaign_id, rec.campaign_id), coalesce(red.n, 0), coalesce(rec.n, 0)
        FROM red FULL JOIN rec ON rec.campaign_id = red.campaign_id
        ORDER BY 1
        """,
        [merchant.pk, start, end, merchant.pk, start, end],
    )
    return [CampaignBalance(campaign_id=c, verified_redemptions=r, attribution_records=a) for c, r, a in rows]


@register_check("attribution.campaign_counts")
def check_campaign_counts(*, merchant: Merchant, start: dt.datetime, end: dt.datetime) -> list[Discrepancy]:
    return [
        Discrepancy(
            check="attribution.campaign_counts",
            kind="CAMPAIGN_COUNT_MISMATCH",
            campaign_id=b.campaign_id,
            detail=(
                f"{b.verified_redemptions} verified non-voided redemptions but "
                f"{b.attribution_records} non-voided attribution records."
            ),
        )
        for b in campaign_balances(merchant=merchant, start=start, end=end)
        if not b.balanced
    ]


@register_check("attribution.redemptions")
def check_redemptions(*, merchant: Merchant, start: dt.datetime, end: dt.datetime) -> list[Discrepancy]:
    """Every verified (or since voided) redemption has one record with the same facts."""
    name = "attribution.redemptions"
    found: list[Discrepancy] = []
    rows = _rows(
        """
        SELECT r.id, r.campaign_id, r.status, r.order_amount, r.discount_amount, r.fee_amount, r.currency,
               a.id, a.campaign_id, a.voided_at IS NOT NULL, a.order_amount, a.discount_amount,
               a.fee_amount, a.currency
        FROM redemptions_redemption r
        JOIN campaigns_campaign c ON c.id = r.campaign_id
        LEFT JOIN attribution_attributionrecord a ON a.redemption_id = r.id
        WHERE c.merchant_id = %s AND r.status IN ('verified', 'voided')
          AND r.created_at >= %s AND r.created_at < %s
        ORDER BY r.id
        """,
        [merchant.pk, start, end],
    )
    for rid, campaign_id, status, order, discount, fee, currency, aid, a_campaign, a_voided, *a_money in rows:
        if aid is None:
            found.append(
                Discrepancy(
                    name,
                    "REDEMPTION_WITHOUT_RECORD",
                    f"Redemption {rid} ({status}) has no record.",
                    campaign_id,
                    rid,
                )
            )
            continue
        if (status == "voided") != a_voided:
            record_state = "voided" if a_voided else "not voided"
            found.append(
                Discrepancy(
                    name,
                    "VOIDED_MISMATCH",
                    f"Redemption {rid} is {status} but its record is {record_state}.",
                    campaign_id,
                    rid,
                    aid,
                )
            )
        if [order, discount, fee, currency] != list(a_money) or campaign_id != a_campaign:
            found.append(
                Discrepancy(
                    name,
                    "AMOUNT_MISMATCH",
                    f"Redemption {rid} has order/discount/fee/currency {order}/{discount}/{fee}/{currency}, "
                    f"its record {a_money[0]}/{a_money[1]}/{a_money[2]}/{a_money[3]}.",
                    campaign_id,
                    rid,
                    aid,
                )
            )
    return found


@register_check("attribution.records")
def check_records(*, merchant: Merchant, start: dt.datetime, end: dt.datetime) -> list[Discrepancy]:
    """Every record stands on a redemption that was verified (and is still verified or voided)."""
    rows = _rows(
        """
        SELECT a.id, a.campaign_id, a.redemption_id, r.status
        FROM attribution_attributionrecord a
        JOIN redemptions_redemption r ON r.id = a.redemption_id
        WHERE a.issuer_id = %s AND a.redeemed_at >= %s AND a.redeemed_at < %s
          AND r.status NOT IN ('verified', 'voided')
        ORDER BY a.id
        """,
        [merchant.pk, start, end],
    )
    return [
        Discrepancy(
            "attribution.records",
            "RECORD_WITHOUT_VERIFIED_REDEMPTION",
            f"Record {aid} stands on redemption {rid}, which is {status}.",
            campaign_id,
            rid,
            aid,
        )
        for aid, campaign_id, rid, status in rows
    ]


@register_check("attribution.slot_counters")
def check_slot_counters(*, merchant: Merchant, start: dt.datetime, end: dt.datetime) -> list[Discrepancy]:
    """Each campaign's slot counters (a cache) equal its Redemption rows (the truth), all time.

    A write-off takes a unit from a slot; a void gives it back. So the slots' redeemed counts
    sum to the verified, not voided, redemptions, and the spent amounts to their discounts
    plus fees. Campaigns of the issuer that had write-offs in [start, end) are checked.
    """
    rows = _rows(
        """
        WITH touched AS (
            SELECT DISTINCT r.campaign_id FROM redemptions_redemption r
            JOIN campaigns_campaign c ON c.id = r.campaign_id
            WHERE c.merchant_id = %s AND r.created_at >= %s AND r.created_at < %s
        ), slots AS (
            SELECT s.campaign_id, sum(s.redeemed_count) AS n, sum(s.spent_amount) AS spent
            FROM campaigns_campaignslot s JOIN touched t ON t.campaign_id = s.campaign_id
            GROUP BY s.campaign_id
        ), red AS (
            SELECT r.campaign_id, count(*) AS n, sum(r.discount_amount + r.fee_amount) AS spent
            FROM redemptions_redemption r JOIN touched t ON t.campaign_id = r.campaign_id
            WHERE r.status = 'verified' AND r.slot IS NOT NULL
            GROUP BY r.campaign_id
        )
        SELECT t.campaign_id, coalesce(slots.n, 0), coalesce(red.n, 0),
               coalesce(slots.spent, 0), coalesce(red.spent, 0), slots.campaign_id IS NOT NULL
        FROM touched t LEFT JOIN slots ON slots.campaign_id = t.campaign_id
        LEFT JOIN red ON red.campaign_id = t.campaign_id
        ORDER BY 1
        """,
        [merchant.pk, start, end],
    )
    return [
        Discrepancy(
            "attribution.slot_counters",
            "SLOT_COUNTER_MISMATCH",
            f"Slots count {counted} write-offs ({spent} spent) but {rows_n} verified redemptions "
            f"({rows_spent} spent) took a slot.",
            campaign_id,
        )
        for campaign_id, counted, rows_n, spent, rows_spent, has_slots in rows
        if has_slots and (counted != rows_n or spent != rows_spent)
    ]
