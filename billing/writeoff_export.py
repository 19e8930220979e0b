"""Record-level export for finance: one row per write-off of the issuer's campaigns, with
its campaign, placement, publisher, store, terminal, amounts, the fee's split, the ledger
state of its charge and the invoice that carries it. Run through attribution's export jobs
(``reportExportCreate(dimension: WRITEOFFS)``) as CSV, XLSX and Parquet.

Rows come from a server-side cursor in chunks, so memory stays flat however many write-offs
there are. Amounts are integer minor units; ids are the API's global ids.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator

import pyarrow as pa
from django.db import connection, transaction

from attribution.exports import RECORD_SOURCES, RecordSource
from attribution.reports import ReportFilters
from backend.api import ids
from backend.merchants.models import Merchant

SCHEMA = pa.schema(
    [
        ("redemption_id", pa.string()),
        ("written_off_at", pa.string()),
        ("status", pa.string()),
        ("voided_at", pa.string()),
        ("campaign_id", pa.string()),
        ("campaign_name", pa.string()),
        ("placement_id", pa.string()),
        ("publisher_id", pa.string()),
        ("publisher_name", pa.string()),
        ("store_id", pa.string()),
        ("store_name", pa.string()),
        ("terminal_id", pa.string()),
        ("code", pa.string()),
        ("currency", pa.string()),
        ("order_amount", pa.int64()),
        ("discount_amount", pa.int64()),
        ("fee_amount", pa.int64()),
        ("publisher_share", pa.int64()),
        ("network_share", pa.int64()),
        ("reimbursement", pa.int64()),  # owed to the partner whose store wrote it off; empty at own stores
        ("ledger_state", pa.string()),
        ("invoice_id", pa.string()),
        ("invoice_status", pa.string()),
    ]
)

_SQL = """
SELECT r.id, r.created_at, r.status, r.voided_at, r.campaign_id, ca.name, r.placement_id,
       pl.publisher_id, pub.name, r.store_id, st.name, t.uid, r.code, r.currency,
       r.order_amount, r.discount_amount, r.fee_amount,
       ch.publisher_share, ch.network_share, ch.reimbursement, ch.ledger_state, ch.invoice_id, inv.status
  FROM redemptions_redemption r
  JOIN campaigns_campaign ca ON ca.id = r.campaign_id
  JOIN merchants_store st ON st.id = r.store_id
  JOIN merchants_terminal t ON t.id = r.terminal_id
  LEFT JOIN campaigns_placement pl ON pl.id = r.placement_id
  LEFT JOIN merchants_merchant pub ON pub.id = pl.publisher_id
  LEFT JOIN LATERAL (
        SELECT -sum(e.amount) FILTER (WHERE e.account_kind = 'publisher_payable') AS publisher_share,
               -sum(e.amount) FILTER (WHERE e.account_kind = 'platform_revenue') AS network_share,
               -sum(e.amount) FILTER (WHERE e.account_kind = 'partner_payable') AS reimbursement,
               max(e.state) FILTER (WHERE e.account_kind = 'issuer_receivable') AS ledger_state,
               max(e.invoice_id) FILTER (WHERE e.account_kind = 'issuer_receivable') AS invoice_id
          FROM billing_posting po JOIN billing_ledgerentry e ON e.posting_id = po.id
         WHERE po.redemption_id = r.id AND po.kind = 'charge') ch ON true
  LEFT JOIN billing_invoice inv ON inv.id = ch.invoice_id
 WHERE ca.merchant_id = %(merchant)s AND r.status IN ('verified', 'voided') {where}
 ORDER BY r.id
"""


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _row(raw: tuple) -> tuple:
    (rid, created, status, voided, campaign, campaign_name, placement, publisher, publisher_name, store,
     store_name, terminal_uid, code, currency, order, discount, fee, pub_share, net_share, reimbursement, state,
     invoice, invoice_status) = raw  # fmt: skip
    return (
        ids.encode("Redemption", rid),
        _iso(created),
        status,
        _iso(voided),
        ids.encode("Campaign", campaign),
        campaign_name,
        ids.encode("Placement", placement) if placement else None,
        ids.encode("Merchant", publisher) if publisher else None,
        publisher_name,
        ids.encode("Store", store),
        store_name,
        terminal_uid,
        code,
        currency,
        order,
        discount,
        fee,
        pub_share,
        net_share,
        reimbursement,
        state,
        ids.encode("Invoice", invoice) if invoice else None,
        invoice_status,
    )


def writeoff_chunks(
    *, merchant: Merchant, filters: ReportFilters, chunk_size: int = 5000
) -> Iterator[list[tuple]]:
    """The issuer's write-offs (verified or voided) in id order, ``chunk_size`` rows at a time."""
    where, params = [], {"merchant": merchant.pk}
    tz = zoneinfo.ZoneInfo(merchant.timezone)
    if filters.date_from:
        where.append("AND r.created_at >= %(start)s")
        params["start"] = dt.datetime.combine(filters.date_from, dt.time(), tzinfo=tz)
    if filters.date_to:
        where.append("AND r.created_at < %(end)s")
        params["end"] = dt.datetime.combine(filters.date_to + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    if filters.campaign_id:
        where.append("AND r.campaign_id = %(campaign)s")
        params["campaign"] = filters.campaign_id
    if filters.store_id:
        where.append("AND r.store_id = %(store)s")
        params["store"] = filters.store_id
    if filters.currency:
        where.append("AND r.currency = %(currency)s")
        params["currency"] = filters.currency
    with transaction.atomic():
        cursor = connection.chunked_cursor()  # a server-side cursor: rows arrive chunk by chunk
        try:
            cursor.execute(_SQL.format(where=" ".join(where)), params)
            while rows := cursor.fetchmany(chunk_size):
                yield [_row(raw) for raw in rows]
        finally:
            cursor.close()


def register() -> None:
    RECORD_SOURCES["writeoffs"] = RecordSource(schema=SCHEMA, chunks=writeoff_chunks)
