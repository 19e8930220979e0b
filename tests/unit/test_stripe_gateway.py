"""The real-Stripe request shapes that localstripe cannot check (no finalize, no send, no
auto_advance, no currency, no exclude, no idempotency): billing's gateway against recorded
Stripe responses (trimmed to the fields used).

Pinned against Stripe's documented API (invoices: create, finalize, send, pay; invoice items):
- ``currency`` on the invoice "dictates which invoice items get pulled into the invoice";
- ``pending_invoice_items_behavior=exclude`` pulls none of the customer's pending items;
  an item created with ``invoice=<id>`` is "attached to the specified invoice";
- ``collection_method=send_invoice`` needs ``days_until_due``; finalize with
  ``auto_advance=true``, then ``POST /v1/invoices/{id}/send`` emails it.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe

from billing.stripe_gateway import StripeGateway

# Trimmed from real Stripe API responses (API version 2024-06-20).
CUSTOMER = {
    "id": "cus_RealShape1",
    "object": "customer",
    "metadata": {"merchant_id": "7"},
    "name": "Sweet Spoon",
}
INVOICE_ITEM = {
    "id": "ii_RealShape1",
    "object": "invoiceitem",
    "amount": 24000,
    "currency": "cny",
    "customer": "cus_RealShape1",
    "description": "Coupon network fees 2026-10: 200 write-offs [cn-inv-7-202610-cny]",
    "invoice": None,
    "metadata": {"billing_invoice": "cn-inv-7-202610-cny"},
}
INVOICE_DRAFT = {
    "id": "in_RealShape1",
    "object": "invoice",
    "status": "draft",
    "auto_advance": False,
    "collection_method": "charge_automatically",
    "customer": "cus_RealShape1",
    "currency": "cny",
    "total": 24000,
    "amount_paid": 0,
    "metadata": {"billing_invoice": "cn-inv-7-202610-cny"},
}
INVOICE_OPEN = {
    **INVOICE_DRAFT,
    "status": "open",
    "auto_advance": True,
    "collection_method": "send_invoice",
    "due_date": 1794787200,
    "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/test_YWNjdF8x",
    "invoice_pdf": "https://pay.stripe.com/invoice/acct_1/test_YWNjdF8x/pdf",
}


class RecordedStripe(stripe.HTTPClient):
    name = "recorded"

    def __init__(self, routes):
        super().__init__()
        self.routes = routes
        self.requests: list[tuple[str, str, dict, dict]] = []

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        parts = urlsplit(url)
        form = {k: v[0] for k, v in parse_qs(post_data or parts.query).items()}
        self.requests.append((method.upper(), parts.path, dict(headers or {}), form))
        body = self.routes[(method.upper(), parts.path)]
        return json.dumps(body), 200, {}

    def close(self):
        pass


def gateway(routes) -> tuple[StripeGateway, RecordedStripe]:
    http = RecordedStripe(routes)
    return StripeGateway(api_key="sk_test_x", http_client=http), http


def test_invoice_is_created_in_its_currency_excluding_pending_items_then_our_item_goes_on_it():
    gw, http = gateway({("POST", "/v1/invoices"): INVOICE_DRAFT, ("POST", "/v1/invoiceitems"): INVOICE_ITEM})
    key = "cn-inv-7-202610-usd"
    ref = gw.create_invoice(
        customer_id="cus_RealShape1", key=key, description="fees", currency="USD", days_until_due=14
    )
    gw.create_invoice_item(
        customer_id="cus_RealShape1",
        key=key,
        amount=24000,
        currency="USD",
        description="fees",
        invoice_id=ref.id,
    )
    (m1, p1, h1, f1), (m2, p2, h2, f2) = http.requests
    assert (m1, p1) == ("POST", "/v1/invoices")
    assert h1["Idempotency-Key"] == f"{key}-invoice"
    assert f1["currency"] == "usd"  # not the customer's default: the invoice's own
    assert f1["pending_invoice_items_behavior"] == "exclude"  # no stray pending item joins it
    assert f1["collection_method"] == "send_invoice" and f1["days_until_due"] == "14"
    assert f1["auto_advance"] == "true"
    assert f1["metadata[billing_invoice]"] == key
    assert "subscription" not in f1  # the $0 subscription is a localstripe-only workaround
    assert (m2, p2) == ("POST", "/v1/invoiceitems")
    assert h2["Idempotency-Key"] == f"{key}-item"
    assert f2["invoice"] == "in_RealShape1"  # on our invoice, never left pending
    assert f2["amount"] == "24000" and f2["currency"] == "usd"
    assert f2["metadata[billing_invoice]"] == key


def test_finalize_advances_a_draft_then_send_emails_it_each_with_its_own_key():
    gw, http = gateway(
        {
            ("GET", "/v1/invoices/in_RealShape1"): INVOICE_DRAFT,
            ("POST", "/v1/invoices/in_RealShape1/finalize"): INVOICE_OPEN,
            ("POST", "/v1/invoices/in_RealShape1/send"): INVOICE_OPEN,
        }
    )
    view = gw.finalize_invoice(invoice_id="in_RealShape1", key="k")
    assert view.status == "open"
    assert http.requests[-1][2]["Idempotency-Key"] == "k-finalize"
    assert http.requests[-1][3]["auto_advance"] == "true"
    sent = gw.send_invoice(invoice_id="in_RealShape1", key="k")
    assert http.requests[-1][:2] == ("POST", "/v1/invoices/in_RealShape1/send")
    assert http.requests[-1][2]["Idempotency-Key"] == "k-send"
    assert (sent.currency, sent.total, sent.collection_method) == ("CNY", 24000, "send_invoice")
    assert sent.hosted_invoice_url.startswith("https://invoice.stripe.com/")
    assert sent.invoice_pdf.endswith("/pdf") and sent.due_date == 1794787200

    gw, http = gateway({("GET", "/v1/invoices/in_RealShape1"): INVOICE_OPEN})
    assert gw.finalize_invoice(invoice_id="in_RealShape1", key="k").status == "open"
    assert [r[:2] for r in http.requests] == [("GET", "/v1/invoices/in_RealShape1")]  # no second finalize


def test_a_dunning_retry_pays_with_a_key_per_attempt():
    gw, http = gateway({("POST", "/v1/invoices/in_RealShape1/pay"): {**INVOICE_OPEN, "status": "paid"}})
    view = gw.pay_invoice(invoice_id="in_RealShape1", key="cn-inv-7-202610-cny-retry-2")
    assert view.status == "paid"
    assert http.requests[-1][2]["Idempotency-Key"] == "cn-inv-7-202610-cny-retry-2"


def test_our_item_on_a_draft_is_found_by_the_invoice_filter():
    gw, http = gateway(
        {
            ("GET", "/v1/invoiceitems"): {
                "object": "list",
                "data": [{**INVOICE_ITEM, "invoice": "in_RealShape1"}],
                "has_more": False,
            }
        }
    )
    assert (
        gw.find_item_on_invoice(invoice_id="in_RealShape1", key="cn-inv-7-202610-cny").id == "ii_RealShape1"
    )
    assert http.requests[-1][3]["invoice"] == "in_RealShape1"


def test_lookups_match_our_key_in_metadata():
    gw, http = gateway(
        {
            ("GET", "/v1/invoices"): {"object": "list", "data": [INVOICE_OPEN], "has_more": False},
            ("GET", "/v1/invoiceitems"): {"object": "list", "data": [INVOICE_ITEM], "has_more": False},
            ("GET", "/v1/customers/search"): {
                "object": "search_result",
                "data": [CUSTOMER],
                "has_more": False,
            },
        }
    )
    assert gw.find_invoice(customer_id="cus_RealShape1", key="cn-inv-7-202610-cny").id == "in_RealShape1"
    assert gw.find_invoice(customer_id="cus_RealShape1", key="cn-inv-7-202611-cny") is None
    assert (
        gw.find_pending_invoice_item(customer_id="cus_RealShape1", key="cn-inv-7-202610-cny").id
        == "ii_RealShape1"
    )
    assert gw.find_customer(merchant_id=7).id == "cus_RealShape1"
    assert http.requests[-1][3]["query"] == "metadata['merchant_id']:'7'"


@pytest.mark.parametrize("status", [400, 409])
def test_a_refused_call_raises(status):
    class Refusing(RecordedStripe):
        def request(self, method, url, headers, post_data=None, *, _usage=None):
            body = {"error": {"type": "idempotency_error", "message": "Keys for idempotent requests..."}}
            return json.dumps(body), status, {}

    gw = StripeGateway(api_key="sk_test_x", http_client=Refusing({}))
    with pytest.raises(stripe.StripeError):
        gw.create_invoice(customer_id="cus_x", key="k", description="d", currency="CNY")
