"""Stripe invoice webhooks at billing's endpoint: signature verified, invoice facts recorded.

A bad signature is refused (HTTP 400) and records nothing; a valid ``invoice.paid`` is
recorded in the request and applied by billing's task: the invoice and its lines are paid.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import time
import uuid

import pytest

from billing import closing, payments, services
from billing.models import Invoice, LedgerEntry, StripeInvoiceEvent
from tests.factories.billing import billing_setup, write_off

pytestmark = pytest.mark.django_db

SECRET = "whsec_test_billing"
UTC = dt.UTC


@pytest.fixture
def endpoint(settings) -> str:
    settings.BILLING_STRIPE_WEBHOOK_SECRET = SECRET
    return "/billing/stripe/webhook/"


@pytest.fixture
def open_invoice() -> Invoice:
    setup = billing_setup(fee=300)
    for day in (2, 3):
        services.charge_redemption(
            redemption_id=write_off(setup, at=dt.datetime(2026, 10, day, tzinfo=UTC)).pk
        )
    services.lock_due_entries(now=dt.datetime(2026, 10, 10, tzinfo=UTC))
    period = closing.freeze_period(
        issuer=setup.issuer, period_start=dt.date(2026, 10, 1), now=dt.datetime(2026, 11, 2, tzinfo=UTC)
    )
    invoice = period.invoices.get()
    invoice.stripe_invoice_id = f"in_{uuid.uuid4().hex[:14]}"
    invoice.status = Invoice.Status.OPEN
    invoice.save(update_fields=["stripe_invoice_id", "status"])
    return invoice


def event_body(event_type: str, stripe_invoice_id: str) -> bytes:
    return json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex[:14]}",
            "object": "event",
            "type": event_type,
            "livemode": False,
            "created": int(time.time()),
            "api_version": "2024-06-20",
            "data": {"object": {"id": stripe_invoice_id, "object": "invoice", "status": "paid"}},
        }
    ).encode()


def sign(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def post(client, endpoint: str, body: bytes, signature: str | None):
    headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature is not None else {}
    return client.post(endpoint, body, content_type="application/json", **headers)


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(lambda body: sign(body, secret="whsec_wrong"), id="wrong-secret"),
        pytest.param(lambda body: sign(body + b" "), id="other-body"),
        pytest.param(lambda body: sign(body, timestamp=int(time.time()) - 3600), id="stale"),
        pytest.param(lambda body: "t=1,v1=deadbeef", id="garbage"),
        pytest.param(lambda body: None, id="missing"),
    ],
)
def test_a_webhook_with_a_bad_signature_is_refused_and_changes_nothing(
    client, endpoint, open_invoice, signature
):
    body = event_body("invoice.paid", open_invoice.stripe_invoice_id)
    response = post(client, endpoint, body, signature(body))
    assert response.status_code == 400
    assert not StripeInvoiceEvent.objects.exists()
    payments.apply_stripe_invoice_events()
    open_invoice.refresh_from_db()
    assert open_invoice.status == Invoice.Status.OPEN


def test_a_valid_paid_webhook_marks_the_invoice_and_its_lines_paid(
    client, endpoint, open_invoice, django_capture_on_commit_callbacks
):
    body = event_body("invoice.paid", open_invoice.stripe_invoice_id)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, endpoint, body, sign(body))
    assert response.status_code == 200
    assert len(callbacks) == 1  # the apply task is enqueued after commit, not run in the request
    open_invoice.refresh_from_db()
    assert open_invoice.status == Invoice.Status.OPEN  # the request only records the fact

    assert payments.apply_stripe_invoice_events() == 1
    open_invoice.refresh_from_db()
    assert open_invoice.status == Invoice.Status.PAID and open_invoice.paid_at is not None
    assert set(LedgerEntry.objects.filter(invoice=open_invoice).values_list("state", flat=True)) == {"paid"}

    # Stripe delivers at least once: the same event again changes nothing.
    assert post(client, endpoint, body, sign(body)).status_code == 200
    assert StripeInvoiceEvent.objects.count() == 1
    assert payments.apply_stripe_invoice_events() == 0


def test_a_payment_failure_is_recorded_and_a_later_payment_wins(client, endpoint, open_invoice):
    failed = event_body("invoice.payment_failed", open_invoice.stripe_invoice_id)
    assert post(client, endpoint, failed, sign(failed)).status_code == 200
    payments.apply_stripe_invoice_events()
    open_invoice.refresh_from_db()
    assert open_invoice.status == Invoice.Status.PAYMENT_FAILED
    assert set(LedgerEntry.objects.filter(invoice=open_invoice).values_list("state", flat=True)) == {
        "invoiced"
    }

    paid = event_body("invoice.payment_succeeded", open_invoice.stripe_invoice_id)
    assert post(client, endpoint, paid, sign(paid)).status_code == 200
    late_failure = event_body("invoice.payment_failed", open_invoice.stripe_invoice_id)
    assert post(client, endpoint, late_failure, sign(late_failure)).status_code == 200
    payments.apply_stripe_invoice_events()
    open_invoice.refresh_from_db()
    assert open_invoice.status == Invoice.Status.PAID


def test_other_events_are_acknowledged_and_ignored(client, endpoint, open_invoice):
    body = event_body("customer.created", "cus_x")
    assert post(client, endpoint, body, sign(body)).status_code == 200
    assert not StripeInvoiceEvent.objects.exists()


def test_without_a_configured_secret_nothing_is_accepted(client, settings, open_invoice):
    settings.BILLING_STRIPE_WEBHOOK_SECRET = ""
    body = event_body("invoice.paid", open_invoice.stripe_invoice_id)
    assert post(client, "/billing/stripe/webhook/", body, sign(body)).status_code == 503
    assert client.get("/billing/stripe/webhook/").status_code == 405
    assert not StripeInvoiceEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_selftest_command_proves_a_running_server_verifies_webhooks(live_server, settings):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    settings.BILLING_STRIPE_WEBHOOK_SECRET = "whsec_selftest"
    out = io.StringIO()
    call_command("stripe_webhook_selftest", url=live_server.url, stdout=out)
    assert "signed event: 200; wrong signature: 400" in out.getvalue()
    settings.BILLING_STRIPE_WEBHOOK_SECRET = ""  # the server has no secret: it answers 503
    with pytest.raises(CommandError):
        call_command("stripe_webhook_selftest", url=live_server.url, stdout=io.StringIO())
