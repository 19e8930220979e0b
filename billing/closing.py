"""Period close: freeze an issuer's locked lines into invoices, then send them through Stripe.

Two steps, each safe to re-run, so a crash anywhere (even between two Stripe calls) and a
retry create nothing twice:

1. *Freeze* (one transaction, under the period's row lock): for each currency, the issuer's
   locked lines of the month are attached to one Invoice whose ``amount`` is their sum; the
   period becomes ``closing`` and no line can join it any more (see services.open_period).
   A negative total (credits exceed charges) is not invoiced: its lines move to the next
   open period. A zero total is settled at once, without Stripe.
2. *Send* each draft invoice (under a session advisory lock per invoice): Stripe customer,
   one invoice item for the total, one invoice, finalize. Each Stripe id is stored as soon
   as it is known; before creating, the existing object is looked up by our deterministic
   key, because Stripe keeps idempotency keys for only about 24 hours.
"""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from backend.api.errors import ServiceError
from backend.merchants.models import Merchant
from backend.webhooks import events as webhook_events

from .errors import BillingErrorCode
from .models import BillingPeriod, BillingProfile, Invoice, LedgerAccount, LedgerEntry
from .services import announce_invoice, lock_period, next_month, open_period, period_bounds
from .stripe_gateway import StripeGateway

logger = logging.getLogger(__name__)
State = LedgerEntry.State

_ADVISORY_NAMESPACE = 0x42494C4C  # "BILL"


def invoice_key(*, issuer_id: int, period_start: dt.date, currency: str) -> str:
    return f"cn-inv-{issuer_id}-{period_start:%Y%m}-{currency.lower()}"


def close_period(
    *,
    issuer: Merchant,
    period_start: dt.date,
    now: dt.datetime | None = None,
    gateway: StripeGateway | None = None,
) -> BillingPeriod:
    """Close the issuer's month: freeze its locked lines, send its invoices. Idempotent."""
    period = freeze_period(issuer=issuer, period_start=period_start, now=now)
    gateway = gateway or StripeGateway.from_settings()
    for invoice in period.invoices.filter(status=Invoice.Status.DRAFT).order_by("id"):
        send_invoice(invoice=invoice, gateway=gateway)
    with transaction.atomic():
        period = BillingPeriod.objects.select_for_update().get(pk=period.pk)
        if (
            period.status == BillingPeriod.Status.CLOSING
            and not period.invoices.filter(status=Invoice.Status.DRAFT).exists()
        ):
            period.status = BillingPeriod.Status.CLOSED
            period.closed_at = timezone.now()
            period.save(update_fields=["status", "closed_at"])
    return period


def freeze_period(
    *, issuer: Merchant, period_start: dt.date, now: dt.datetime | None = None
) -> BillingPeriod:
    """Attach the issuer's locked lines of the month to one invoice per currency (once)."""
    now = now or timezone.now()
    if period_start.day != 1:
        raise ServiceError.single(BillingErrorCode.INVALID_PERIOD, "A period starts on the 1st.", "period")
    _, end = period_bounds(period_start, issuer)
    if now < end:
        raise ServiceError.single(
            BillingErrorCode.PERIOD_NOT_ENDED, "This month has not ended yet.", "period"
        )
    with transaction.atomic():
        period = lock_period(issuer_id=issuer.pk, period_start=period_start)
        if period.status != BillingPeriod.Status.OPEN:
            return period
        lines = LedgerEntry.objects.filter(issuer=issuer, period_start=period_start, state=State.LOCKED)
        totals = (
            lines.filter(account_kind=LedgerAccount.Kind.ISSUER_RECEIVABLE)
            .values("currency")
            .annotate(total=Sum("amount"), count=Count("id"))
            .order_by("currency")
        )
        for row in totals:
            currency, total = row["currency"], row["total"]
            of_currency = lines.filter(currency=currency)
            if total < 0:
                later = open_period(issuer_id=issuer.pk, period_start=next_month(period_start))
                of_currency.update(period_start=later.period_start)
                continue
            settled = total == 0
            invoice = Invoice.objects.create(
                billing_period=period,
                issuer=issuer,
                period_start=period_start,
                currency=currency,
                amount=total,
                line_count=row["count"],
                status=Invoice.Status.SETTLED if settled else Invoice.Status.DRAFT,
                key=invoice_key(issuer_id=issuer.pk, period_start=period_start, currency=currency),
                paid_at=now if settled else None,
            )
            of_currency.update(state=State.PAID if settled else State.INVOICED, invoice=invoice)
        period.status = BillingPeriod.Status.CLOSING
        period.frozen_at = now
        period.save(update_fields=["status", "frozen_at"])
        return period


@contextmanager
def _invoice_lock(invoice_id: int):
    """A session-level advisory lock: one sender per invoice, while ids commit step by step."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_ADVISORY_NAMESPACE, invoice_id % 2**31])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_ADVISORY_NAMESPACE, invoice_id % 2**31])


def _profile_for(merchant: Merchant) -> BillingProfile:
    BillingProfile.objects.bulk_create([BillingProfile(merchant=merchant)], ignore_conflicts=True)
    return BillingProfile.objects.get(merchant=merchant)


def ensure_customer(*, merchant: Merchant, gateway: StripeGateway) -> BillingProfile:
    """The merchant's Stripe customer id, created once and stored before anything else."""
    profile = _profile_for(merchant)
    if not profile.stripe_customer_id:
        ref = gateway.find_customer(merchant_id=merchant.pk) or gateway.create_customer(
            merchant_id=merchant.pk, name=merchant.name
        )
        profile.stripe_customer_id = ref.id
        profile.save(update_fields=["stripe_customer_id"])
    if gateway.localstripe_compat and not profile.stripe_subscription_id:
        ref = gateway.create_zero_subscription(
            customer_id=profile.stripe_customer_id, currency=merchant.default_currency
        )
        profile.stripe_subscription_id = ref.id
        profile.save(update_fields=["stripe_subscription_id"])
    return profile


def send_invoice(*, invoice: Invoice, gateway: StripeGateway) -> Invoice:
    """Push one frozen invoice to Stripe: one invoice item, one invoice, whatever the retries."""
    with _invoice_lock(invoice.pk):
        invoice.refresh_from_db()
        if invoice.status != Invoice.Status.DRAFT:
            return invoice
        issuer = invoice.issuer
        profile = ensure_customer(merchant=issuer, gateway=gateway)
        customer_id = profile.stripe_customer_id
        description = f"Coupon network fees {invoice.period_start:%Y-%m}"
        if not invoice.stripe_invoice_id:
            found = gateway.find_invoice(customer_id=customer_id, key=invoice.key)
            if found is not None:
                _store(invoice, stripe_invoice_id=found.id)
        if not invoice.stripe_invoice_id and not invoice.stripe_invoice_item_id:
            item = gateway.find_pending_invoice_item(customer_id=customer_id, key=invoice.key)
            if item is None:
                item = gateway.create_invoice_item(
                    customer_id=customer_id,
                    key=invoice.key,
                    amount=invoice.amount,
                    currency=invoice.currency,
                    description=f"{description}: {invoice.line_count} write-offs",
                )
            _store(invoice, stripe_invoice_item_id=item.id)
        if not invoice.stripe_invoice_id:
            created = gateway.create_invoice(
                customer_id=customer_id,
                key=invoice.key,
                description=description,
                subscription_id=profile.stripe_subscription_id,
            )
            _store(invoice, stripe_invoice_id=created.id)
        gateway.finalize_invoice(invoice_id=invoice.stripe_invoice_id, key=invoice.key)
        invoice.status = Invoice.Status.OPEN
        invoice.sent_at = timezone.now()
        with transaction.atomic():
            if Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.DRAFT).update(
                status=invoice.status, sent_at=invoice.sent_at
            ):
                announce_invoice(invoice, webhook_events.INVOICE_SENT.name)
        logger.info(
            "billing.invoice_sent",
            extra={"invoice_id": invoice.pk, "stripe_invoice": invoice.stripe_invoice_id},
        )
        return invoice


def _store(invoice: Invoice, **ids: str) -> None:
    """Commit a Stripe id at once (autocommit): a crash after this step must not lose it."""
    for name, value in ids.items():
        setattr(invoice, name, value)
    invoice.save(update_fields=list(ids))


def periods_to_close(*, now: dt.datetime | None = None) -> list[tuple[Merchant, dt.date]]:
    """Every (issuer, month) that has ended and still has locked lines or is not closed."""
    now = now or timezone.now()
    found: set[tuple[int, dt.date]] = set(
        LedgerEntry.objects.filter(state=State.LOCKED).values_list("issuer_id", "period_start").distinct()
    )
    found |= set(
        BillingPeriod.objects.filter(status=BillingPeriod.Status.CLOSING).values_list(
            "issuer_id", "period_start"
        )
    )
    merchants = {m.pk: m for m in Merchant.objects.filter(pk__in={i for i, _ in found})}
    due = []
    for issuer_id, period_start in sorted(found):
        merchant = merchants[issuer_id]
        if now >= period_bounds(period_start, merchant)[1]:
            due.append((merchant, period_start))
    return due
