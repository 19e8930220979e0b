"""Apply recorded Stripe invoice events to billing's invoices and their ledger lines."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from backend.webhooks import events as webhook_events

from .models import Invoice, LedgerEntry, StripeInvoiceEvent
from .services import announce_invoice
from .webhooks import PAID_EVENTS


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


def _apply(event: StripeInvoiceEvent) -> str:
    invoice = Invoice.objects.select_for_update().filter(stripe_invoice_id=event.stripe_invoice_id).first()
    if invoice is None:
        return "unknown_invoice"
    now = timezone.now()
    if event.type in PAID_EVENTS:
        if invoice.status == Invoice.Status.PAID:
            return "already_paid"
        invoice.status = Invoice.Status.PAID
        invoice.paid_at = now
        invoice.save(update_fields=["status", "paid_at"])
        LedgerEntry.objects.filter(invoice=invoice, state=LedgerEntry.State.INVOICED).update(
            state=LedgerEntry.State.PAID
        )
        announce_invoice(invoice, webhook_events.INVOICE_PAID.name)
        return "paid"
    if invoice.status == Invoice.Status.PAID:
        return "ignored_after_paid"
    invoice.status = Invoice.Status.PAYMENT_FAILED
    invoice.payment_failed_at = now
    invoice.save(update_fields=["status", "payment_failed_at"])
    announce_invoice(invoice, webhook_events.INVOICE_PAYMENT_FAILED.name)
    return "payment_failed"
