"""The few Stripe calls billing makes, through stripe-python, with our own idempotency keys.

stripe-python adds a random idempotency key per call; retries across Celery attempts need
deterministic keys, so every create here passes one. Stripe keeps keys for about 24 hours,
so callers also store each id as soon as they have it and look objects up by our key
(metadata, or the description where a fake server drops metadata) before creating.

Against real Stripe an invoice is created first, as a draft in its own ``currency``, with
``pending_invoice_items_behavior=exclude`` (no pending item of the customer, ours or anyone
else's, is pulled in) and ``collection_method=send_invoice`` with ``days_until_due``; then
our one item is created *on* that invoice (``invoice=<id>``); then it is finalized with
``auto_advance=true`` and sent. See docs/decisions.md (collection).

``localstripe_compat`` (tests only) covers what localstripe lacks: it cannot create an
invoice without a subscription (so each customer gets a $0 plan subscription per currency,
whose $0 line decides the invoice's currency there), it ignores ``currency``,
``collection_method`` and ``pending_invoice_items_behavior`` (it always pulls every pending
item in, so the item is created first), and it has no finalize or send endpoint.
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


@dataclass(frozen=True)
class StripeInvoiceView:
    """What Stripe says about one invoice: compared with ours, never trusted blindly."""

    id: str
    status: str
    currency: str  # upper case, as ours
    total: int
    amount_paid: int
    collection_method: str = ""
    hosted_invoice_url: str = ""
    invoice_pdf: str = ""
    due_date: int | None = None

    @classmethod
    def of(cls, obj) -> StripeInvoiceView:
        def get(name, default=None):
            try:
                value = obj.get(name, default) if hasattr(obj, "get") else getattr(obj, name, default)
            except (AttributeError, KeyError):
                value = default
            return default if value is None else value

        return cls(
            id=str(get("id", "")),
            status=str(get("status", "")),
            currency=str(get("currency", "")).upper(),
            total=int(get("total", 0)),
            amount_paid=int(get("amount_paid", 0)),
            collection_method=str(get("collection_method", "")),
            hosted_invoice_url=str(get("hosted_invoice_url", "")),
            invoice_pdf=str(get("invoice_pdf", "")),
            due_date=get("due_date", None),
        )


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
        """localstripe only: a $0 plan subscription in ``currency``, so invoices can be created
        for the customer (its $0 line comes first and gives the invoice its currency there)."""
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
            options={"idempotency_key": f"cn-zero-sub-{customer_id}-{currency.lower()}"},
        )
        return StripeRef(subscription.id)

    # --- invoice items and invoices -------------------------------------------------------

    def find_pending_invoice_item(self, *, customer_id: str, key: str) -> StripeRef | None:
        """localstripe path: our item created before its invoice, not yet pulled into one."""
        items = self.client.v1.invoice_items.list(params={"customer": customer_id, "limit": 100})
        for item in items.auto_paging_iter():
            if _matches(item, key) and not getattr(item, "invoice", None):
                return StripeRef(item.id)
        return None

    def find_item_on_invoice(self, *, invoice_id: str, key: str) -> StripeRef | None:
        """Real Stripe path: our item already created on the draft invoice (a crash lost its id)."""
        items = self.client.v1.invoice_items.list(params={"invoice": invoice_id, "limit": 100})
        for item in items.auto_paging_iter():
            if _matches(item, key):
                return StripeRef(item.id)
        return None

    def create_invoice_item(
        self,
        *,
        customer_id: str,
        key: str,
        amount: int,
        currency: str,
        description: str,
        invoice_id: str = "",
    ) -> StripeRef:
        params: dict = {
            "customer": customer_id,
            "amount": amount,
            "currency": currency.lower(),
            "description": f"{description} [{key}]",
            "metadata": {KEY_METADATA: key},
        }
        if invoice_id:  # on our draft invoice, never left pending for another invoice to pull in
            params["invoice"] = invoice_id
        item = self.client.v1.invoice_items.create(params=params, options={"idempotency_key": f"{key}-item"})
        return StripeRef(item.id)

    def find_invoice(self, *, customer_id: str, key: str) -> StripeRef | None:
        invoices = self.client.v1.invoices.list(params={"customer": customer_id, "limit": 100})
        for invoice in invoices.auto_paging_iter():
            if _matches(invoice, key):
                return StripeRef(invoice.id, invoice.status or "")
        return None

    def create_invoice(
        self,
        *,
        customer_id: str,
        key: str,
        description: str,
        currency: str,
        days_until_due: int = 14,
        subscription_id: str = "",
    ) -> StripeRef:
        params: dict = {
            "customer": customer_id,
            "description": f"{description} [{key}]",
            "metadata": {KEY_METADATA: key},
        }
        if self.localstripe_compat:
            params["subscription"] = subscription_id
            params["pending_invoice_items_behavior"] = "include"  # localstripe pulls them in anyway
        else:
            params.update(
                {
                    "currency": currency.lower(),  # also decides which items may join it
                    "pending_invoice_items_behavior": "exclude",  # our item goes on it explicitly
                    "collection_method": "send_invoice",
                    "days_until_due": days_until_due,
                    "auto_advance": True,  # Stripe keeps collecting (reminders) after we send it
                }
            )
        invoice = self.client.v1.invoices.create(params=params, options={"idempotency_key": f"{key}-invoice"})
        return StripeRef(invoice.id, invoice.status or "")

    def retrieve_invoice(self, *, invoice_id: str) -> StripeInvoiceView:
        return StripeInvoiceView.of(self.client.v1.invoices.retrieve(invoice_id))

    def finalize_invoice(self, *, invoice_id: str, key: str) -> StripeInvoiceView:
        invoice = self.client.v1.invoices.retrieve(invoice_id)
        if self.localstripe_compat or invoice.status != "draft":  # localstripe: no finalize endpoint
            return StripeInvoiceView.of(invoice)
        invoice = self.client.v1.invoices.finalize_invoice(
            invoice_id, params={"auto_advance": True}, options={"idempotency_key": f"{key}-finalize"}
        )
        return StripeInvoiceView.of(invoice)

    def send_invoice(self, *, invoice_id: str, key: str) -> StripeInvoiceView:
        """Email the finalized invoice (its hosted page and PDF) to the customer, once."""
        if self.localstripe_compat:  # localstripe has no send endpoint
            return self.retrieve_invoice(invoice_id=invoice_id)
        invoice = self.client.v1.invoices.send_invoice(invoice_id, options={"idempotency_key": f"{key}-send"})
        return StripeInvoiceView.of(invoice)

    def pay_invoice(self, *, invoice_id: str, key: str) -> StripeInvoiceView:
        """Try the customer's default payment method now (a dunning retry); raises on decline."""
        invoice = self.client.v1.invoices.pay(invoice_id, options={"idempotency_key": key})
        return StripeInvoiceView.of(invoice)
