"""Members at work in real Chromium: the publisher issues coupons and watches the job finish
(a real Celery worker writes them); a finance member reads the report with its chart,
downloads its CSV, and reads the ledger and the invoices."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from backend.campaigns.models import Placement
from backend.coupons.models import Coupon
from tests.browser.screenshots import save_product_screenshot
from tests.factories import (
    MerchantFactory,
    PlacementFactory,
    active_campaign,
    pool_with_fans,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FANS = 120


def test_publisher_accepts_a_placement_starts_issuance_and_watches_it_reach_100(
    live_server, console_page, member_factory, celery_worker_process
):
    issuer = MerchantFactory(name="Sweet Spoon")
    publisher = MerchantFactory(name="Mochi Cartoon")
    pool = pool_with_fans(FANS, merchant=publisher, name="Mochi Fans")
    campaign = active_campaign(merchant=issuer, name="5 off any dessert")
    PlacementFactory(
        campaign=campaign, pool=pool, status=Placement.Status.PROPOSED, quota=FANS, decided_at=None
    )
    member = member_factory("brand", merchant=publisher)

    page = console_page(member, next_path="/console/placements/")
    problems = watch(page)
    page.get_by_role("button", name="Accept: 5 off any dessert").click()
    expect(page.get_by_text("Accepted").first).to_be_visible()

    page.get_by_role("link", name="Issuance").click()
    page.get_by_label("Placement").select_option(label="5 off any dessert · Sweet Spoon → Mochi Fans")
    page.get_by_role("button", name="Start issuance").click()

    # The job's page polls itself (htmx) until the worker has issued every coupon.
    expect(page.get_by_role("heading", name="Issuance: 5 off any dessert")).to_be_visible()
    expect(page.locator("#job-percent")).to_have_text("100 %", timeout=60_000)
    expect(page.get_by_text(f"{FANS} of {FANS} coupons issued")).to_be_visible()
    expect(page.locator("#job-progress .status")).to_have_text("Done")
    assert page.locator("#job-progress[hx-trigger]").count() == 0  # finished: polling stopped
    assert Coupon.objects.filter(placement__pool=pool).count() == FANS
    save_product_screenshot(page, "console-issuance-job-en")

    page.get_by_role("link", name="Issuance jobs").click()
    row = page.get_by_role("row", name=re.compile("5 off any dessert"))
    expect(row).to_contain_text("100 %")
    expect(row).to_contain_text(f"{FANS} / {FANS}")
    assert problems == []


def watch(page) -> list[str]:
    """CSP refusals and script errors of the page (the console's pages allow no inline code)."""
    problems: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems


def finance_world():
    """An issuer with three write-offs over two days, charged, and a sent invoice."""
    from attribution import recording as attribution_recording
    from billing import services as billing_services
    from billing.models import BillingPeriod, Invoice
    from tests.factories import billing_setup, write_off

    setup = billing_setup(fee=120)
    setup.campaign.name = "5 off any dessert"
    setup.campaign.save(update_fields=["name"])
    now = timezone.now()
    redemptions = [write_off(setup, at=now - dt.timedelta(days=d, hours=1)) for d in (0, 1, 1)]
    attribution_recording.record_for_redemptions(redemption_ids=[r.pk for r in redemptions])
    billing_services.charge_redemptions(redemption_ids=[r.pk for r in redemptions])
    period = BillingPeriod.objects.create(
        issuer=setup.issuer, period_start=dt.date(2026, 10, 1), status="closed"
    )
    Invoice.objects.create(
        billing_period=period,
        issuer=setup.issuer,
        period_start=period.period_start,
        currency="CNY",
        amount=3600,
        line_count=30,
        status="open",
        key=f"console-test-{setup.issuer.pk}",
        stripe_invoice_id="in_test_console",
        hosted_invoice_url="https://invoice.stripe.com/i/acct_test/in_test_console",
        invoice_pdf="https://pay.stripe.com/invoice/acct_test/in_test_console/pdf",
        sent_at=now,
    )
    return setup


def test_finance_member_reads_the_report_downloads_a_csv_and_reads_ledger_and_invoices(
    live_server, console_page, member_factory, celery_worker_process
):
    setup = finance_world()
    member = member_factory("finance", merchant=setup.issuer)

    page = console_page(member, next_path="/console/reports/")
    problems = watch(page)
    page.get_by_role("link", name="By campaign").click()
    chart = page.get_by_role("img", name=re.compile("Write-offs"))
    expect(chart).to_be_visible()
    expect(chart).to_have_attribute("data-rendered", "1")  # Chart.js drew the one campaign
    row = page.get_by_role("row", name=re.compile("5 off any dessert"))
    expect(row).to_contain_text("3")
    save_product_screenshot(page, "console-report-en")

    page.get_by_role("button", name="Export this report").click()
    expect(page).to_have_url(re.compile("/console/reports/exports/"))
    csv_link = page.get_by_role("link", name="CSV")
    expect(csv_link).to_be_visible(timeout=60_000)  # the list polls until the worker is done
    with page.expect_download() as download_info:
        csv_link.click()
    download = download_info.value
    text = open(download.path(), encoding="utf-8").read()
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r.get("is_total") in ("False", "false", "0")]
    assert [(r["label"], int(r["redeemed"])) for r in rows] == [("5 off any dessert", 3)]

    page.get_by_role("link", name="Ledger").click()
    expect(page.get_by_role("heading", name="Ledger", exact=True)).to_be_visible()
    balances = page.get_by_role("table").first.get_by_role("row", name=re.compile("Owed by you"))
    expect(balances).to_contain_text("¥3.60")  # three fees of 1.20, pending
    expect(page.get_by_role("table").nth(1)).to_contain_text("3 lines")
    save_product_screenshot(page, "console-ledger-en")

    page.get_by_role("link", name="Invoices").click()
    invoice = page.get_by_role("row", name=re.compile("2026-10"))
    expect(invoice).to_contain_text("¥36.00")
    expect(invoice.get_by_role("link", name="Invoice page")).to_have_attribute(
        "href", "https://invoice.stripe.com/i/acct_test/in_test_console"
    )
    expect(invoice.get_by_role("link", name="PDF")).to_be_visible()
    save_product_screenshot(page, "console-invoices-en")
    assert problems == []  # Chart.js and htmx work under the console's CSP
