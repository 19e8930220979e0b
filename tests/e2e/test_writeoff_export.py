"""The record-level export for finance, through the export jobs and a real worker: one row
per write-off, equal to the ledger, in CSV, XLSX and Parquet."""

from __future__ import annotations

import csv
import io

import openpyxl
import pandas as pd
import pytest
import requests

from backend.api import ids
from backend.outbox.models import OutboxEvent
from backend.outbox.services import process_event
from backend.redemptions.services import void_redemption
from billing.models import LedgerEntry, Posting
from tests.conftest import load_operation, wait_for
from tests.factories import MerchantFactory, make_api_key, pos_setup, redeem


def drain_outbox():
    for event_id in (
        OutboxEvent.objects.filter(dispatched_at__isnull=True).order_by("id").values_list("pk", flat=True)
    ):
        process_event(event_id)


def test_one_row_per_write_off_equal_to_the_ledger(live_api, celery_worker_process):
    setup = pos_setup(coupons=5)
    kept = [redeem(setup, c.code, amount=2000 + 100 * i) for i, c in enumerate(setup.coupons[:4])]
    redeem(setup, "NOTACODE0000")  # rejected: not a write-off
    other = pos_setup(coupons=1)
    redeem(other)  # another issuer's: never in this export
    drain_outbox()
    wait_for(lambda: Posting.objects.filter(kind="charge").count() == 5)
    void_redemption(terminal=setup.terminal, redemption_id=kept[1].pk)  # after its charge: reversed
    drain_outbox()
    wait_for(lambda: Posting.objects.filter(kind="reversal").count() == 1)
    key = make_api_key(setup.merchant, "finance")

    created = live_api.execute(
        load_operation("reports_export_create"), {"dimension": "WRITEOFFS"}, key=key
    ).ok()
    export_id = created["reportExportCreate"]["export"]["id"]

    def finished():
        data = live_api.execute(load_operation("reports_export"), {"id": export_id}, key=key).ok()[
            "reportExport"
        ]
        return data if data["status"] in ("SUCCEEDED", "FAILED") else None

    export = wait_for(finished, timeout=60, interval=0.5)
    assert export["status"] == "SUCCEEDED", export["error"]
    assert export["rowCount"] == 4
    links = {d["format"]: d["url"] for d in export["downloads"]}
    assert set(links) == {"csv", "xlsx", "parquet"}

    frame = pd.read_parquet(io.BytesIO(requests.get(links["parquet"], timeout=30).content))
    rows = list(csv.DictReader(io.StringIO(requests.get(links["csv"], timeout=30).text)))
    book = openpyxl.load_workbook(io.BytesIO(requests.get(links["xlsx"], timeout=30).content), read_only=True)
    sheet_rows = list(book.active.iter_rows(values_only=True))
    assert len(frame) == len(rows) == len(sheet_rows) - 1 == 4
    assert list(frame["redemption_id"]) == [ids.encode("Redemption", r.pk) for r in kept]

    for redemption, (_, row), csv_row in zip(kept, frame.iterrows(), rows, strict=True):
        redemption.refresh_from_db()
        charge = Posting.objects.get(redemption=redemption, kind="charge")
        lines = {line.account_kind: line for line in LedgerEntry.objects.filter(posting=charge)}
        assert row["status"] == redemption.status
        assert (row["order_amount"], row["discount_amount"], row["fee_amount"]) == (
            redemption.order_amount,
            redemption.discount_amount,
            redemption.fee_amount,
        )
        assert row["publisher_share"] == -lines["publisher_payable"].amount
        assert row["network_share"] == -lines["platform_revenue"].amount
        assert (
            row["publisher_share"] + row["network_share"]
            == lines["issuer_receivable"].amount
            == row["fee_amount"]
        )
        assert row["ledger_state"] == lines["issuer_receivable"].state
        assert row["campaign_id"] == ids.encode("Campaign", setup.campaign.pk)
        assert row["placement_id"] == ids.encode("Placement", setup.placement.pk)
        assert row["publisher_id"] == ids.encode("Merchant", setup.placement.publisher_id)
        assert (
            row["store_id"] == ids.encode("Store", setup.store.pk)
            and row["terminal_id"] == setup.terminal.uid
        )
        assert pd.isna(row["reimbursement"]) and pd.isna(row["invoice_id"])
        assert (
            csv_row["redemption_id"] == row["redemption_id"]
            and int(csv_row["fee_amount"]) == row["fee_amount"]
        )
    assert frame.loc[1, "status"] == "voided" and frame.loc[1, "ledger_state"] == "reversed"
    assert frame["fee_amount"].sum() == sum(
        LedgerEntry.objects.filter(
            posting__kind="charge", account_kind="issuer_receivable", issuer=setup.merchant
        ).values_list("amount", flat=True)
    )


@pytest.mark.django_db
def test_write_offs_are_exported_not_reported(api):
    key = make_api_key(MerchantFactory(), "finance")
    answer = api.execute(load_operation("attribution_report"), {"dimension": "WRITEOFFS"}, key=key)
    assert answer.error_codes == ["INVALID"]
