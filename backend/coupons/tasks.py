"""Celery entry points of bulk issuance: thin and safe to run twice (see coupons.issuance)."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from kombu.exceptions import OperationalError as BrokerError

from . import issuance

logger = logging.getLogger(__name__)


def enqueue_issuance_job(job_id: int) -> None:
    """Publish the job; if the broker is down the job stays pending and a re-run starts it."""
    try:
        run_issuance_job.delay(job_id)
    except BrokerError:
        logger.warning("coupons.issuance.enqueue_failed", extra={"job_id": job_id})


@shared_task(name="backend.coupons.tasks.run_issuance_job")
def run_issuance_job(job_id: int) -> int:
    """Plan the job (once) and enqueue every chunk not yet done; returns how many."""
    try:
        chunk_ids = issuance.plan_job(job_id=job_id)
    except Exception as exc:
        logger.exception("coupons.issuance.plan_failed", extra={"job_id": job_id})
        issuance.mark_failed(job_id=job_id, error=f"Planning failed ({type(exc).__name__}).")
        raise
    for chunk_id in chunk_ids:
        issue_chunk.delay(chunk_id)
    return len(chunk_ids)


@shared_task(name="backend.coupons.tasks.issue_chunk")
def issue_chunk(chunk_id: int) -> int:
    try:
        return issuance.issue_chunk(chunk_id=chunk_id)
    except Exception as exc:
        from .models import IssuanceChunk

        job_id = IssuanceChunk.objects.filter(pk=chunk_id).values_list("job_id", flat=True).first()
        # Both parties read the error: its type only, the details go to the log.
        logger.exception("coupons.issuance.chunk_failed", extra={"chunk_id": chunk_id, "job_id": job_id})
        if job_id is not None:
            issuance.mark_failed(job_id=job_id, error=f"A chunk failed ({type(exc).__name__}).")
        raise


# A chunk of 50,000 takes seconds; minutes of silence mean its message was lost.
STALLED_PENDING = dt.timedelta(seconds=60)
STALLED_SILENT = dt.timedelta(minutes=10)


@shared_task(name="backend.coupons.tasks.sweep_issuance_jobs")
def sweep_issuance_jobs() -> int:
    """Re-drive stalled jobs (periodic). Safe even if the old messages are still queued:
    a chunk done once is never done again."""
    job_ids = issuance.stalled_job_ids(pending_for=STALLED_PENDING, silent_for=STALLED_SILENT)
    for job_id in job_ids:
        enqueue_issuance_job(job_id)
    return len(job_ids)


@shared_task(name="backend.coupons.tasks.expire_coupons")
def expire_coupons() -> int:
    """Beat: issued coupons past their validity become EXPIRED, in batches."""
    from . import lifecycle

    return lifecycle.expire_coupons()
