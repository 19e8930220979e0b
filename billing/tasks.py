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


@shared_task(name="billing.tasks.close_previous_periods")
def close_previous_periods(now: str | None = None) -> int:
    """Close every (issuer, month) that has ended in the issuer's time zone (run hourly).

    One issuer's Stripe trouble does not block the others; the next hourly run retries it.
    ``now`` (ISO 8601) is for tests and replays; by default the current time.
    """
    import datetime as dt

    from . import closing

    moment = dt.datetime.fromisoformat(now) if now else None
    closed = failed = 0
    for issuer, period_start in closing.periods_to_close(now=moment):
        try:
            closing.close_period(issuer=issuer, period_start=period_start, now=moment)
            closed += 1
        except Exception:
            failed += 1
            logger.exception(
                "billing.close_failed", extra={"issuer_id": issuer.pk, "period": str(period_start)}
            )
    if failed:
        logger.error("billing.close_incomplete", extra={"closed": closed, "failed": failed})
    return closed


@shared_task(name="billing.tasks.run_dunning")
def run_dunning() -> dict:
    """Retry failed payments on schedule; pause an overdue issuer's campaigns (hourly)."""
    from . import payments

    return payments.run_dunning()


@shared_task(name="billing.tasks.apply_stripe_invoice_events")
def apply_stripe_invoice_events() -> int:
    from . import payments

    return payments.apply_stripe_invoice_events()


@shared_task(name="billing.tasks.run_scheduled_payouts")
def run_scheduled_payouts(day: str | None = None) -> dict:
    """Resume any run a crash left pending; on a payout day, plan and send that day's run once.

    ``day`` (YYYY-MM-DD) is for tests and replays; by default today (UTC). Hourly and safe to
    run twice: a run is planned once per day key and each payout is sent once.
    """
    import datetime as dt

    from django.utils import timezone

    from . import payouts

    resumed = payouts.resume_unfinished_runs()
    today = dt.date.fromisoformat(day) if day else timezone.now().date()
    if not payouts.is_payout_day(today):
        return {"resumed": resumed, "run": None, "payouts": 0}
    run = payouts.run_payouts(day=today)
    return {"resumed": resumed, "run": run.key, "payouts": run.payouts.count()}


@shared_task(name="billing.tasks.send_payout_run")
def send_payout_run(run_id: int) -> int:
    """Send a run's pending payouts (a payout requested through the API); safe to run twice."""
    from . import payouts
    from .models import PayoutRun

    run = PayoutRun.objects.filter(pk=run_id).first()
    if run is None:
        return 0
    payouts.send_run(run=run)
    return run.payouts.count()
