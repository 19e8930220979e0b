"""Reports and statements agree with the ledger: fees net of dispute credits, and a
publisher's statement that is final once every issuer involved has closed the month."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Sum

from attribution.reconcile import reconcile
from attribution.reports import Dimension, ReportFilters, Side, build_report
from billing import closing, services
from billing.models import Invoice, LedgerEntry
from billing.selectors import publisher_statement_for
from tests.factories.billing import billing_setup, void_write_off, write_off
from tests.factories.campaigns import PlacementFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
OCTOBER = dt.date(2026, 10, 1)


def fees_in_report(merchant, *, side=Side.ISSUER) -> int:
    report = build_report(
        merchant=merchant,
        dimension=Dimension.CAMPAIGN,
        filters=ReportFilters(date_from=OCTOBER, date_to=dt.date(2026, 10, 31), side=side),
    )
    return int(report.totals["fees"].sum())


def test_a_disputed_months_report_equals_the_ledger(stripe_gateway):
    setup = billing_setup(fee=300, timezone_name="UTC")
    redemptions = [write_off(setup, at=dt.datetime(2026, 10, d, 12, tzinfo=UTC)) for d in (3, 4, 5)]
    for r in redemptions:
        services.charge_redemption(redemption_id=r.pk)
    services.lock_due_entries(now=dt.datetime(2026, 10, 10, tzinfo=UTC))
    services.dispute_charge(
        redemption_id=redemptions[0].pk, reason="not our customer", now=dt.datetime(2026, 10, 12, tzinfo=UTC)
    )
    closing.close_period(
        issuer=setup.issuer,
        period_start=OCTOBER,
        now=dt.datetime(2026, 11, 2, tzinfo=UTC),
        gateway=stripe_gateway,
    )
    ledger = LedgerEntry.objects.filter(
        issuer=setup.issuer, account_kind="issuer_receivable", period_start=OCTOBER
    ).aggregate(s=Sum("amount"))["s"]
    assert ledger == 600  # three charges, one credited
    assert fees_in_report(setup.issuer) == ledger
    assert Invoice.objects.get(issuer=setup.issuer).amount == 600  # and so does the invoice
    start, end = services.period_bounds(OCTOBER, setup.issuer)
    result = reconcile(merchant=setup.issuer, start=start, end=end)  # Stripe is asked too
    assert result.ok, result.discrepancies
    assert {"billing.stripe", "billing.double_charges", "attribution.slot_counters"} <= set(result.checks)


def test_a_publisher_statement_is_final_once_every_issuer_closed_and_unchanged_by_a_later_close(
    stripe_gateway,
):
    a = billing_setup(fee=200, share_bps=5000, timezone_name="UTC")
    b = billing_setup(fee=100, share_bps=5000, timezone_name="America/Los_Angeles")
    publisher = a.placement.publisher
    # B's campaign is placed in the same publisher's pool.
    b.placement = PlacementFactory(campaign=b.campaign, publisher_share_bps=5000, pool=a.placement.pool)
    october = {
        "a": [write_off(a, at=dt.datetime(2026, 10, d, 12, tzinfo=UTC)) for d in (3, 20)],
        "b": [write_off(b, at=dt.datetime(2026, 10, d, 12, tzinfo=UTC)) for d in (4, 5, 6)],
    }
    for redemptions in october.values():
        for r in redemptions:
            services.charge_redemption(redemption_id=r.pk)
    services.lock_due_entries(now=dt.datetime(2026, 10, 25, tzinfo=UTC))

    closing.close_period(
        issuer=a.issuer,
        period_start=OCTOBER,
        now=dt.datetime(2026, 11, 1, 1, tzinfo=UTC),
        gateway=stripe_gateway,
    )
    early = publisher_statement_for(merchant=publisher, period_start=OCTOBER)
    assert (early.final, early.issuers_open) == (False, 1)  # Los Angeles has not closed October yet

    closing.close_period(
        issuer=b.issuer,
        period_start=OCTOBER,
        now=dt.datetime(2026, 11, 1, 8, tzinfo=UTC),
        gateway=stripe_gateway,
    )
    final = publisher_statement_for(merchant=publisher, period_start=OCTOBER)
    assert final.final and final.issuers_open == 0
    [line] = final.lines
    assert (line.write_offs, line.credits, line.fees, line.earned) == (5, 0, 700, 350)
    # The publisher's own report on the same dates (its time zone is the factory's) agrees.
    report = build_report(
        merchant=publisher,
        dimension=Dimension.CAMPAIGN,
        filters=ReportFilters(date_from=OCTOBER, date_to=dt.date(2026, 10, 31), side=Side.PUBLISHER),
    )
    assert int(report.totals["attributed"].sum()) == line.write_offs
    assert int(report.totals["fees"].sum()) == line.fees

    # November: a late void of an October write-off (a credit in November), more write-offs,
    # and both issuers close November. October's statement does not move.
    void_write_off(october["a"][1], at=dt.datetime(2026, 11, 3, tzinfo=UTC))
    services.undo_charge(redemption_id=october["a"][1].pk, now=dt.datetime(2026, 11, 3, tzinfo=UTC))
    for setup in (a, b):
        services.charge_redemption(redemption_id=write_off(setup, at=dt.datetime(2026, 11, 5, tzinfo=UTC)).pk)
    services.lock_due_entries(now=dt.datetime(2026, 11, 20, tzinfo=UTC))
    for setup in (a, b):
        closing.close_period(
            issuer=setup.issuer,
            period_start=dt.date(2026, 11, 1),
            now=dt.datetime(2026, 12, 2, tzinfo=UTC),
            gateway=stripe_gateway,
        )
    assert publisher_statement_for(merchant=publisher, period_start=OCTOBER) == final
    november = publisher_statement_for(merchant=publisher, period_start=dt.date(2026, 11, 1))
    assert november.final and [(x.write_offs, x.credits, x.fees) for x in november.lines] == [(2, 1, 100)]
