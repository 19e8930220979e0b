"""Period close against a real local Stripe-compatible server (localstripe).

Re-running the close, or retrying it after a crash between two Stripe calls, leaves
exactly one invoice item and one invoice at Stripe: counted by asking localstripe.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from backend.api.errors import ServiceError
from billing import closing, services
from billing.models import BillingPeriod, BillingProfile, Invoice, LedgerEntry
from tests.factories.billing import billing_setup, void_write_off, write_off

pytestmark = pytest.mark.django_db

UTC = dt.UTC
OCTOBER = dt.date(2026, 10, 1)
AFTER_OCTOBER = dt.datetime(2026, 11, 2, 3, 0, tzinfo=UTC)


def october_ledger(setup) -> int:
    """Three charges, one reversed in its window, one credited after lock: returns the total due."""
    fee = setup.campaign.fee_per_redemption
    redemptions = []
    for day in (3, 4, 5, 6):
        at = dt.datetime(2026, 10, day, 12, tzinfo=UTC)
        redemption = write_off(setup, at=at)
        services.charge_redemption(redemption_id=redemption.pk)
        redemptions.append(redemption)
    # Voided inside its window: reversed, never billed.
    void_write_off(redemptions[3], at=dt.datetime(2026, 10, 6, 12, 5, tzinfo=UTC))
    services.undo_charge(redemption_id=redemptions[3].pk)
    services.lock_due_entries(now=dt.datetime(2026, 10, 20, tzinfo=UTC))
    # Voided after lock: a credit in the open period (still October).
    void_write_off(redemptions[2], at=dt.datetime(2026, 10, 21, tzinfo=UTC))
    services.undo_charge(redemption_id=redemptions[2].pk, now=dt.datetime(2026, 10, 21, tzinfo=UTC))
    return 3 * fee - fee


def stripe_items_with_key(ls, customer: str, key: str) -> int:
    pending = [i for i in ls.pending_invoice_items(customer) if key in (i.get("description") or "")]
    attached = [
        line
        for invoice in ls.invoices(customer)
        for line in invoice["lines"]["data"]
        if line.get("type") == "invoiceitem" and key in (line.get("description") or "")
    ]
    return len(pending) + len(attached)


def stripe_invoices_with_key(ls, customer: str, key: str) -> list[dict]:
    return [i for i in ls.invoices(customer) if key in (i.get("description") or "")]


def assert_one_of_each_at_stripe(ls, invoice: Invoice) -> dict:
    customer = BillingProfile.objects.get(merchant=invoice.issuer).stripe_customer_id
    assert stripe_items_with_key(ls, customer, invoice.key) == 1
    found = stripe_invoices_with_key(ls, customer, invoice.key)
    assert len(found) == 1
    assert found[0]["id"] == invoice.stripe_invoice_id
    return found[0]


def test_close_sends_one_invoice_equal_to_the_locked_lines_and_rerun_creates_nothing(
    localstripe, stripe_gateway
):
    setup = billing_setup(fee=120)
    due = october_ledger(setup)

    period = closing.close_period(
        issuer=setup.issuer, period_start=OCTOBER, now=AFTER_OCTOBER, gateway=stripe_gateway
    )
    assert period.status == BillingPeriod.Status.CLOSED
    invoice = Invoice.objects.get(billing_period=period)
    assert invoice.status == Invoice.Status.OPEN
    assert invoice.amount == due == 240
    issuer_lines = LedgerEntry.objects.filter(invoice=invoice, account_kind="issuer_receivable")
    assert sum(issuer_lines.values_list("amount", flat=True)) == invoice.amount
    assert set(LedgerEntry.objects.filter(invoice=invoice).values_list("state", flat=True)) == {"invoiced"}
    at_stripe = assert_one_of_each_at_stripe(localstripe, invoice)
    assert at_stripe["total"] == 240 and at_stripe["currency"] == "cny"

    for _ in range(2):  # re-runs: the service, then the management command
        closing.close_period(
            issuer=setup.issuer, period_start=OCTOBER, now=AFTER_OCTOBER, gateway=stripe_gateway
        )
    call_command("close_period", period="2026-10", merchant=setup.issuer.slug)
    assert Invoice.objects.filter(issuer=setup.issuer).count() == 1
    assert_one_of_each_at_stripe(localstripe, invoice)


class Crash(Exception):
    pass


@pytest.mark.parametrize("crash_after", ["create_invoice_item", "create_invoice"])
def test_close_that_crashes_after_a_stripe_call_is_retried_without_duplicates(
    localstripe, stripe_gateway, monkeypatch, crash_after
):
    """The Stripe object is created but its id is never stored: the retry must find it."""
    setup = billing_setup(fee=99)
    due = october_ledger(setup)
    real = getattr(stripe_gateway, crash_after)

    def create_then_crash(**kwargs):
        real(**kwargs)
        raise Crash(f"process killed right after {crash_after}")

    monkeypatch.setattr(stripe_gateway, crash_after, create_then_crash)
    with pytest.raises(Crash):
        closing.close_period(
            issuer=setup.issuer, period_start=OCTOBER, now=AFTER_OCTOBER, gateway=stripe_gateway
        )
    invoice = Invoice.objects.get(issuer=setup.issuer)
    assert invoice.status == Invoice.Status.DRAFT and not invoice.stripe_invoice_id
    assert BillingPeriod.objects.get(issuer=setup.issuer, period_start=OCTOBER).status == "closing"

    monkeypatch.setattr(stripe_gateway, crash_after, real)
    period = closing.close_period(
        issuer=setup.issuer, period_start=OCTOBER, now=AFTER_OCTOBER, gateway=stripe_gateway
    )
    invoice.refresh_from_db()
    assert period.status == BillingPeriod.Status.CLOSED
    assert invoice.status == Invoice.Status.OPEN and invoice.amount == due
    at_stripe = assert_one_of_each_at_stripe(localstripe, invoice)
    assert at_stripe["total"] == due


def test_the_close_waits_for_the_months_last_void_windows(localstripe, stripe_gateway):
    """A write-off late on the 31st with a 3-day window is billed on October's invoice."""
    setup = billing_setup(fee=50, void_window_seconds=86400 * 3)
    early = write_off(setup, at=dt.datetime(2026, 10, 10, tzinfo=UTC))
    late = write_off(setup, at=dt.datetime(2026, 10, 31, 20, tzinfo=UTC))
    for redemption in (early, late):
        services.charge_redemption(redemption_id=redemption.pk)
    services.lock_due_entries(now=AFTER_OCTOBER)
    assert closing.periods_to_close(now=AFTER_OCTOBER) == []  # the late one is still voidable
    with pytest.raises(ServiceError) as exc:
        closing.close_period(
            issuer=setup.issuer, period_start=OCTOBER, now=AFTER_OCTOBER, gateway=stripe_gateway
        )
    assert exc.value.errors[0].code == "STILL_VOIDABLE"
    assert not Invoice.objects.filter(issuer=setup.issuer).exists()

    after_window = dt.datetime(2026, 11, 4, tzinfo=UTC)
    services.lock_due_entries(now=after_window)
    assert [(m.pk, p) for m, p in closing.periods_to_close(now=after_window)] == [(setup.issuer.pk, OCTOBER)]
    closing.close_period(issuer=setup.issuer, period_start=OCTOBER, now=after_window, gateway=stripe_gateway)
    invoice = Invoice.objects.get(issuer=setup.issuer)
    assert (invoice.period_start, invoice.amount, invoice.line_count) == (OCTOBER, 100, 2)
    assert set(
        LedgerEntry.objects.filter(posting__redemption=late).values_list("period_start", "invoice_id")
    ) == {(OCTOBER, invoice.pk)}
    # The record-level data names them too: each write-off's attribution record.
    from attribution.models import AttributionRecord

    assert set(
        AttributionRecord.objects.filter(redemption__in=[early, late]).values_list(
            "billing_period", "billing_invoice_id"
        )
    ) == {(OCTOBER, invoice.pk)}


def test_close_refuses_a_month_that_has_not_ended(stripe_gateway):
    setup = billing_setup()
    with pytest.raises(ServiceError) as exc:
        closing.close_period(
            issuer=setup.issuer,
            period_start=OCTOBER,
            now=dt.datetime(2026, 10, 20, tzinfo=UTC),
            gateway=stripe_gateway,
        )
    assert exc.value.errors[0].code == "PERIOD_NOT_ENDED"


def test_a_month_whose_credits_exceed_its_charges_is_carried_forward(stripe_gateway):
    setup = billing_setup(fee=80)
    september = write_off(setup, at=dt.datetime(2026, 9, 10, tzinfo=UTC))
    services.charge_redemption(redemption_id=september.pk)
    services.lock_due_entries(now=dt.datetime(2026, 9, 20, tzinfo=UTC))
    closing.close_period(
        issuer=setup.issuer,
        period_start=dt.date(2026, 9, 1),
        now=dt.datetime(2026, 10, 2, tzinfo=UTC),
        gateway=stripe_gateway,
    )
    void_write_off(september, at=dt.datetime(2026, 10, 5, tzinfo=UTC))  # a late void: a credit in October
    services.undo_charge(redemption_id=september.pk, now=dt.datetime(2026, 10, 5, tzinfo=UTC))
    period = closing.close_period(
        issuer=setup.issuer, period_start=OCTOBER, now=AFTER_OCTOBER, gateway=stripe_gateway
    )
    assert period.status == BillingPeriod.Status.CLOSED
    assert list(Invoice.objects.filter(issuer=setup.issuer).values_list("period_start", "amount")) == [
        (dt.date(2026, 9, 1), 80)
    ]
    from attribution.models import AttributionRecord

    assert AttributionRecord.objects.get(redemption=september).billing_period == dt.date(2026, 9, 1)
    credit_lines = LedgerEntry.objects.filter(posting__kind="credit")
    assert set(credit_lines.values_list("state", "period_start")) == {("locked", dt.date(2026, 11, 1))}

    # November: one more charge; the carried credit nets against it on one invoice.
    services.charge_redemption(redemption_id=write_off(setup, at=dt.datetime(2026, 11, 3, tzinfo=UTC)).pk)
    services.charge_redemption(redemption_id=write_off(setup, at=dt.datetime(2026, 11, 4, tzinfo=UTC)).pk)
    services.lock_due_entries(now=dt.datetime(2026, 11, 10, tzinfo=UTC))
    closing.close_period(
        issuer=setup.issuer,
        period_start=dt.date(2026, 11, 1),
        now=dt.datetime(2026, 12, 2, tzinfo=UTC),
        gateway=stripe_gateway,
    )
    november = Invoice.objects.get(issuer=setup.issuer, period_start=dt.date(2026, 11, 1))
    assert (november.amount, november.line_count, november.status) == (80, 3, Invoice.Status.OPEN)


def test_a_month_that_nets_to_zero_is_settled_without_stripe(stripe_gateway):
    setup = billing_setup(fee=80)
    redemption = write_off(setup, at=dt.datetime(2026, 10, 3, tzinfo=UTC))
    services.charge_redemption(redemption_id=redemption.pk)
    services.lock_due_entries(now=dt.datetime(2026, 10, 9, tzinfo=UTC))
    void_write_off(redemption, at=dt.datetime(2026, 10, 10, tzinfo=UTC))
    services.undo_charge(redemption_id=redemption.pk, now=dt.datetime(2026, 10, 10, tzinfo=UTC))
    closing.close_period(issuer=setup.issuer, period_start=OCTOBER, now=AFTER_OCTOBER, gateway=stripe_gateway)
    invoice = Invoice.objects.get(issuer=setup.issuer)
    assert (invoice.amount, invoice.status, invoice.stripe_invoice_id) == (0, Invoice.Status.SETTLED, "")
    assert set(LedgerEntry.objects.filter(issuer=setup.issuer).values_list("state", flat=True)) == {"paid"}
    assert not BillingProfile.objects.filter(merchant=setup.issuer).exists()  # Stripe never called
