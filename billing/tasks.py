"""Celery entry points of billing: thin and safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="billing.tasks.lock_ledger_entries")
def lock_ledger_entries() -> int:
    """Lock lines whose void window has passed; also apply Stripe events a lost task left."""
    from . import payments, services

    locked = services.lock_due_entries()
    payments.apply_stripe_invoice_events()
    return locked


@shared_task(bind=True, name="billing.tasks.close_previous_periods", max_retries=48)
def close_previous_periods(self) -> int:
    """Close every ended (issuer, month) with locked lines or unsent invoices.

    One issuer's Stripe trouble does not block the others; the task retries itself (every
    30 minutes) until every period is closed, since the beat runs only once a month.
    """
    from . import closing

    closed = failed = 0
    for issuer, period_start in closing.periods_to_close():
        try:
            closing.close_period(issuer=issuer, period_start=period_start)
            closed += 1
        except Exception:
            failed += 1
            logger.exception(
                "billing.close_failed", extra={"issuer_id": issuer.pk, "period": str(period_start)}
            )
    if failed:
        raise self.retry(countdown=1800)
    return closed


@shared_task(name="billing.tasks.apply_stripe_invoice_events")
def apply_stripe_invoice_events() -> int:
    from . import payments

    return payments.apply_stripe_invoice_events()
