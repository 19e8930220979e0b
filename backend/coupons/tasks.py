"""Celery entry points of bulk issuance: thin and safe to run twice (see coupons.issuance)."""

from __future__ import annotations

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
        issuance.mark_failed(job_id=job_id, error=f"planning failed: {exc}")
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
        if job_id is not None:
            issuance.mark_failed(job_id=job_id, error=f"chunk {chunk_id} failed: {exc}")
        raise
