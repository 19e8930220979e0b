"""The real-Stripe request shapes that localstripe cannot check (no finalize, no auto_advance,
no idempotency): billing's gateway against recorded Stripe responses (trimmed to the fields used)."""

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
    "metadata": {"billing_invoice": "cn-inv-7-202610-cny"},
}
INVOICE_OPEN = {**INVOICE_DRAFT, "status": "open"}


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


def test_invoice_item_and_invoice_use_our_idempotency_keys_and_include_pending_items():
    gw, http = gateway({("POST", "/v1/invoiceitems"): INVOICE_ITEM, ("POST", "/v1/invoices"): INVOICE_DRAFT})
    key = "cn-inv-7-202610-cny"
    gw.create_invoice_item(
        customer_id="cus_RealShape1", key=key, amount=24000, currency="CNY", description="fees"
    )
    gw.create_invoice(customer_id="cus_RealShape1", key=key, description="fees")
    (m1, p1, h1, f1), (m2, p2, h2, f2) = http.requests
    assert h1["Idempotency-Key"] == f"{key}-item" and f1["amount"] == "24000" and f1["currency"] == "cny"
    assert f1["metadata[billing_invoice]"] == key
    assert h2["Idempotency-Key"] == f"{key}-invoice"
    assert f2["pending_invoice_items_behavior"] == "include"
    assert f2["auto_advance"] == "false"
    assert "subscription" not in f2  # the $0 subscription is a localstripe-only workaround


def test_finalize_only_a_draft_with_its_own_key():
    gw, http = gateway(
        {
            ("GET", "/v1/invoices/in_RealShape1"): INVOICE_DRAFT,
            ("POST", "/v1/invoices/in_RealShape1/finalize"): INVOICE_OPEN,
        }
    )
    assert gw.finalize_invoice(invoice_id="in_RealShape1", key="k").status == "open"
    assert http.requests[-1][2]["Idempotency-Key"] == "k-finalize"

    gw, http = gateway({("GET", "/v1/invoices/in_RealShape1"): INVOICE_OPEN})
    assert gw.finalize_invoice(invoice_id="in_RealShape1", key="k").status == "open"
    assert [r[:2] for r in http.requests] == [("GET", "/v1/invoices/in_RealShape1")]  # no second finalize


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
        gw.create_invoice(customer_id="cus_x", key="k", description="d")
