"""The whole payment loop: close -> localstripe invoice -> paid there -> signed webhook to our
server (signature verified) -> recorded -> applied by a real Celery worker -> invoice paid."""

from __future__ import annotations

import datetime as dt

import pytest

from billing import closing, services
from billing.models import BillingProfile, Invoice, LedgerEntry, StripeInvoiceEvent
from tests.conftest import wait_for
from tests.factories.billing import billing_setup, write_off

UTC = dt.UTC
SECRET = "whsec_localstripe_loop"


@pytest.mark.django_db(transaction=True)
def test_paying_at_stripe_marks_the_invoice_and_its_lines_paid(
    live_server, localstripe, stripe_gateway, celery_worker_process, settings
):
    settings.BILLING_STRIPE_WEBHOOK_SECRET = SECRET
    localstripe.register_webhook(
        f"{live_server.url}/billing/stripe/webhook/",
        SECRET,
        ["invoice.payment_succeeded", "invoice.payment_failed"],
    )
    setup = billing_setup(fee=450)
    for day in (5, 6):
        services.charge_redemption(
            redemption_id=write_off(setup, at=dt.datetime(2026, 10, day, tzinfo=UTC)).pk
        )
    services.lock_due_entries(now=dt.datetime(2026, 10, 10, tzinfo=UTC))
    closing.close_period(
        issuer=setup.issuer,
        period_start=dt.date(2026, 10, 1),
        now=dt.datetime(2026, 11, 2, tzinfo=UTC),
        gateway=stripe_gateway,
    )
    invoice = Invoice.objects.get(issuer=setup.issuer)
    assert invoice.status == Invoice.Status.OPEN and invoice.amount == 900

    customer = BillingProfile.objects.get(merchant=setup.issuer).stripe_customer_id
    card = localstripe.post(
        "/v1/payment_methods",
        **{
            "type": "card",
            "card[number]": "4242424242424242",
            "card[exp_month]": "12",
            "card[exp_year]": "2030",
            "card[cvc]": "123",
        },
    )
    localstripe.post(f"/v1/payment_methods/{card['id']}/attach", customer=customer)
    localstripe.post(f"/v1/customers/{customer}", **{"invoice_settings[default_payment_method]": card["id"]})
    paid = localstripe.post(f"/v1/invoices/{invoice.stripe_invoice_id}/pay")
    assert paid["status"] == "paid" and paid["amount_paid"] == 900

    wait_for(
        lambda: StripeInvoiceEvent.objects.filter(stripe_invoice_id=invoice.stripe_invoice_id).exists(), 20
    )
    wait_for(lambda: Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID, 30)
    assert set(LedgerEntry.objects.filter(invoice=invoice).values_list("state", flat=True)) == {"paid"}
