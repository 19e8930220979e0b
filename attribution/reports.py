"""Finance reports over attribution records: aggregated in PostgreSQL, shaped with pandas.

One SQL statement per report does all the work over the records (a single GROUP BY with
GROUPING SETS, so the per-currency totals, medians included, come from the same scan),
after a tiny look-up of the currencies in view (with one currency, the common case, the
currency is a constant and stays out of the sort). pandas only ever receives the
aggregated rows (one per group, never a record), in chunks, and derives the ratios.
Nothing here loads record rows into Python.

The statement runs on a plain cursor, not a server-side one: PostgreSQL never runs a
cursor's query in parallel, and outside a transaction Django's server-side cursor is
WITH HOLD, which materializes the result at commit. Its result is the grouped rows,
as many as the groups, so the client-side buffer stays small.

Figures (all over the filtered records; money in integer minor units of ``currency``):

- issued: coupons issued through the placements in view (by issue time when a date range
  is given); only for the placement, campaign and publisher dimensions, and not when a
  store filter is set (coupons have no store).
- redeemed: write-offs not voided; voided: write-offs since voided.
- attributed: redeemed inside the campaign's attribution window (the billable ones).
- gmv, discount: order and discount amounts of redeemed write-offs.
- fees: fees of attributed write-offs (what the issuer is billed), net of fees credited back
  after an upheld dispute, so they agree with the issuer's ledger.
- cost_per_redemption: (discount + fees) / redeemed, rounded half up to a minor unit.
- median_seconds_to_redeem: percentile_cont(0.5) of issue-to-write-off seconds (redeemed).
- CHANNEL and SHARER group by how the coupon was claimed (backend.fans, copied onto the
  record when it is written); coupons issued to a pool fall in the row without a key.
- new_customers: redeemed write-offs that were the fan's first at the issuer; share = / redeemed.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from enum import StrEnum

import pandas as pd
from django.db import connection

from backend.api import ids
from backend.merchants.models import Merchant


class Dimension(StrEnum):
    PLACEMENT = "placement"
    CAMPAIGN = "campaign"
    PUBLISHER = "publisher"
    STORE = "store"
    DAY = "day"
    CHANNEL = "channel"  # the claim channel (wechat-group, share, crm); no key: not claimed
    SHARER = "sharer"  # the fan who shared the coupon's link; no key: not shared
    # One row per write-off, for finance: exported only (reportExportCreate), never a report.
    WRITEOFFS = "writeoffs"


class Side(StrEnum):
    """Whose records: those the merchant issued, those in its pools as a publisher, or both."""

    ANY = "any"
    ISSUER = "issuer"
    PUBLISHER = "publisher"


@dataclass(frozen=True)
class ReportFilters:
    date_from: dt.date | None = None  # inclusive, a day in the viewing merchant's time zone
    date_to: dt.date | None = None  # inclusive
    campaign_id: int | None = None
    publisher_id: int | None = None
    store_id: int | None = None
    currency: str | None = None
    side: Side = Side.ANY

    def as_json(self) -> dict:
        data = asdict(self)
        for name in ("date_from", "date_to"):
            data[name] = data[name].isoformat() if data[name] else None
        data["side"] = str(self.side)
        return data

    @classmethod
    def from_json(cls, data: dict) -> ReportFilters:
        data = dict(data)
        for name in ("date_from", "date_to"):
            data[name] = dt.date.fromisoformat(data[name]) if data.get(name) else None
        data["side"] = Side(data.get("side") or Side.ANY)
        return cls(**data)


ROW_COLUMNS = [
    "key",
    "label",
    "currency",
    "issued",
    "redeemed",
    "redemption_rate",
    "voided",
    "attributed",
    "gmv",
    "discount",
    "fees",
    "cost_per_redemption",
    "median_seconds_to_redeem",
    "new_customers",
    "new_customer_share",
]
TOTAL_COLUMNS = [c for c in ROW_COLUMNS if c not in ("key", "label")]

# Dimensions where "issued" (a coupon count) is meaningful, and the coupon-side key.
_ISSUED_KEY = {
    Dimension.PLACEMENT: "c.placement_id",
    Dimension.CAMPAIGN: "p.campaign_id",
    Dimension.PUBLISHER: "p.publisher_id",
}
# "+ 0": grouped by an indexed column (in one currency, the common case, the whole sort key),
# PostgreSQL would rather walk every record in index order, one random heap read each, than
# scan and sort: 31 s against 10 s over 10,000,000 records (bench scenario 4). An expression
# no index matches leaves it the scan; filters on the same columns still use their indexes.
_RECORD_KEY = {
    Dimension.PLACEMENT: "(r.placement_id + 0)",
    Dimension.CAMPAIGN: "(r.campaign_id + 0)",
    Dimension.PUBLISHER: "(r.publisher_id + 0)",
    Dimension.STORE: "(r.store_id + 0)",
    Dimension.DAY: "(r.redeemed_at AT TIME ZONE %(tz)s)::date",
    Dimension.CHANNEL: "r.channel",
    Dimension.SHARER: "(r.sharer_id + 0)",
}
_LABEL = {
    Dimension.PLACEMENT: (
        "LEFT JOIN campaigns_placement lp ON lp.id = t.key "
        "LEFT JOIN campaigns_campaign lc ON lc.id = lp.campaign_id "
        "LEFT JOIN audience_fanpool lf ON lf.id = lp.pool_id",
        "lc.name || ' / ' || lf.name",
    ),
    Dimension.CAMPAIGN: ("LEFT JOIN campaigns_campaign lc ON lc.id = t.key", "lc.name"),
    Dimension.PUBLISHER: ("LEFT JOIN merchants_merchant lm ON lm.id = t.key", "lm.name"),
    Dimension.STORE: ("LEFT JOIN merchants_store ls ON ls.id = t.key", "ls.name"),
    Dimension.DAY: ("", "to_char(t.key, 'YYYY-MM-DD')"),
    Dimension.CHANNEL: ("", "coalesce(t.key, '(not claimed)')"),
    # A fan has no name to show: the key (its global id) is the label's whole story.
    Dimension.SHARER: ("", "CASE WHEN t.key IS NULL THEN '(not shared)' END"),
}


# Report keys leave the server as relay global ids (or ISO dates for days).
_KEY_TYPE = {
    Dimension.PLACEMENT: "Placement",
    Dimension.CAMPAIGN: "Campaign",
    Dimension.PUBLISHER: "Merchant",
    Dimension.STORE: "Store",
    Dimension.SHARER: "Fan",
}


# The key of the row without a channel or sharer (coupons issued to a pool, or not shared):
# no channel starts with "-" (CHANNEL_RE in backend.fans) and no global id is "-".
NO_KEY = "-"


def encode_key(dimension: Dimension, key) -> str | None:
    if key is None or (not isinstance(key, dt.date) and pd.isna(key)):
        return NO_KEY if dimension in (Dimension.CHANNEL, Dimension.SHARER) else None
    if dimension == Dimension.DAY:
        return key.isoformat()
    if dimension == Dimension.CHANNEL:
        return str(key)
    return ids.encode(_KEY_TYPE[dimension], int(key))


def period_bounds(
    merchant: Merchant, date_from: dt.date | None, date_to: dt.date | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[start, end) as aware datetimes for inclusive days in the merchant's time zone."""
    tz = zoneinfo.ZoneInfo(merchant.timezone)
    start = dt.datetime.combine(date_from, dt.time.min, tzinfo=tz) if date_from else None
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz) if date_to else None
    return start, end


def report_sql(*, merchant: Merchant, dimension: Dimension, filters: ReportFilters) -> tuple[str, dict]:
    """The one statement computing a report's rows and per-currency totals (is_total = 1)."""
    start, end = period_bounds(merchant, filters.date_from, filters.date_to)
    params = {
        "m": merchant.pk,
        "tz": merchant.timezone,
        "start": start,
        "end": end,
        "campaign": filters.campaign_id,
        "publisher": filters.publisher_id,
        "store": filters.store_id,
        "currency": filters.currency,
    }
    scope = {
        Side.ANY: "(r.issuer_id = %(m)s OR r.publisher_id = %(m)s)",
        Side.ISSUER: "r.issuer_id = %(m)s",
        Side.PUBLISHER: "r.publisher_id = %(m)s",
    }[filters.side]
    where = [scope]
    if start is not None:
        where.append("r.redeemed_at >= %(start)s")
    if end is not None:
        where.append("r.redeemed_at < %(end)s")
    if filters.campaign_id is not None:
        where.append("r.campaign_id = %(campaign)s")
    if filters.publisher_id is not None:
        where.append("r.publisher_id = %(publisher)s")
    if filters.store_id is not None:
        where.append("r.store_id = %(store)s")
    if filters.currency:
        where.append("r.currency = %(currency)s")
    key = _RECORD_KEY[dimension]
    currency, grouping = _currency_grouping("r", key, filters)
    live = "r.voided_at IS NULL"
    # Only fixed fragments from this module are interpolated; every value is a parameter.
    records = f"""
        SELECT {currency}, {key} AS key, GROUPING({key}) AS is_total, 0::bigint AS issued,
            count(*) FILTER (WHERE {live}) AS redeemed,
            count(*) FILTER (WHERE r.voided_at IS NOT NULL) AS voided,
            count(*) FILTER (WHERE {live} AND r.in_attribution_window) AS attributed,
            coalesce(sum(r.order_amount) FILTER (WHERE {live}), 0) AS gmv,
            coalesce(sum(r.discount_amount) FILTER (WHERE {live}), 0) AS discount,
            coalesce(sum(r.fee_amount - r.fee_credited) FILTER (WHERE {live} AND r.in_attribution_window), 0)
                AS fees,
            count(*) FILTER (WHERE {live} AND r.is_new_customer) AS new_customers,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY r.seconds_to_redeem)
                FILTER (WHERE {live}) AS median_seconds_to_redeem
        FROM attribution_attributionrecord r
        WHERE {" AND ".join(where)}
        GROUP BY {grouping}
        HAVING count(*) > 0
    """  # noqa: S608
    parts = [records]
    if dimension in _ISSUED_KEY and filters.store_id is None:
        parts.append(_issued_sql(dimension, filters, start, end))
    body = " UNION ALL ".join(parts)
    joins, label = _LABEL[dimension]
    sql = f"""
        WITH t AS (
            SELECT currency, key, is_total, sum(issued)::bigint AS issued, sum(redeemed)::bigint AS redeemed,
                sum(voided)::bigint AS voided, sum(attributed)::bigint AS attributed,
                sum(gmv)::bigint AS gmv, sum(discount)::bigint AS discount, sum(fees)::bigint AS fees,
                sum(new_customers)::bigint AS new_customers,
                max(median_seconds_to_redeem) AS median_seconds_to_redeem
            FROM ({body}) u
            GROUP BY currency, key, is_total
        )
        SELECT t.is_total, t.key, CASE WHEN t.is_total = 1 THEN NULL ELSE {label} END AS label, t.currency,
            t.issued, t.redeemed, t.voided, t.attributed, t.gmv, t.discount, t.fees, t.new_customers,
            t.median_seconds_to_redeem
        FROM t {joins}
        ORDER BY t.is_total, t.key, t.currency
    """  # noqa: S608
    return sql, params


def _currency_grouping(alias: str, key: str, filters: ReportFilters) -> tuple[str, str]:
    """The currency column and the grouping sets: rows per (currency, key), a total per currency.

    With a currency filter the currency is a constant, so it stays out of the sort key
    (the sort is most of a report's cost).
    """
    if filters.currency:
        return "%(currency)s::varchar AS currency", f"GROUPING SETS (({key}), ())"
    return f"{alias}.currency", f"GROUPING SETS (({alias}.currency, {key}), ({alias}.currency))"


def _issued_sql(
    dimension: Dimension, filters: ReportFilters, start: dt.datetime | None, end: dt.datetime | None
) -> str:
    key = _ISSUED_KEY[dimension]
    scope = {
        Side.ANY: "(p.issuer_id = %(m)s OR p.publisher_id = %(m)s)",
        Side.ISSUER: "p.issuer_id = %(m)s",
        Side.PUBLISHER: "p.publisher_id = %(m)s",
    }[filters.side]
    where = [scope]
    if start is not None:
        where.append("c.issued_at >= %(start)s")
    if end is not None:
        where.append("c.issued_at < %(end)s")
    if filters.campaign_id is not None:
        where.append("p.campaign_id = %(campaign)s")
    if filters.publisher_id is not None:
        where.append("p.publisher_id = %(publisher)s")
    if filters.currency:
        where.append("cp.currency = %(currency)s")
    currency, grouping = _currency_grouping("cp", key, filters)
    return f"""
        SELECT {currency}, {key} AS key, GROUPING({key}) AS is_total, count(*) AS issued,
            0, 0, 0, 0, 0, 0, 0, NULL::double precision
        FROM coupons_coupon c
        JOIN campaigns_placement p ON p.id = c.placement_id
        JOIN campaigns_campaign cp ON cp.id = p.campaign_id
        WHERE {" AND ".join(where)}
        GROUP BY {grouping}
        HAVING count(*) > 0
    """  # noqa: S608


_SQL_COLUMNS = [
    "is_total",
    "key",
    "label",
    "currency",
    "issued",
    "redeemed",
    "voided",
    "attributed",
    "gmv",
    "discount",
    "fees",
    "new_customers",
    "median_seconds_to_redeem",
]


def shape(aggregated: list[tuple], *, has_issued: bool) -> pd.DataFrame:
    """Derive the ratios from aggregated rows (one per group): vectorised, integer money."""
    frame = pd.DataFrame.from_records(aggregated, columns=_SQL_COLUMNS)
    money = ["issued", "redeemed", "voided", "attributed", "gmv", "discount", "fees", "new_customers"]
    frame[money] = frame[money].astype("int64")
    frame["median_seconds_to_redeem"] = frame["median_seconds_to_redeem"].astype("float64")
    redeemed = frame["redeemed"]
    cost = frame["discount"] + frame["fees"]
    # Half up in integers: floor((2 * cost + n) / (2 * n)); undefined without redemptions.
    frame["cost_per_redemption"] = ((2 * cost + redeemed) // (2 * redeemed).where(redeemed > 0)).astype(
        "Int64"
    )
    frame["new_customer_share"] = frame["new_customers"] / redeemed.where(redeemed > 0)
    if has_issued:
        issued = frame["issued"]
        frame["redemption_rate"] = redeemed / issued.where(issued > 0)
        frame["issued"] = issued.astype("Int64")
    else:
        frame["redemption_rate"] = float("nan")
        frame["issued"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    return frame


@dataclass
class Report:
    dimension: Dimension
    rows: pd.DataFrame  # ROW_COLUMNS
    totals: pd.DataFrame  # TOTAL_COLUMNS, one row per currency


_VISIBLE_CURRENCIES = """
    SELECT DISTINCT v.currency FROM (
        SELECT c.id, c.currency FROM campaigns_campaign c
        WHERE %(issuer_side)s AND c.merchant_id = %(m)s
        UNION ALL
        SELECT c.id, c.currency FROM campaigns_campaign c JOIN campaigns_placement p ON p.campaign_id = c.id
        WHERE %(publisher_side)s AND p.publisher_id = %(m)s
    ) v
    WHERE (%(campaign)s::bigint IS NULL OR v.id = %(campaign)s)
      AND (%(publisher)s::bigint IS NULL OR EXISTS (
            SELECT 1 FROM campaigns_placement q WHERE q.campaign_id = v.id AND q.publisher_id = %(publisher)s))
    ORDER BY 1 LIMIT 2
"""


def visible_currencies(*, merchant: Merchant, filters: ReportFilters) -> list[str]:
    """Currencies of the campaigns the merchant sees (up to two: enough to tell one from many).

    A verified write-off is always in its campaign's currency (the write-off path rejects
    any other), so these bound the currencies of the records in view.
    """
    params = {
        "m": merchant.pk,
        "issuer_side": filters.side in (Side.ANY, Side.ISSUER),
        "publisher_side": filters.side in (Side.ANY, Side.PUBLISHER),
        "campaign": filters.campaign_id,
        "publisher": filters.publisher_id,
    }
    sql = _VISIBLE_CURRENCIES
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def report_statement(
    *, merchant: Merchant, dimension: Dimension, filters: ReportFilters
) -> tuple[str, dict] | None:
    """The statement a report runs (report_sql), None when no campaign is in view.

    With one currency in view (the common case) the currency becomes a constant filter, so
    it leaves the sort key.
    """
    if filters.currency is None:
        currencies = visible_currencies(merchant=merchant, filters=filters)
        if not currencies:
            return None
        if len(currencies) == 1:
            filters = replace(filters, currency=currencies[0])
    return report_sql(merchant=merchant, dimension=dimension, filters=filters)


def report_chunks(
    *, merchant: Merchant, dimension: Dimension, filters: ReportFilters, chunk_size: int = 5000
) -> Iterator[pd.DataFrame]:
    """The report's aggregated rows in chunks, totals rows last.

    Each chunk has ROW_COLUMNS plus ``is_total``; exports stream these straight to files.
    """
    has_issued = dimension in _ISSUED_KEY and filters.store_id is None
    statement = report_statement(merchant=merchant, dimension=dimension, filters=filters)
    if statement is None:
        return  # no campaign in view: nothing to aggregate
    sql, params = statement
    with connection.cursor() as cursor:  # a plain cursor: see the module's docstring
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            frame = shape(rows, has_issued=has_issued)
            yield frame[["is_total", *ROW_COLUMNS]]


def build_report(*, merchant: Merchant, dimension: Dimension, filters: ReportFilters) -> Report:
    """The whole report (rows and per-currency totals) for the viewing ``merchant``."""
    chunks = list(report_chunks(merchant=merchant, dimension=dimension, filters=filters))
    frame = pd.concat(chunks, ignore_index=True) if chunks else shape([], has_issued=False)
    is_total = frame["is_total"] == 1
    rows = frame.loc[~is_total, ROW_COLUMNS].reset_index(drop=True)
    totals = frame.loc[is_total, TOTAL_COLUMNS].reset_index(drop=True)
    return Report(dimension=dimension, rows=rows, totals=totals)
