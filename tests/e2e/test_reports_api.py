"""Finance reports over HTTP: every figure checked against an independent computation.

A seeded network (two issuers, two publishers, a third merchant, several stores, voids,
write-offs outside the attribution window, a fan writing off twice at one issuer) is
turned into attribution records by the outbox handler; the expected figures are
computed here in Python from the seeded facts, not from the records.
"""

from __future__ import annotations

import datetime as dt
import io
import statistics
import time
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from unittest import mock

import pandas as pd
import pytest

from attribution import handlers, recording, services
from backend.api import ids
from tests.factories import (
    CouponFactory,
    FanFactory,
    FanPoolFactory,
    MerchantFactory,
    PlacementFactory,
    StoreFactory,
    active_campaign,
    attribution_void,
    attribution_writeoff,
    make_api_key,
    make_terminal,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
BASE = dt.datetime(2026, 10, 5, 12, 0, tzinfo=UTC)


@dataclass
class Fact:
    redemption_id: int
    campaign: object
    placement: object
    issuer_id: int
    publisher_id: int
    store_id: int
    fan_id: int
    issued_at: dt.datetime
    redeemed_at: dt.datetime
    order: int
    discount: int
    fee: int
    currency: str
    window_days: int
    voided: bool = False

    @property
    def in_window(self) -> bool:
        return self.redeemed_at - self.issued_at <= dt.timedelta(days=self.window_days)


class Event:
    def __init__(self, redemption_id):
        self.payload = {"redemption_id": redemption_id}


@pytest.fixture
def world():
    issuer = MerchantFactory(name="Dessert Shop", timezone="Asia/Shanghai")
    issuer2 = MerchantFactory(name="Tea House", timezone="America/New_York", default_currency="USD")
    pub1 = MerchantFactory(name="Cartoon Brand")
    pub2 = MerchantFactory(name="Game Studio")
    third = MerchantFactory(name="Bystander")
    pool1 = FanPoolFactory(merchant=pub1, name="cartoon fans")
    pool2 = FanPoolFactory(merchant=pub2, name="gamers")
    c1 = active_campaign(
        merchant=issuer, name="5 off", amount_off=500, fee_per_redemption=120, attribution_window_days=7
    )
    c2 = active_campaign(
        merchant=issuer, name="3 off", amount_off=300, fee_per_redemption=200, attribution_window_days=3
    )
    c3 = active_campaign(
        merchant=issuer2,
        name="1 off",
        amount_off=100,
        fee_per_redemption=50,
        currency="USD",
        attribution_window_days=30,
    )
    placements = {
        "c1p1": PlacementFactory(campaign=c1, pool=pool1),
        "c1p2": PlacementFactory(campaign=c1, pool=pool2),
        "c2p1": PlacementFactory(campaign=c2, pool=pool1),
        "c3p2": PlacementFactory(campaign=c3, pool=pool2),
    }
    s1, s2 = StoreFactory(merchant=issuer, name="Main St"), StoreFactory(merchant=issuer, name="Mall")
    s3 = StoreFactory(merchant=issuer2, name="Downtown")
    terminals = {s.pk: make_terminal(s)[0] for s in (s1, s2, s3)}
    repeat_fan = FanFactory()
    facts: list[Fact] = []
    coupons = defaultdict(int)

    def writeoff(key, store, *, issued_days_ago, redeemed_hours, order, fan=None, void=False, ordinal=1):
        placement = placements[key]
        issued_at = BASE - dt.timedelta(days=issued_days_ago)
        redeemed_at = BASE + dt.timedelta(hours=redeemed_hours)
        kwargs = {"fan": fan} if fan else {}
        coupon = CouponFactory(placement=placement, issued_at=issued_at, ordinal=ordinal, **kwargs)
        coupons[placement.pk] += 1
        redemption = attribution_writeoff(
            coupon=coupon, terminal=terminals[store.pk], order_amount=order, at=redeemed_at
        )
        campaign = placement.campaign
        fact = Fact(
            redemption_id=redemption.pk,
            campaign=campaign,
            placement=placement,
            issuer_id=campaign.merchant_id,
            publisher_id=placement.publisher_id,
            store_id=store.pk,
            fan_id=coupon.fan_id,
            issued_at=issued_at,
            redeemed_at=redeemed_at,
            order=order,
            discount=min(campaign.amount_off, order),
            fee=campaign.fee_per_redemption,
            currency=campaign.currency,
            window_days=campaign.attribution_window_days,
        )
        handlers.record_verified(Event(redemption.pk))
        if void:
            attribution_void(redemption, at=redeemed_at + dt.timedelta(minutes=5))
            handlers.record_voided(Event(redemption.pk))
            fact.voided = True
        facts.append(fact)

    writeoff("c1p1", s1, issued_days_ago=1, redeemed_hours=0, order=3000)
    writeoff("c1p1", s1, issued_days_ago=2, redeemed_hours=3, order=4500)
    writeoff("c1p1", s2, issued_days_ago=10, redeemed_hours=5, order=2000)  # outside 7 days
    writeoff("c1p1", s2, issued_days_ago=1, redeemed_hours=11, order=400)  # 19:00 UTC = next day in Shanghai
    writeoff("c1p1", s1, issued_days_ago=3, redeemed_hours=24, order=6000, void=True)
    writeoff("c1p2", s1, issued_days_ago=5, redeemed_hours=30, order=2500, fan=repeat_fan)
    writeoff("c1p2", s2, issued_days_ago=1, redeemed_hours=-20, order=1800)
    writeoff("c2p1", s2, issued_days_ago=4, redeemed_hours=2, order=1000)  # outside 3 days
    writeoff("c2p1", s1, issued_days_ago=1, redeemed_hours=26, order=900, fan=repeat_fan)
    writeoff("c2p1", s1, issued_days_ago=2, redeemed_hours=50, order=1500, void=True)
    writeoff("c3p2", s3, issued_days_ago=6, redeemed_hours=1, order=700)
    writeoff("c3p2", s3, issued_days_ago=40, redeemed_hours=2, order=800)  # outside 30 days
    writeoff("c3p2", s3, issued_days_ago=2, redeemed_hours=-14, order=1200, fan=repeat_fan)
    # Coupons issued but never written off.
    for key, n in (("c1p1", 4), ("c1p2", 2), ("c2p1", 3), ("c3p2", 5)):
        for _ in range(n):
            CouponFactory(placement=placements[key], issued_at=BASE - dt.timedelta(days=1))
            coupons[placements[key].pk] += 1
    return {
        "issuer": issuer,
        "issuer2": issuer2,
        "pub1": pub1,
        "pub2": pub2,
        "third": third,
        "placements": placements,
        "stores": (s1, s2, s3),
        "facts": facts,
        "coupons": dict(coupons),
        "campaigns": (c1, c2, c3),
        "repeat_fan": repeat_fan,
    }


def new_customer_ids(facts: list[Fact]) -> set[int]:
    first: dict[tuple[int, int], Fact] = {}
    for f in sorted((f for f in facts if not f.voided), key=lambda f: (f.redeemed_at, f.redemption_id)):
        first.setdefault((f.issuer_id, f.fan_id), f)
    return {f.redemption_id for f in first.values()}


def half_up(numerator: int, denominator: int) -> int:
    return int((Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def expected_figures(group: list[Fact], all_facts: list[Fact], issued: int | None) -> dict:
    news = new_customer_ids(all_facts)
    live = [f for f in group if not f.voided]
    redeemed = len(live)
    discount = sum(f.discount for f in live)
    fees = sum(f.fee for f in live if f.in_window)
    new = sum(1 for f in live if f.redemption_id in news)
    return {
        "issued": issued,
        "redeemed": redeemed,
        "redemptionRate": pytest.approx(redeemed / issued) if issued else None,
        "voided": sum(1 for f in group if f.voided),
        "attributed": sum(1 for f in live if f.in_window),
        "gmv": sum(f.order for f in live),
        "discount": discount,
        "fees": fees,
        "costPerRedemption": half_up(discount + fees, redeemed) if redeemed else None,
        "medianSecondsToRedeem": (
            pytest.approx(statistics.median((f.redeemed_at - f.issued_at).total_seconds() for f in live))
            if live
            else None
        ),
        "newCustomers": new,
        "newCustomerShare": pytest.approx(new / redeemed) if redeemed else None,
    }


def run_report(api, operation, key, dimension, filter=None):
    return api.execute(
        operation("attribution_report"), {"dimension": dimension, "filter": filter or {}}, key=key
    )


def as_numbers(row: dict) -> dict:
    """BigInt fields arrive as JSON numbers; keep just the figures."""
    return {k: v for k, v in row.items() if k not in ("key", "label", "currency")}


def test_placement_funnel_matches_the_facts(api, operation, world):
    key = make_api_key(world["issuer"], "finance")
    data = run_report(api, operation, key, "PLACEMENT").ok()["attributionReport"]
    facts = world["facts"]
    issuer_facts = [f for f in facts if f.issuer_id == world["issuer"].pk]
    expected_keys = {
        ids.encode("Placement", p.pk): p
        for name, p in world["placements"].items()
        if p.issuer_id == world["issuer"].pk
    }
    assert {r["key"] for r in data["rows"]} == set(expected_keys)
    for row in data["rows"]:
        placement = expected_keys[row["key"]]
        group = [f for f in issuer_facts if f.placement.pk == placement.pk]
        assert row["currency"] == "CNY"
        assert row["label"] == f"{placement.campaign.name} / {placement.pool.name}"
        assert as_numbers(row) == expected_figures(group, facts, world["coupons"][placement.pk]), row["label"]
    (total,) = data["totals"]
    issued = sum(world["coupons"][p.pk] for p in expected_keys.values())
    assert total["currency"] == "CNY"
    assert as_numbers(total) == expected_figures(issuer_facts, facts, issued)


@pytest.mark.parametrize("dimension", ["CAMPAIGN", "PUBLISHER", "STORE"])
def test_other_dimensions_match_the_facts(api, operation, world, dimension):
    key = make_api_key(world["issuer"], "brand")
    data = run_report(api, operation, key, dimension).ok()["attributionReport"]
    facts = world["facts"]
    issuer_facts = [f for f in facts if f.issuer_id == world["issuer"].pk]
    key_of = {
        "CAMPAIGN": lambda f: ids.encode("Campaign", f.campaign.pk),
        "PUBLISHER": lambda f: ids.encode("Merchant", f.publisher_id),
        "STORE": lambda f: ids.encode("Store", f.store_id),
    }[dimension]
    groups = defaultdict(list)
    for f in issuer_facts:
        groups[key_of(f)].append(f)
    issued_of = defaultdict(int)
    for p in world["placements"].values():
        if p.issuer_id != world["issuer"].pk:
            continue
        k = (
            ids.encode("Campaign", p.campaign_id)
            if dimension == "CAMPAIGN"
            else ids.encode("Merchant", p.publisher_id)
        )
        issued_of[k] += world["coupons"][p.pk]
    assert {r["key"] for r in data["rows"]} == set(groups)
    for row in data["rows"]:
        issued = None if dimension == "STORE" else issued_of[row["key"]]
        assert as_numbers(row) == expected_figures(groups[row["key"]], facts, issued)


def test_days_are_in_the_merchants_time_zone(api, operation, world):
    key = make_api_key(world["issuer"], "finance")
    data = run_report(api, operation, key, "DAY").ok()["attributionReport"]
    tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    facts = world["facts"]
    groups = defaultdict(list)
    for f in facts:
        if f.issuer_id == world["issuer"].pk:
            groups[f.redeemed_at.astimezone(tz).date().isoformat()].append(f)
    assert [r["key"] for r in data["rows"]] == sorted(groups)
    for row in data["rows"]:
        assert as_numbers(row) == expected_figures(groups[row["key"]], facts, None)
    # 2026-10-05 23:00 UTC is already the 6th in Shanghai.
    assert "2026-10-06" in groups


def test_filters_narrow_the_rows(api, operation, world):
    key = make_api_key(world["issuer"], "finance")
    c1 = world["campaigns"][0]
    s1 = world["stores"][0]
    filt = {
        "dateFrom": "2026-10-05",
        "dateTo": "2026-10-06",
        "campaignId": ids.encode("Campaign", c1.pk),
        "storeId": ids.encode("Store", s1.pk),
        "currency": "CNY",
    }
    data = run_report(api, operation, key, "PUBLISHER", filt).ok()["attributionReport"]
    tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    start = dt.datetime(2026, 10, 5, tzinfo=tz)
    end = dt.datetime(2026, 10, 7, tzinfo=tz)
    facts = world["facts"]
    chosen = [
        f for f in facts if f.campaign.pk == c1.pk and f.store_id == s1.pk and start <= f.redeemed_at < end
    ]
    groups = defaultdict(list)
    for f in chosen:
        groups[ids.encode("Merchant", f.publisher_id)].append(f)
    assert {r["key"] for r in data["rows"]} == set(groups)
    for row in data["rows"]:
        assert as_numbers(row) == expected_figures(groups[row["key"]], facts, None)  # store filter: no issued


def test_publisher_sees_only_its_placements(api, operation, world):
    key = make_api_key(world["pub1"], "brand")
    data = run_report(api, operation, key, "PLACEMENT").ok()["attributionReport"]
    mine = {
        ids.encode("Placement", p.pk)
        for p in world["placements"].values()
        if p.publisher_id == world["pub1"].pk
    }
    assert {r["key"] for r in data["rows"]} == mine
    facts = world["facts"]
    pub_facts = [f for f in facts if f.publisher_id == world["pub1"].pk]
    (total,) = data["totals"]
    issued = sum(
        world["coupons"][p.pk] for p in world["placements"].values() if p.publisher_id == world["pub1"].pk
    )
    assert as_numbers(total) == expected_figures(pub_facts, facts, issued)

    # pub2 has placements of two issuers in two currencies: one total per currency.
    key2 = make_api_key(world["pub2"], "finance")
    data2 = run_report(api, operation, key2, "PLACEMENT").ok()["attributionReport"]
    assert sorted(t["currency"] for t in data2["totals"]) == ["CNY", "USD"]
    # Another issuer's campaign as a filter is just nothing to see.
    other = run_report(
        api, operation, key, "PLACEMENT", {"campaignId": ids.encode("Campaign", world["campaigns"][2].pk)}
    ).ok()["attributionReport"]
    assert other["rows"] == [] and other["totals"] == []


def test_a_third_merchant_gets_nothing_and_no_fan_identity_leaks(api, operation, world):
    key = make_api_key(world["third"], "finance")
    for dimension in ("PLACEMENT", "CAMPAIGN", "PUBLISHER", "STORE", "DAY"):
        response = run_report(api, operation, key, dimension)
        data = response.ok()["attributionReport"]
        assert data["rows"] == [] and data["totals"] == []
    issuer_key = make_api_key(world["issuer"], "finance")
    body = str(run_report(api, operation, issuer_key, "PLACEMENT").body)
    assert world["repeat_fan"].fan_key not in body
    assert ids.encode("Fan", world["repeat_fan"].pk) not in body


def test_roles_and_bad_input(api, operation, world):
    admin = make_api_key(world["issuer"], "admin")
    assert run_report(api, operation, admin, "CAMPAIGN").ok()
    assert run_report(api, operation, None, "CAMPAIGN").error_codes == ["UNAUTHENTICATED"]
    finance = make_api_key(world["issuer"], "finance")
    bad_period = run_report(
        api, operation, finance, "DAY", {"dateFrom": "2026-10-06", "dateTo": "2026-10-01"}
    )
    assert bad_period.error_codes == ["INVALID_PERIOD"]
    bad_id = run_report(api, operation, finance, "DAY", {"campaignId": "not-an-id"})
    assert bad_id.error_codes == ["INVALID"]
    bad_currency = run_report(api, operation, finance, "DAY", {"currency": "yuan"})
    assert bad_currency.error_codes == ["INVALID_CURRENCY"]
    assert bad_period.status == 200


def test_report_is_aggregated_in_sql(world, django_assert_max_num_queries, monkeypatch):
    """Two queries (the currencies in view, the report) and pandas sees one row per group,
    however many records."""
    from attribution import reports
    from attribution.reports import Dimension, ReportFilters

    seen: list[int] = []
    original = reports.pd.DataFrame.from_records

    def spy(data, *args, **kwargs):
        data = list(data)
        seen.append(len(data))
        return original(data, *args, **kwargs)

    monkeypatch.setattr(reports.pd.DataFrame, "from_records", spy)
    issuer = world["issuer"]
    with django_assert_max_num_queries(2):
        report = reports.build_report(merchant=issuer, dimension=Dimension.PLACEMENT, filters=ReportFilters())
    groups = len(report.rows) + len(report.totals)
    assert groups == 4 and max(seen) <= groups

    # Ten times the records: still two queries, still one pandas row per group.
    placement = world["placements"]["c1p1"]
    terminal = make_terminal(world["stores"][0])[0]
    for _ in range(40):
        r = attribution_writeoff(coupon=CouponFactory(placement=placement), terminal=terminal)
        recording.record_for_redemption(redemption_id=r.pk)
    seen.clear()
    with django_assert_max_num_queries(2):
        again = reports.build_report(merchant=issuer, dimension=Dimension.PLACEMENT, filters=ReportFilters())
    assert len(again.rows) + len(again.totals) == groups and max(seen) <= groups


# --- exports -------------------------------------------------------------------------


def _export(api, operation, key, dimension="PLACEMENT", filter=None):
    created = api.execute(
        operation("reports_export_create"), {"dimension": dimension, "filter": filter or {}}, key=key
    ).ok()["reportExportCreate"]
    assert created["errors"] == []
    assert created["export"]["status"] == "PENDING"
    return created["export"]["id"]


def _download(client, url):
    path = url.split("://", 1)[1].split("/", 1)[1]
    return client.get("/" + path)


@pytest.mark.parametrize("chunk_rows", [5000, 1])
def test_export_files_hold_the_same_figures(
    api, operation, world, client, tmp_path, settings, monkeypatch, chunk_rows
):
    from attribution import exports

    monkeypatch.setattr(exports, "CHUNK_ROWS", chunk_rows)  # 1: every row is its own chunk
    settings.MEDIA_ROOT = tmp_path
    key = make_api_key(world["issuer"], "finance")
    export_id = _export(api, operation, key)
    services.export_run(export_id=ids.decode("ReportExport", export_id))  # the task's body
    export = api.execute(operation("reports_export"), {"id": export_id}, key=key).ok()["reportExport"]
    assert export["status"] == "SUCCEEDED"
    assert export["rowCount"] == 3
    links = {d["format"]: d["url"] for d in export["downloads"]}
    assert set(links) == {"csv", "xlsx", "parquet", "png"}

    report = run_report(api, operation, key, "PLACEMENT").ok()["attributionReport"]
    by_key = {r["key"]: r for r in report["rows"]}
    readers = {"csv": pd.read_csv, "xlsx": pd.read_excel, "parquet": pd.read_parquet}
    for fmt, read in readers.items():
        response = _download(client, links[fmt])
        assert response.status_code == 200, fmt
        frame = read(io.BytesIO(b"".join(response.streaming_content)))
        rows = frame[~frame["is_total"].astype(bool)]
        assert set(rows["key"]) == set(by_key), fmt
        for record in rows.to_dict("records"):
            expected = by_key[record["key"]]
            for column in (
                "issued",
                "redeemed",
                "voided",
                "attributed",
                "gmv",
                "discount",
                "fees",
                "newCustomers",
            ):
                snake = {"newCustomers": "new_customers"}.get(column, column)
                assert int(record[snake]) == expected[column], (fmt, column)
            assert record["median_seconds_to_redeem"] == pytest.approx(expected["medianSecondsToRedeem"])
            assert int(record["cost_per_redemption"]) == expected["costPerRedemption"]
        totals = frame[frame["is_total"].astype(bool)]
        assert int(totals["fees"].sum()) == report["totals"][0]["fees"]

    png = b"".join(_download(client, links["png"]).streaming_content)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    from PIL import Image

    assert Image.open(io.BytesIO(png)).size[0] > 100


def test_export_of_another_merchant_is_not_found(api, operation, world, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    export_id = _export(api, operation, make_api_key(world["issuer"], "finance"))
    other = make_api_key(world["third"], "finance")
    assert api.execute(operation("reports_export"), {"id": export_id}, key=other).error_codes == ["NOT_FOUND"]


def test_expired_and_tampered_links_are_refused(api, operation, world, client, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    key = make_api_key(world["issuer"], "finance")
    export_id = _export(api, operation, key)
    services.export_run(export_id=ids.decode("ReportExport", export_id))
    export = api.execute(operation("reports_export"), {"id": export_id}, key=key).ok()["reportExport"]
    url = next(d["url"] for d in export["downloads"] if d["format"] == "csv")
    assert _download(client, url).status_code == 200

    tampered = url.rstrip("/")[:-1] + ("A" if not url.rstrip("/").endswith("A") else "B") + "/"
    response = _download(client, tampered)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "LINK_INVALID"
    # Another export id with the same signature is refused too.
    token = url.rstrip("/").rsplit("/", 1)[1]
    forged = token.replace(
        f"{ids.decode('ReportExport', export_id)}:csv", f"{ids.decode('ReportExport', export_id) + 1}:csv", 1
    )
    assert client.get(f"/attribution/exports/{forged}/").status_code == 403

    later = time.time() + settings.EXPORT_LINK_TTL_SECONDS + 5
    with mock.patch("django.core.signing.time.time", return_value=later):
        response = _download(client, url)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "LINK_EXPIRED"
    assert client.get("/attribution/exports/garbage/").status_code == 403


def test_report_over_http_is_one_report_query(api, operation, world, django_assert_max_num_queries):
    key = make_api_key(world["issuer"], "finance")
    run_report(api, operation, key, "PLACEMENT").ok()  # the key's last_used_at is written once
    for dimension in ("PLACEMENT", "CAMPAIGN", "PUBLISHER", "STORE", "DAY"):
        with django_assert_max_num_queries(3):  # the API key, the currencies in view, the report
            run_report(api, operation, key, dimension).ok()


def test_a_currency_filter_gives_the_same_figures_for_that_currency(api, operation, world):
    key = make_api_key(world["pub2"], "finance")
    for dimension in ("PLACEMENT", "PUBLISHER", "DAY"):
        everything = run_report(api, operation, key, dimension).ok()["attributionReport"]
        for currency in ("CNY", "USD"):
            only = run_report(api, operation, key, dimension, {"currency": currency}).ok()[
                "attributionReport"
            ]
            assert only["rows"] == [r for r in everything["rows"] if r["currency"] == currency]
            assert only["totals"] == [t for t in everything["totals"] if t["currency"] == currency]
    nothing = run_report(api, operation, key, "PLACEMENT", {"currency": "EUR"}).ok()["attributionReport"]
    assert nothing == {"dimension": "PLACEMENT", "rows": [], "totals": []}
