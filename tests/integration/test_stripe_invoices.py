"""Invoices meet Stripe (localstripe): their own currency, only our item, Stripe's view
compared with ours, a close per time zone, and reconcile that asks Stripe.

localstripe ignores ``currency`` and ``pending_invoice_items_behavior`` (research/billing-facts.md):
there the $0 subscription of the invoice's currency gives the invoice its currency, and a
stray pending item is always pulled in, so the check against Stripe's total is what keeps it
from being billed. The real-Stripe request shapes are pinned in tests/unit/test_stripe_gateway.py.
"""

from __future__ import annotations

import datetime as dt

import pytest

from attribution.reconcile import reconcile
from billing import closing, services, tasks
from billing.models import BillingPeriod, BillingProfile, Invoice, InvoiceEvent, Posting, StripeInvoiceEvent
from tests.conftest import wait_for
from tests.factories.billing import billing_setup, write_off
from tests.factories.merchants import MerchantFactory

UTC = dt.UTC
OCTOBER = dt.date(2026, 10, 1)
AFTER_OCTOBER = dt.datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
SECRET = "whsec_localstripe_invoices"


def month_of_write_offs(setup, days=(3, 4), fee_check=True) -> None:
    for day in days:
        posting = services.charge_redemption(
            redemption_id=write_off(setup, at=dt.datetime(2026, 10, day, 12, tzinfo=UTC)).pk
        )
        assert posting is not None or not fee_check
    services.lock_due_entries(now=dt.datetime(2026, 10, 20, tzinfo=UTC))


def october(issuer) -> tuple[dt.datetime, dt.datetime]:
    return services.period_bounds(OCTOBER, issuer)


@pytest.mark.django_db
def test_a_usd_campaign_of_a_cny_default_issuer_is_invoiced_in_usd(localstripe, stripe_gateway):
    issuer = MerchantFactory(default_currency="CNY", timezone="UTC")
    cny = billing_setup(issuer=issuer, fee=120, currency="CNY")
    usd = billing_setup(issuer=issuer, fee=75, currency="USD")
    month_of_write_offs(cny)
    month_of_write_offs(usd, days=(5, 6, 7))

    closing.close_period(issuer=issuer, period_start=OCTOBER, now=AFTER_OCTOBER, gateway=stripe_gateway)

    ours = {i.currency: i for i in Invoice.objects.filter(issuer=issuer)}
    assert {c: (i.amount, i.status) for c, i in ours.items()} == {"CNY": (240, "open"), "USD": (225, "open")}
    customer = BillingProfile.objects.get(merchant=issuer).stripe_customer_id
    at_stripe = {i["id"]: i for i in localstripe.invoices(customer)}
    for invoice in ours.values():
        theirs = at_stripe[invoice.stripe_invoice_id]
        assert (theirs["currency"], theirs["total"]) == (invoice.currency.lower(), invoice.amount)
        assert (invoice.stripe_currency, invoice.stripe_total) == (invoice.currency, invoice.amount)
        # localstripe reports charge_automatically whatever is asked: we store what Stripe says.
        assert invoice.due_at is not None and invoice.collection_method == theirs["collection_method"]
        assert list(invoice.events.values_list("kind", flat=True)) == ["sent"]
    assert reconcile(merchant=issuer, start=october(issuer)[0], end=october(issuer)[1]).ok


@pytest.mark.django_db(transaction=True)
def test_a_stray_pending_item_is_not_billed_and_a_different_stripe_total_is_never_marked_paid(
    live_server, localstripe, stripe_gateway, celery_worker_process, settings
):
    settings.BILLING_STRIPE_WEBHOOK_SECRET = SECRET
    localstripe.register_webhook(
        f"{live_server.url}/billing/stripe/webhook/", SECRET, ["invoice.payment_succeeded"]
    )
    setup = billing_setup(fee=250)
    month_of_write_offs(setup)  # ours: 500
    closing.ensure_customer(merchant=setup.issuer, gateway=stripe_gateway, currency="CNY")
    customer = BillingProfile.objects.get(merchant=setup.issuer).stripe_customer_id
    localstripe.post(  # someone else's pending item on the same customer
        "/v1/invoiceitems", customer=customer, amount="1234", currency="cny", description="stray"
    )

    closing.close_period(issuer=setup.issuer, period_start=OCTOBER, now=AFTER_OCTOBER, gateway=stripe_gateway)

    invoice = Invoice.objects.get(issuer=setup.issuer)
    assert invoice.status == Invoice.Status.MISMATCH  # localstripe pulled the stray item in
    assert (invoice.amount, invoice.stripe_total) == (500, 1734)
    assert "total 1734 at Stripe, 500 here" in invoice.mismatch
    assert invoice.sent_at is None  # never finalized, never sent: the stray item is not billed by us
    assert list(invoice.events.values_list("kind", flat=True)) == ["mismatch"]
    start, end = october(setup.issuer)
    kinds = {d.kind for d in reconcile(merchant=setup.issuer, start=start, end=end).discrepancies}
    assert kinds == {"INVOICE_HELD_MISMATCH"}

    # Paid at Stripe anyway (1734): the signed webhook is recorded, the worker keeps it unpaid.
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
    assert localstripe.post(f"/v1/invoices/{invoice.stripe_invoice_id}/pay")["amount_paid"] == 1734
    wait_for(
        lambda: StripeInvoiceEvent.objects.filter(
            stripe_invoice_id=invoice.stripe_invoice_id, applied_at__isnull=False
        ).exists(),
        30,
    )
    event = StripeInvoiceEvent.objects.get(stripe_invoice_id=invoice.stripe_invoice_id)
    assert (event.total, event.amount_paid, event.outcome) == (1734, 1734, "held_mismatch")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.MISMATCH and invoice.paid_at is None
    assert set(invoice.lines.values_list("state", flat=True)) == {"invoiced"}


@pytest.mark.django_db
def test_an_issuer_in_los_angeles_is_closed_within_an_hour_of_its_months_end(localstripe, stripe_gateway):
    setup = billing_setup(fee=100, timezone_name="America/Los_Angeles", void_window_seconds=900)
    # 20:00 on Oct 31 in Los Angeles is 03:00 UTC on Nov 1: still October there.
    late = write_off(setup, at=dt.datetime(2026, 11, 1, 3, 0, tzinfo=UTC))
    services.charge_redemption(redemption_id=late.pk)
    services.lock_due_entries(now=dt.datetime(2026, 11, 1, 4, 0, tzinfo=UTC))
    period = BillingPeriod.objects.get(issuer=setup.issuer)
    assert period.period_start == OCTOBER

    # The hourly task at 06:05 UTC (23:05 in LA): October has not ended there.
    assert tasks.close_previous_periods("2026-11-01T06:05:00+00:00") == 0
    period.refresh_from_db()
    assert period.status == BillingPeriod.Status.OPEN
    # The next run, 07:05 UTC (00:05 on Nov 1 in LA, PDT ends on Nov 1 2026 at 02:00): closed.
    assert tasks.close_previous_periods("2026-11-01T07:05:00+00:00") == 1
    period.refresh_from_db()
    assert period.status == BillingPeriod.Status.CLOSED
    invoice = Invoice.objects.get(issuer=setup.issuer)
    assert (invoice.amount, invoice.status) == (100, Invoice.Status.OPEN)


@pytest.mark.django_db(transaction=True)
def test_the_hourly_close_runs_on_a_real_worker_for_a_los_angeles_issuer(localstripe, monkeypatch):
    """The beat's task, sent to a real Celery worker process that talks to localstripe."""
    import uuid

    from tests.conftest import _start_worker, _stop_worker
    from tests.stripe_server import API_KEY

    setup = billing_setup(fee=130, timezone_name="America/Los_Angeles", void_window_seconds=900)
    services.charge_redemption(redemption_id=write_off(setup, at=dt.datetime(2026, 11, 1, 3, tzinfo=UTC)).pk)
    services.lock_due_entries(now=dt.datetime(2026, 11, 1, 4, tzinfo=UTC))
    for name, value in {
        "STRIPE_API_HOST": localstripe.url,
        "STRIPE_TEST_SECRET_KEY": API_KEY,
        "BILLING_STRIPE_LOCALSTRIPE_COMPAT": "1",
    }.items():
        monkeypatch.setenv(name, value)
    from django.db import connection

    queue = f"close-{uuid.uuid4().hex[:8]}"
    worker = _start_worker(queue, connection.settings_dict["NAME"], concurrency=1)
    try:
        tasks.close_previous_periods.apply_async(args=["2026-11-01T07:05:00+00:00"], queue=queue)
        wait_for(
            lambda: BillingPeriod.objects.get(issuer=setup.issuer).status == BillingPeriod.Status.CLOSED, 60
        )
    finally:
        _stop_worker(worker)
    invoice = Invoice.objects.get(issuer=setup.issuer)
    assert (invoice.period_start, invoice.amount, invoice.status) == (OCTOBER, 130, Invoice.Status.OPEN)
    customer = BillingProfile.objects.get(merchant=setup.issuer).stripe_customer_id
    [theirs] = [i for i in localstripe.invoices(customer) if i["id"] == invoice.stripe_invoice_id]
    assert (theirs["currency"], theirs["total"]) == ("cny", 130)


@pytest.mark.django_db
def test_a_zero_fee_month_posts_nothing_and_reconciles_green(stripe_gateway):
    setup = billing_setup(fee=0)
    month_of_write_offs(setup, days=(3, 4, 5), fee_check=False)
    assert not Posting.objects.filter(issuer=setup.issuer).exists()
    closing.close_period(issuer=setup.issuer, period_start=OCTOBER, now=AFTER_OCTOBER, gateway=stripe_gateway)
    assert not Invoice.objects.filter(issuer=setup.issuer).exists()
    start, end = october(setup.issuer)
    result = reconcile(merchant=setup.issuer, start=start, end=end)
    assert result.ok, result.discrepancies
    assert "billing.stripe" in result.checks and "attribution.slot_counters" in result.checks


@pytest.mark.django_db
def test_reconcile_reports_a_stripe_total_that_differs_from_ours(localstripe, stripe_gateway, monkeypatch):
    setup = billing_setup(fee=300)
    month_of_write_offs(setup)
    closing.close_period(issuer=setup.issuer, period_start=OCTOBER, now=AFTER_OCTOBER, gateway=stripe_gateway)
    invoice = Invoice.objects.get(issuer=setup.issuer)
    assert invoice.status == Invoice.Status.OPEN
    start, end = october(setup.issuer)
    assert reconcile(merchant=setup.issuer, start=start, end=end).ok
    Invoice.objects.filter(pk=invoice.pk).update(amount=invoice.amount + 1)  # ours and Stripe's now differ
    kinds = {d.kind for d in reconcile(merchant=setup.issuer, start=start, end=end).discrepancies}
    assert "STRIPE_DISAGREES" in kinds


@pytest.mark.django_db
def test_dunning_retries_a_failed_payment_pauses_when_overdue_and_resumes_on_payment(
    localstripe, stripe_gateway
):
    from backend.campaigns.models import Campaign
    from billing import payments

    setup = billing_setup(fee=400)
    month_of_write_offs(setup)
    closing.close_period(issuer=setup.issuer, period_start=OCTOBER, now=AFTER_OCTOBER, gateway=stripe_gateway)
    invoice = Invoice.objects.get(issuer=setup.issuer)
    failed = StripeInvoiceEvent.objects.create(
        stripe_event_id="evt_failed_1",
        type="invoice.payment_failed",
        stripe_invoice_id=invoice.stripe_invoice_id,
        currency="CNY",
        total=800,
        amount_paid=0,
        invoice_status="open",
    )
    payments.apply_stripe_invoice_events()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAYMENT_FAILED and invoice.next_retry_at is not None
    first_retry = invoice.next_retry_at

    # The retry is due; the customer has no payment method: declined, the next one scheduled.
    payments.run_dunning(now=first_retry + dt.timedelta(minutes=1), gateway=stripe_gateway)
    invoice.refresh_from_db()
    assert invoice.payment_attempts == 2 and invoice.next_retry_at > first_retry

    # Overdue for BILLING_OVERDUE_PAUSE_DAYS: the issuer's campaigns pause.
    late = invoice.due_at + dt.timedelta(days=payments.overdue_pause_days(), minutes=1)
    payments.run_dunning(now=late, gateway=stripe_gateway)
    invoice.refresh_from_db()
    assert invoice.paused_campaign_ids == [setup.campaign.pk]
    assert Campaign.objects.get(pk=setup.campaign.pk).status == Campaign.Status.PAUSED

    # A card, the next retry pays it, and the campaigns resume.
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
    payments.run_dunning(
        now=max(invoice.next_retry_at, late) + dt.timedelta(minutes=1), gateway=stripe_gateway
    )
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert Campaign.objects.get(pk=setup.campaign.pk).status == Campaign.Status.ACTIVE
    failure = ["retry_failed", "payment_failed", "retry_scheduled"]
    assert list(invoice.events.values_list("kind", flat=True)) == [
        "sent",
        "payment_failed",
        "retry_scheduled",
        *failure,  # the first retry, no card yet
        *failure,  # the second, due by the time the invoice is overdue
        "campaigns_paused",
        "retried",  # with a card
        "paid",
        "campaigns_resumed",
    ]
    assert failed.pk  # recorded once
    assert InvoiceEvent.objects.filter(issuer=setup.issuer).count() == 13
