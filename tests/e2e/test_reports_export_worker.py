"""An export requested over a real socket is written by a real Celery worker and downloaded."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import requests

from tests.conftest import load_operation, wait_for
from tests.factories import (
    CouponFactory,
    MerchantFactory,
    PlacementFactory,
    StoreFactory,
    active_campaign,
    attribution_dispatch,
    attribution_writeoff,
    make_api_key,
    make_terminal,
)


def test_export_through_the_worker(live_api, celery_worker_process):
    merchant = MerchantFactory(timezone="Asia/Shanghai")
    campaign = active_campaign(merchant=merchant, amount_off=500, fee_per_redemption=120)
    placement = PlacementFactory(campaign=campaign)
    terminal, _ = make_terminal(StoreFactory(merchant=merchant))
    at = dt.datetime(2026, 10, 10, 4, 0, tzinfo=dt.UTC)
    for day in range(3):
        coupon = CouponFactory(placement=placement, issued_at=at - dt.timedelta(days=1))
        redemption = attribution_writeoff(
            coupon=coupon, terminal=terminal, order_amount=2000, at=at + dt.timedelta(days=day)
        )
        attribution_dispatch(redemption)
    key = make_api_key(merchant, "finance")

    created = live_api.execute(load_operation("reports_export_create"), {"dimension": "DAY"}, key=key).ok()
    export_id = created["reportExportCreate"]["export"]["id"]

    def finished():
        data = live_api.execute(load_operation("reports_export"), {"id": export_id}, key=key).ok()[
            "reportExport"
        ]
        return data if data["status"] in ("SUCCEEDED", "FAILED") else None

    export = wait_for(finished, timeout=60, interval=0.5)
    assert export["status"] == "SUCCEEDED", export["error"]
    assert export["rowCount"] == 3
    links = {d["format"]: d["url"] for d in export["downloads"]}
    parquet = requests.get(links["parquet"], timeout=30)
    assert parquet.status_code == 200
    frame = pd.read_parquet(io.BytesIO(parquet.content))
    rows = frame[~frame["is_total"]]
    assert list(rows["key"]) == ["2026-10-10", "2026-10-11", "2026-10-12"]
    assert list(rows["fees"]) == [120, 120, 120]
    png = requests.get(links["png"], timeout=30)
    assert png.headers["Content-Type"] == "image/png" and png.content[:4] == b"\x89PNG"
