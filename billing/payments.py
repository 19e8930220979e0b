"""After the close: Stripe's invoice events applied to ours, and dunning.

Every recorded event carries Stripe's view of the invoice (currency, total, amount paid);
it is compared with ours first, and an invoice Stripe disagrees with goes to ``mismatch``
and is never marked paid. Dunning (``run_dunning``, hourly):

- a failed payment is retried on a schedule (``BILLING_DUNNING_RETRY_HOURS``, hours after
  each failure) by asking Stripe to pay it with the customer's default payment method;
- an invoice overdue by ``BILLING_OVERDUE_PAUSE_DAYS`` days pauses the issuer's active
  campaigns; paying it resumes those campaigns (the ones it paused, if still paused).

Each step is an ``InvoiceEvent`` row, in the same transaction as the change it records.
"""

from __future__ import annotations

import datetime as dt
import logging

import stripe
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend.api.errors import ServiceError
from backend.campaigns import services as campaign_services
from backend.campaigns.models import Campaign
from backend.webhooks import events as webhook_events

from .closing import disagreement, mark_mismatch, record_view
from .models import Invoice, InvoiceEvent, LedgerEntry, StripeInvoiceEvent
from .services import announce_invoice
from .stripe_gateway import StripeGateway, StripeInvoiceView
from .webhooks import PAID_EVENTS

logger = logging.getLogger(__name__)
Kind = InvoiceEvent.Kind
Status = Invoice.Status


def retry_hours() -> list[int]:
    return list(getattr(settings, "BILLING_DUNNING_RETRY_HOURS", [24, 72, 168]))


def overdue_pause_days() -> int:
    return int(getattr(settings, "BILLING_OVERDUE_PAUSE_DAYS", 7))


def _event(invoice: Invoice, kind: str, now: dt.datetime, detail: str = "") -> None:
    InvoiceEvent.objects.create(
        invoice=invoice, issuer_id=invoice.issuer_id, kind=kind, detail=detail[:300], occurred_at=now
    )


def apply_stripe_invoice_events(*, limit: int = 500) -> int:
    """Apply every recorded, unapplied event (oldest first); returns how many it applied.

    Idempotent and order-tolerant: a paid invoice stays paid whatever arrives after.
    """
    applied = 0
    ids = list(
        StripeInvoiceEvent.objects.filter(applied_at__isnull=True)
        .order_by("received_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    for event_id in ids:
        with transaction.atomic():
            event = (
                StripeInvoiceEvent.objects.select_for_update(skip_locked=True)
                .filter(pk=event_id, applied_at__isnull=True)
                .first()
            )
            if event is None:
                continue
            event.outcome = _apply(event)
            event.applied_at = timezone.now()
            event.save(update_fields=["outcome", "applied_at"])
            applied += 1
    return applied


def _view_of(event: StripeInvoiceEvent, invoice: Invoice) -> StripeInvoiceView | None:
    if event.total is None:
        return None
    return StripeInvoiceView(
        id=event.stripe_invoice_id,
        status=event.invoice_status,
        currency=event.currency.upper(),
        total=event.total,
        amount_paid=event.amount_paid or 0,
    )


def _apply(event: StripeInvoiceEvent) -> str:
    invoice = Invoice.objects.select_for_update().filter(stripe_invoice_id=event.stripe_invoice_id).first()
    if invoice is None:
        return "unknown_invoice"
    if invoice.status == Status.MISMATCH:
        return "held_mismatch"
    now = timezone.now()
    view = _view_of(event, invoice)
    if view is not None:
        reason = disagreement(invoice, view)
        if reason:
            mark_mismatch(invoice, view, reason)
            return "mismatch"
    if event.type in PAID_EVENTS:
        if view is not None and view.amount_paid != invoice.amount:
            mark_mismatch(
                invoice, view, f"paid event with amount paid {view.amount_paid}, {invoice.amount} due"
            )
            return "mismatch"
        return mark_paid(invoice, now=now, view=view)
    if invoice.status == Status.PAID:
        return "ignored_after_paid"
    return _payment_failed(invoice, now=now, detail="reported by Stripe")


def mark_paid(invoice: Invoice, *, now: dt.datetime, view: StripeInvoiceView | None = None) -> str:
    """The invoice (locked by the caller) is paid: its lines too; campaigns it paused resume."""
    if invoice.status == Status.PAID:
        return "already_paid"
    fields = record_view(invoice, view) if view is not None else []
    invoice.status = Status.PAID
    invoice.paid_at = now
    invoice.next_retry_at = None
    invoice.save(update_fields=[*fields, "status", "paid_at", "next_retry_at"])
    LedgerEntry.objects.filter(invoice=invoice, state=LedgerEntry.State.INVOICED).update(
        state=LedgerEntry.State.PAID
    )
    _event(invoice, Kind.PAID, now)
    announce_invoice(invoice, webhook_events.INVOICE_PAID.name)
    if invoice.campaigns_paused_at is not None:
        _resume_campaigns(invoice, now=now)
    return "paid"


def _payment_failed(invoice: Invoice, *, now: dt.datetime, detail: str) -> str:
    invoice.status = Status.PAYMENT_FAILED
    invoice.payment_failed_at = now
    invoice.payment_attempts += 1
    schedule = retry_hours()
    due = invoice.payment_attempts <= len(schedule)
    invoice.next_retry_at = now + dt.timedelta(hours=schedule[invoice.payment_attempts - 1]) if due else None
    invoice.save(update_fields=["status", "payment_failed_at", "payment_attempts", "next_retry_at"])
    _event(invoice, Kind.PAYMENT_FAILED, now, detail)
    if invoice.next_retry_at is not None:
        _event(invoice, Kind.RETRY_SCHEDULED, now, invoice.next_retry_at.isoformat())
    announce_invoice(invoice, webhook_events.INVOICE_PAYMENT_FAILED.name)
    return "payment_failed"


def _resume_campaigns(invoice: Invoice, *, now: dt.datetime) -> None:
    still_overdue = (
        Invoice.objects.filter(issuer_id=invoice.issuer_id, campaigns_paused_at__isnull=False)
        .exclude(pk=invoice.pk)
        .exclude(status=Status.PAID)
    )
    resumed = []
    if not still_overdue.exists():
        for campaign in Campaign.objects.filter(
            pk__in=invoice.paused_campaign_ids, merchant_id=invoice.issuer_id, status=Campaign.Status.PAUSED
        ):
            try:
                campaign_services.campaign_resume(campaign=campaign)
                resumed.append(campaign.pk)
            except ServiceError:  # e.g. its validity window ended meanwhile: it stays paused
                continue
    invoice.campaigns_paused_at = None
    invoice.save(update_fields=["campaigns_paused_at"])
    _event(invoice, Kind.CAMPAIGNS_RESUMED, now, f"campaigns {resumed}")


def run_dunning(*, now: dt.datetime | None = None, gateway: StripeGateway | None = None) -> dict[str, int]:
    """Retry failed payments that are due, and pause or resume issuers' campaigns. Idempotent."""
    now = now or timezone.now()
    done = {"retried": 0, "paused": 0}
    due_retries = list(
        Invoice.objects.filter(status=Status.PAYMENT_FAILED, next_retry_at__lte=now).values_list(
            "pk", flat=True
        )
    )
    for invoice_id in due_retries:
        gateway = gateway or StripeGateway.from_settings()
        _retry_payment(invoice_id, now=now, gateway=gateway)
        done["retried"] += 1
    overdue = Invoice.objects.filter(
        status__in=[Status.OPEN, Status.PAYMENT_FAILED],
        campaigns_paused_at__isnull=True,
        due_at__lte=now - dt.timedelta(days=overdue_pause_days()),
    ).values_list("pk", flat=True)
    for invoice_id in list(overdue):
        with transaction.atomic():
            invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
            if invoice.status not in (Status.OPEN, Status.PAYMENT_FAILED) or invoice.campaigns_paused_at:
                continue
            paused = []
            for campaign in Campaign.objects.filter(
                merchant_id=invoice.issuer_id, status=Campaign.Status.ACTIVE
            ):
                campaign_services.campaign_pause(campaign=campaign)
                paused.append(campaign.pk)
            invoice.campaigns_paused_at = now
            invoice.paused_campaign_ids = paused
            invoice.save(update_fields=["campaigns_paused_at", "paused_campaign_ids"])
            _event(
                invoice,
                Kind.CAMPAIGNS_PAUSED,
                now,
                f"overdue since {invoice.due_at:%Y-%m-%d}; campaigns {paused}",
            )
            done["paused"] += 1
    return done


def _retry_payment(invoice_id: int, *, now: dt.datetime, gateway: StripeGateway) -> None:
    with transaction.atomic():  # claim the retry: a second runner finds next_retry_at cleared
        invoice = (
            Invoice.objects.select_for_update(skip_locked=True)
            .filter(pk=invoice_id, status=Status.PAYMENT_FAILED, next_retry_at__lte=now)
            .first()
        )
        if invoice is None:
            return
        invoice.next_retry_at = None
        invoice.save(update_fields=["next_retry_at"])
        attempt = invoice.payment_attempts
    try:
        view = gateway.pay_invoice(invoice_id=invoice.stripe_invoice_id, key=f"{invoice.key}-retry-{attempt}")
    except stripe.StripeError as exc:
        with transaction.atomic():
            invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
            if invoice.status == Status.PAYMENT_FAILED:
                _event(invoice, Kind.RETRY_FAILED, now, str(exc.user_message or exc)[:300])
                _payment_failed(invoice, now=now, detail=f"retry {attempt} declined")
        return
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        _event(invoice, Kind.RETRIED, now, f"attempt {attempt}: {view.status}")
        reason = disagreement(invoice, view)
        if reason:
            mark_mismatch(invoice, view, reason)
        elif view.status == "paid":
            mark_paid(invoice, now=now, view=view)
