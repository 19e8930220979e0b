"""Billing's Celery entry points: the lock run, the monthly close, the Stripe event sweep."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from billing import services, tasks
from billing.models import BillingPeriod, Invoice, LedgerEntry, StripeInvoiceEvent
from tests.factories.billing import billing_setup, write_off

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def test_lock_task_locks_due_lines_and_applies_recorded_stripe_events():
    setup = billing_setup(fee=70)
    old = write_off(setup, at=dt.datetime(2026, 10, 3, tzinfo=UTC))
    services.charge_redemption(redemption_id=old.pk)
    StripeInvoiceEvent.objects.create(
        stripe_event_id="evt_orphan", type="invoice.paid", stripe_invoice_id="in_none"
    )
    assert tasks.lock_ledger_entries() == 3
    assert tasks.lock_ledger_entries() == 0  # idempotent
    assert set(LedgerEntry.objects.values_list("state", flat=True)) == {"locked"}
    event = StripeInvoiceEvent.objects.get()
    assert event.applied_at is not None and event.outcome == "unknown_invoice"


def test_close_previous_periods_sends_every_ended_month_once(stripe_gateway):
    a, b = billing_setup(fee=100), billing_setup(fee=300, timezone_name="Asia/Shanghai")
    for setup in (a, b):
        for day in (1, 2):
            services.charge_redemption(
                redemption_id=write_off(setup, at=dt.datetime(2026, 10, day, 12, tzinfo=UTC)).pk
            )
    services.lock_due_entries()
    assert tasks.close_previous_periods() == 2
    assert sorted(Invoice.objects.values_list("amount", "status")) == [(200, "open"), (600, "open")]
    assert set(BillingPeriod.objects.values_list("status", flat=True)) == {"closed"}
    assert tasks.close_previous_periods() == 0


@pytest.mark.slow
def test_measure_charge_lock_and_close_of_a_thousand_write_offs(stripe_gateway):
    from billing import closing

    setup = billing_setup(fee=120, share_bps=3000)
    redemptions = [write_off(setup, at=dt.datetime(2026, 10, 1 + i % 28, tzinfo=UTC)) for i in range(1000)]
    started = time.perf_counter()
    for redemption in redemptions:
        services.charge_redemption(redemption_id=redemption.pk)
    charged = time.perf_counter() - started
    started = time.perf_counter()
    assert services.lock_due_entries(now=dt.datetime(2026, 11, 1, tzinfo=UTC)) == 3000
    locked = time.perf_counter() - started
    started = time.perf_counter()
    closing.close_period(
        issuer=setup.issuer,
        period_start=dt.date(2026, 10, 1),
        now=dt.datetime(2026, 11, 2, tzinfo=UTC),
        gateway=stripe_gateway,
    )
    closed = time.perf_counter() - started
    invoice = Invoice.objects.get(issuer=setup.issuer)
    assert invoice.amount == 120_000 and invoice.line_count == 1000
    print(
        f"\ncharge: {1000 / charged:.0f}/s, lock 3000 lines: {locked * 1000:.0f} ms, close: {closed * 1000:.0f} ms"
    )
