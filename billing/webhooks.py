"""Stripe webhooks: dj-stripe verifies the signature, billing records invoice facts.

dj-stripe's view (``/stripe/webhook/<uuid>/``) checks the ``Stripe-Signature`` header
against the endpoint's secret and then calls ``DJSTRIPE_WEBHOOK_EVENT_CALLBACK`` (this
module's :func:`handle_stripe_event`) instead of its own sync. Invoice events are recorded
as :class:`StripeInvoiceEvent` rows and applied by a Celery task: the request stays short.
Other events go to dj-stripe's own processing. (dj-stripe's sync cannot digest invoices of
the older shape localstripe produces; billing keeps its own invoice state anyway.)
"""

from __future__ import annotations

import logging

from django.db import transaction

from .models import StripeInvoiceEvent

logger = logging.getLogger(__name__)

PAID_EVENTS = ("invoice.paid", "invoice.payment_succeeded")
FAILED_EVENTS = ("invoice.payment_failed",)
INVOICE_EVENTS = PAID_EVENTS + FAILED_EVENTS


def handle_stripe_event(trigger, api_key: str | None = None) -> None:
    body = trigger.json_body
    event_type = body.get("type", "")
    if event_type not in INVOICE_EVENTS:
        trigger.process(save=False, api_key=api_key)
        return
    invoice = (body.get("data") or {}).get("object") or {}
    StripeInvoiceEvent.objects.bulk_create(
        [
            StripeInvoiceEvent(
                stripe_event_id=str(body.get("id", "")),
                type=event_type,
                stripe_invoice_id=str(invoice.get("id", "")),
                stripe_created=int(body.get("created") or 0),
            )
        ],
        ignore_conflicts=True,  # Stripe delivers at least once
    )
    trigger.processed = True
    transaction.on_commit(_enqueue_apply)


def _enqueue_apply() -> None:
    from . import tasks

    try:
        tasks.apply_stripe_invoice_events.delay()
    except Exception:  # the broker is down: the periodic lock task applies it later
        logger.warning("billing.stripe_event_enqueue_failed", exc_info=True)
