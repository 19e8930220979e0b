"""Stripe webhooks about invoices: signature verified, the fact recorded, Celery applies it.

Billing has its own small endpoint (``/billing/stripe/webhook/``, subscribed at Stripe to
``invoice.paid``, ``invoice.payment_succeeded`` and ``invoice.payment_failed``), verified
with stripe-python against ``BILLING_STRIPE_WEBHOOK_SECRET``. dj-stripe's endpoint
(``/stripe/webhook/<uuid>/``) stays for dj-stripe's own mirror of Stripe objects: its sync
cannot digest invoices of the older shape localstripe produces (and the callback hook that
would bypass it is deprecated), while billing keeps its own invoice state anyway.
The request only records the event (idempotent on the Stripe event id); the work is a task.
"""

from __future__ import annotations

import json
import logging

import stripe
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import StripeInvoiceEvent

logger = logging.getLogger(__name__)

PAID_EVENTS = ("invoice.paid", "invoice.payment_succeeded")
FAILED_EVENTS = ("invoice.payment_failed",)
INVOICE_EVENTS = PAID_EVENTS + FAILED_EVENTS
SIGNATURE_TOLERANCE_SECONDS = 300


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    secret = getattr(settings, "BILLING_STRIPE_WEBHOOK_SECRET", "")
    if not secret:
        logger.error("billing.stripe_webhook_secret_missing")
        return HttpResponse(status=503)
    try:
        stripe.WebhookSignature.verify_header(
            request.body.decode("utf-8"),
            request.headers.get("Stripe-Signature", ""),
            secret,
            SIGNATURE_TOLERANCE_SECONDS,
        )
        event = json.loads(request.body)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError):
        logger.warning("billing.stripe_webhook_refused")
        return HttpResponseBadRequest("bad signature or payload")
    if not isinstance(event, dict) or not event.get("id"):
        return HttpResponseBadRequest("not an event")
    record_event(event)
    return HttpResponse("ok")


def record_event(event: dict) -> bool:
    """Record an invoice event once (Stripe delivers at least once); True if it is new."""
    event_type = str(event.get("type", ""))
    if event_type not in INVOICE_EVENTS:
        return False
    invoice = (event.get("data") or {}).get("object") or {}
    with transaction.atomic():
        created = StripeInvoiceEvent.objects.bulk_create(
            [
                StripeInvoiceEvent(
                    stripe_event_id=str(event["id"])[:255],
                    type=event_type,
                    stripe_invoice_id=str(invoice.get("id", ""))[:255],
                    stripe_created=int(event.get("created") or 0),
                    currency=str(invoice.get("currency") or "")[:3].upper(),
                    total=_int_or_none(invoice.get("total")),
                    amount_paid=_int_or_none(invoice.get("amount_paid")),
                    invoice_status=str(invoice.get("status") or "")[:32],
                )
            ],
            ignore_conflicts=True,
        )
        transaction.on_commit(_enqueue_apply)
    return bool(created and created[0].pk)


def _int_or_none(value) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _enqueue_apply() -> None:
    from . import tasks

    try:
        tasks.apply_stripe_invoice_events.delay()
    except Exception:  # the broker is down: the periodic lock task applies it later
        logger.warning("billing.stripe_event_enqueue_failed", exc_info=True)
