"""Period close: freeze an issuer's locked lines into invoices, then send them through Stripe.

Two steps, each safe to re-run, so a crash anywhere (even between two Stripe calls) and a
retry create nothing twice:

1. *Freeze* (one transaction, under the period's row lock): for each currency, the issuer's
   locked lines of the month are attached to one Invoice whose ``amount`` is their sum; the
   period becomes ``closing`` and no line can join it any more (see services.open_period).
   A negative total (credits exceed charges) is not invoiced: its lines move to the next
   open period. A zero total is settled at once, without Stripe.
2. *Send* each draft invoice (under a session advisory lock per invoice): Stripe customer,
   one invoice in the invoice's own currency, our one item on it, a check that Stripe's
   currency and total equal ours, finalize, send. Each Stripe id is stored as soon as it is
   known; before creating, the existing object is looked up by our deterministic key,
   because Stripe keeps idempotency keys for only about 24 hours. An invoice whose Stripe
   view disagrees with ours is put in ``mismatch`` (logged as an error), never finalized,
   sent or marked paid.

A month is due for its close when it has ended in the issuer's time zone *and* the void
windows of its write-offs have passed (no pending line of the month is left): the close
waits for them rather than carrying them forward, so a month's invoice holds exactly the
month's write-offs (plus credits for later voids and disputes). See docs/decisions.md.
"""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from attribution import services as attribution_services
from backend.api.errors import ServiceError
from backend.merchants.models import Merchant
from backend.webhooks import events as webhook_events

from .errors import BillingErrorCode
from .models import BillingPeriod, BillingProfile, Invoice, InvoiceEvent, LedgerAccount, LedgerEntry, Posting
from .services import announce_invoice, lock_period, next_month, open_period, period_bounds
from .stripe_gateway import StripeGateway, StripeInvoiceView

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
        if _voidable_write_offs(issuer=issuer, period_start=period_start).exists():
            raise ServiceError.single(
                BillingErrorCode.STILL_VOIDABLE,
                "Write-offs of this month are still inside their void window; the close waits for them.",
                "period",
            )
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
            charged = list(
                of_currency.filter(
                    account_kind=LedgerAccount.Kind.ISSUER_RECEIVABLE, posting__kind=Posting.Kind.CHARGE
                ).values_list("posting__redemption_id", flat=True)
            )
            if total < 0:
                later = open_period(issuer_id=issuer.pk, period_start=next_month(period_start))
                of_currency.update(period_start=later.period_start)
                attribution_services.mark_billing(redemption_ids=charged, period_start=later.period_start)
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
            attribution_services.mark_billing(redemption_ids=charged, invoice_id=invoice.pk)
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


def _voidable_write_offs(*, issuer: Merchant, period_start: dt.date):
    """The issuer's pending charge lines of write-offs made in the month (void window open)."""
    start, end = period_bounds(period_start, issuer)
    return LedgerEntry.objects.filter(
        issuer=issuer,
        state=State.PENDING,
        posting__kind=Posting.Kind.CHARGE,
        posting__occurred_at__gte=start,
        posting__occurred_at__lt=end,
    )


def _profile_for(merchant: Merchant) -> BillingProfile:
    BillingProfile.objects.bulk_create([BillingProfile(merchant=merchant)], ignore_conflicts=True)
    return BillingProfile.objects.get(merchant=merchant)


def ensure_customer(*, merchant: Merchant, gateway: StripeGateway, currency: str = "") -> BillingProfile:
    """The merchant's Stripe customer id, created once and stored before anything else."""
    profile = _profile_for(merchant)
    if not profile.stripe_customer_id:
        ref = gateway.find_customer(merchant_id=merchant.pk) or gateway.create_customer(
            merchant_id=merchant.pk, name=merchant.name
        )
        profile.stripe_customer_id = ref.id
        profile.save(update_fields=["stripe_customer_id"])
    currency = (currency or merchant.default_currency).lower()
    if gateway.localstripe_compat and currency not in profile.zero_subscriptions:
        ref = gateway.create_zero_subscription(customer_id=profile.stripe_customer_id, currency=currency)
        profile.zero_subscriptions = {**profile.zero_subscriptions, currency: ref.id}
        profile.stripe_subscription_id = profile.stripe_subscription_id or ref.id
        profile.save(update_fields=["zero_subscriptions", "stripe_subscription_id"])
    return profile


def disagreement(invoice: Invoice, view: StripeInvoiceView) -> str:
    """Why Stripe's view of the invoice differs from ours ('' when it agrees)."""
    if view.currency and view.currency != invoice.currency:
        return f"currency {view.currency} at Stripe, {invoice.currency} here"
    if view.total != invoice.amount:
        return f"total {view.total} at Stripe, {invoice.amount} here"
    if view.amount_paid not in (0, invoice.amount) or (
        view.status == "paid" and view.amount_paid != invoice.amount
    ):
        return f"amount paid {view.amount_paid} at Stripe, {invoice.amount} due here"
    return ""


def record_view(invoice: Invoice, view: StripeInvoiceView) -> list[str]:
    """Copy Stripe's view onto the invoice (not saved); returns the fields it set."""
    invoice.stripe_status = view.status
    invoice.stripe_currency = view.currency
    invoice.stripe_total = view.total
    invoice.stripe_amount_paid = view.amount_paid
    fields = ["stripe_status", "stripe_currency", "stripe_total", "stripe_amount_paid"]
    for name in ("collection_method", "hosted_invoice_url", "invoice_pdf"):
        value = getattr(view, name)
        if value:
            setattr(invoice, name, value)
            fields.append(name)
    if view.due_date:
        invoice.due_at = dt.datetime.fromtimestamp(int(view.due_date), tz=dt.UTC)
        fields.append("due_at")
    return fields


def mark_mismatch(invoice: Invoice, view: StripeInvoiceView, reason: str) -> Invoice:
    """Stripe disagrees: the invoice is held in ``mismatch`` (never paid); an error is logged."""
    fields = record_view(invoice, view)
    invoice.status = Invoice.Status.MISMATCH
    invoice.mismatch = reason[:300]
    invoice.save(update_fields=[*fields, "status", "mismatch"])
    InvoiceEvent.objects.create(
        invoice=invoice,
        issuer_id=invoice.issuer_id,
        kind=InvoiceEvent.Kind.MISMATCH,
        detail=reason[:300],
        occurred_at=timezone.now(),
    )
    logger.error(
        "billing.invoice_mismatch",
        extra={"invoice_id": invoice.pk, "stripe_invoice": invoice.stripe_invoice_id, "reason": reason},
    )
    return invoice


def send_invoice(*, invoice: Invoice, gateway: StripeGateway) -> Invoice:
    """Push one frozen invoice to Stripe, in its currency, with only our item; check, finalize, send.

    One invoice and one item at Stripe whatever the retries. If Stripe's currency or total is
    not ours, the invoice goes to ``mismatch`` and is neither finalized nor sent.
    """
    with _invoice_lock(invoice.pk):
        invoice.refresh_from_db()
        if invoice.status != Invoice.Status.DRAFT:
            return invoice
        issuer = invoice.issuer
        profile = ensure_customer(merchant=issuer, gateway=gateway, currency=invoice.currency)
        customer_id = profile.stripe_customer_id
        description = f"Coupon network fees {invoice.period_start:%Y-%m}"
        item_description = f"{description}: {invoice.line_count} write-offs"
        if not invoice.stripe_invoice_id:
            found = gateway.find_invoice(customer_id=customer_id, key=invoice.key)
            if found is not None:
                _store(invoice, stripe_invoice_id=found.id)
        if gateway.localstripe_compat:
            _create_item_then_invoice(invoice, gateway, profile, description, item_description)
        else:
            if not invoice.stripe_invoice_id:
                created = gateway.create_invoice(
                    customer_id=customer_id,
                    key=invoice.key,
                    description=description,
                    currency=invoice.currency,
                    days_until_due=days_until_due(),
                )
                _store(invoice, stripe_invoice_id=created.id)
            if not invoice.stripe_invoice_item_id:
                item = gateway.find_item_on_invoice(
                    invoice_id=invoice.stripe_invoice_id, key=invoice.key
                ) or gateway.create_invoice_item(
                    customer_id=customer_id,
                    key=invoice.key,
                    amount=invoice.amount,
                    currency=invoice.currency,
                    description=item_description,
                    invoice_id=invoice.stripe_invoice_id,
                )
                _store(invoice, stripe_invoice_item_id=item.id)
        view = gateway.retrieve_invoice(invoice_id=invoice.stripe_invoice_id)
        reason = disagreement(invoice, view)
        if not reason and view.status == "draft":
            view = gateway.finalize_invoice(invoice_id=invoice.stripe_invoice_id, key=invoice.key)
            if view.status == "open" and not gateway.localstripe_compat:
                view = gateway.send_invoice(invoice_id=invoice.stripe_invoice_id, key=invoice.key)
            reason = disagreement(invoice, view)
        if reason:
            return mark_mismatch(invoice, view, reason)
        now = timezone.now()
        fields = record_view(invoice, view)
        if invoice.due_at is None:  # localstripe has no due date: ours, from the same setting
            invoice.due_at = now + dt.timedelta(days=days_until_due())
            fields.append("due_at")
        invoice.collection_method = invoice.collection_method or "send_invoice"
        invoice.status = Invoice.Status.OPEN
        invoice.sent_at = now
        with transaction.atomic():  # the invoice's state, its event and the webhook: together
            invoice.save(update_fields=[*set(fields), "collection_method", "status", "sent_at"])
            InvoiceEvent.objects.create(
                invoice=invoice,
                issuer_id=invoice.issuer_id,
                kind=InvoiceEvent.Kind.SENT,
                occurred_at=now,
                detail=invoice.hosted_invoice_url[:300],
            )
            announce_invoice(invoice, webhook_events.INVOICE_SENT.name)
        logger.info(
            "billing.invoice_sent",
            extra={"invoice_id": invoice.pk, "stripe_invoice": invoice.stripe_invoice_id},
        )
        return invoice


def days_until_due() -> int:
    return int(getattr(settings, "BILLING_INVOICE_DAYS_UNTIL_DUE", 14))


def _create_item_then_invoice(invoice, gateway, profile, description, item_description) -> None:
    """localstripe: it pulls every pending item into a new invoice, so the item comes first."""
    customer_id = profile.stripe_customer_id
    if not invoice.stripe_invoice_id and not invoice.stripe_invoice_item_id:
        item = gateway.find_pending_invoice_item(customer_id=customer_id, key=invoice.key)
        if item is None:
            item = gateway.create_invoice_item(
                customer_id=customer_id,
                key=invoice.key,
                amount=invoice.amount,
                currency=invoice.currency,
                description=item_description,
            )
        _store(invoice, stripe_invoice_item_id=item.id)
    if not invoice.stripe_invoice_id:
        created = gateway.create_invoice(
            customer_id=customer_id,
            key=invoice.key,
            description=description,
            currency=invoice.currency,
            subscription_id=profile.zero_subscriptions[invoice.currency.lower()],
        )
        _store(invoice, stripe_invoice_id=created.id)


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
        if now < period_bounds(period_start, merchant)[1]:
            continue
        if _voidable_write_offs(issuer=merchant, period_start=period_start).exists():
            continue  # the close waits for the month's last void windows (see the module doc)
        due.append((merchant, period_start))
    return due
