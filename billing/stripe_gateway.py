"""The few Stripe calls billing makes, through stripe-python, with our own idempotency keys.

stripe-python adds a random idempotency key per call; retries across Celery attempts need
deterministic keys, so every create here passes one. Stripe keeps keys for about 24 hours,
so callers also store each id as soon as they have it and look objects up by our key
(metadata, or the description where a fake server drops metadata) before creating.

``localstripe_compat`` (tests only) covers what localstripe lacks: it cannot create an
invoice without a subscription (so each customer gets a $0 plan subscription before any
invoice item), and it has no finalize endpoint (the invoice is left as created).
"""

from __future__ import annotations

from dataclasses import dataclass

import stripe
from django.conf import settings

KEY_METADATA = "billing_invoice"


@dataclass(frozen=True)
class StripeRef:
    id: str
    status: str = ""


def _matches(obj, key: str) -> bool:
    metadata = getattr(obj, "metadata", None) or {}
    try:
        if metadata.get(KEY_METADATA) == key:
            return True
    except AttributeError:
        pass
    return f"[{key}]" in (getattr(obj, "description", None) or "")


class StripeGateway:
    def __init__(
        self,
        *,
        api_key: str,
        api_base: str | None = None,
        localstripe_compat: bool = False,
        http_client: stripe.HTTPClient | None = None,
    ):
        self.localstripe_compat = localstripe_compat
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else {},
            stripe_version=settings.STRIPE_API_VERSION,
            max_network_retries=2,
            http_client=http_client,
        )

    @classmethod
    def from_settings(cls) -> StripeGateway:
        live = settings.STRIPE_LIVE_MODE
        return cls(
            api_key=settings.STRIPE_LIVE_SECRET_KEY if live else settings.STRIPE_TEST_SECRET_KEY,
            api_base=getattr(settings, "STRIPE_API_HOST", None),
            localstripe_compat=getattr(settings, "BILLING_STRIPE_LOCALSTRIPE_COMPAT", False),
        )

    # --- customers ------------------------------------------------------------------------

    def find_customer(self, *, merchant_id: int) -> StripeRef | None:
        """The customer created for the merchant, if a crash lost its id (metadata lookup)."""
        if self.localstripe_compat:  # no search endpoint: scan the (small) test list
            customers = self.client.v1.customers.list(params={"limit": 100}).auto_paging_iter()
        else:
            query = f"metadata['merchant_id']:'{int(merchant_id)}'"
            customers = self.client.v1.customers.search(
                params={"query": query, "limit": 10}
            ).auto_paging_iter()
        for customer in customers:
            if (customer.metadata or {}).get("merchant_id") == str(merchant_id):
                return StripeRef(customer.id)
        return None

    def create_customer(self, *, merchant_id: int, name: str) -> StripeRef:
        customer = self.client.v1.customers.create(
            params={"name": name, "metadata": {"merchant_id": str(merchant_id)}},
            options={"idempotency_key": f"cn-customer-{merchant_id}"},
        )
        return StripeRef(customer.id)

    def create_zero_subscription(self, *, customer_id: str, currency: str) -> StripeRef:
        """localstripe only: a $0 plan subscription, so invoices can be created for the customer."""
        plan_id = f"cn-zero-{currency.lower()}"
        try:
            self.client.v1.plans.retrieve(plan_id)
        except stripe.InvalidRequestError:
            self.client.v1.plans.create(
                params={
                    "id": plan_id,
                    "amount": 0,
                    "currency": currency.lower(),
                    "interval": "month",
                    "product": {"name": "Coupon network fees"},
                }
            )
        subscription = self.client.v1.subscriptions.create(
            params={"customer": customer_id, "items": [{"plan": plan_id}]},
            options={"idempotency_key": f"cn-zero-sub-{customer_id}"},
        )
        return StripeRef(subscription.id)

    # --- invoice items and invoices -------------------------------------------------------

    def find_pending_invoice_item(self, *, customer_id: str, key: str) -> StripeRef | None:
        items = self.client.v1.invoice_items.list(params={"customer": customer_id, "limit": 100})
        for item in items.auto_paging_iter():
            if _matches(item, key) and not getattr(item, "invoice", None):
                return StripeRef(item.id)
        return None

    def create_invoice_item(
        self, *, customer_id: str, key: str, amount: int, currency: str, description: str
    ) -> StripeRef:
        item = self.client.v1.invoice_items.create(
            params={
                "customer": customer_id,
                "amount": amount,
                "currency": currency.lower(),
                "description": f"{description} [{key}]",
                "metadata": {KEY_METADATA: key},
            },
            options={"idempotency_key": f"{key}-item"},
        )
        return StripeRef(item.id)

    def find_invoice(self, *, customer_id: str, key: str) -> StripeRef | None:
        invoices = self.client.v1.invoices.list(params={"customer": customer_id, "limit": 100})
        for invoice in invoices.auto_paging_iter():
            if _matches(invoice, key):
                return StripeRef(invoice.id, invoice.status or "")
        return None

    def create_invoice(
        self, *, customer_id: str, key: str, description: str, subscription_id: str = ""
    ) -> StripeRef:
        params: dict = {
            "customer": customer_id,
            "description": f"{description} [{key}]",
            "metadata": {KEY_METADATA: key},
            "pending_invoice_items_behavior": "include",
        }
        if self.localstripe_compat:
            params["subscription"] = subscription_id
        else:
            params["auto_advance"] = False  # we finalize explicitly, right after
        invoice = self.client.v1.invoices.create(params=params, options={"idempotency_key": f"{key}-invoice"})
        return StripeRef(invoice.id, invoice.status or "")

    def finalize_invoice(self, *, invoice_id: str, key: str) -> StripeRef:
        if self.localstripe_compat:  # localstripe has no finalize endpoint
            return StripeRef(invoice_id, "draft")
        invoice = self.client.v1.invoices.retrieve(invoice_id)
        if invoice.status != "draft":
            return StripeRef(invoice.id, invoice.status or "")
        invoice = self.client.v1.invoices.finalize_invoice(
            invoice_id, options={"idempotency_key": f"{key}-finalize"}
        )
        return StripeRef(invoice.id, invoice.status or "")
