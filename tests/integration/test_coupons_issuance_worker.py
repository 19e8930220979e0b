"""Issuance on a real Celery worker: duplicate and late deliveries of every task issue nothing twice."""

from __future__ import annotations

import time

import pytest

from backend.coupons import tasks
from backend.coupons.models import Coupon, IssuanceChunk, IssuanceJob
from tests.conftest import wait_for
from tests.factories import PlacementFactory, active_campaign, pool_with_fans

pytestmark = pytest.mark.django_db(transaction=True)


def _finished(job_id):
    def check():
        job = IssuanceJob.objects.get(pk=job_id)
        return job if job.status in (IssuanceJob.Status.SUCCEEDED, IssuanceJob.Status.FAILED) else None

    return check


def test_redelivered_tasks_on_a_real_worker_issue_exactly_once(celery_worker_process):
    pool = pool_with_fans(120)
    placement = PlacementFactory(campaign=active_campaign(valid_days_after_issue=30), pool=pool, quota=100)
    job = IssuanceJob.objects.create(placement=placement, requested_by=placement.publisher)
    for _ in range(3):  # the same message delivered three times, racing on a worker of concurrency 2
        tasks.run_issuance_job.delay(job.pk)
    job = wait_for(_finished(job.pk), timeout=60)
    assert (job.status, job.total, job.issued) == ("succeeded", 100, 100)

    # Late redeliveries after the job finished: every chunk again, the job again, then a new job.
    for chunk_id in IssuanceChunk.objects.filter(job=job).values_list("pk", flat=True):
        tasks.issue_chunk.delay(chunk_id)
        tasks.issue_chunk.delay(chunk_id)
    tasks.run_issuance_job.delay(job.pk)
    later = IssuanceJob.objects.create(placement=placement, requested_by=placement.publisher)
    tasks.run_issuance_job.delay(later.pk)
    later = wait_for(_finished(later.pk), timeout=60)
    time.sleep(1.0)  # let the worker's other slot finish whatever it picked up

    assert later.issued == 0
    job.refresh_from_db()
    placement.refresh_from_db()
    coupons = Coupon.objects.filter(placement=placement)
    assert coupons.count() == placement.issued_count == job.issued == 100
    assert coupons.values("fan_id").distinct().count() == 100


def test_issuance_runs_on_a_worker_of_its_own_queue_without_a_dispatcher(_session_worker):
    """scripts/run's issuance worker: the issuance queue only. It issues the whole job (the
    tasks are routed there, not to the default queue, whose worker is not asked for here),
    and it runs no outbox dispatcher (that is the default queue's worker's job)."""
    from django.db import connection

    from backend.config.celery_app import app
    from backend.config.celery_routes import issuance_queue_for
    from backend.coupons.services import issuance_start
    from tests.conftest import TEST_QUEUE, _start_worker, _stop_worker, _workers

    pool = pool_with_fans(60)
    placement = PlacementFactory(campaign=active_campaign(valid_days_after_issue=30), pool=pool, quota=50)
    worker = _start_worker(
        TEST_QUEUE, connection.settings_dict["NAME"], 1, consume=issuance_queue_for(TEST_QUEUE)
    )
    try:
        names = [name for name, proc in _workers.items() if proc is worker]
        replies = app.control.broadcast(
            "outbox_dispatcher", arguments={"paused": 0}, destination=names, reply=True, timeout=10
        )
        assert [next(iter(reply.values())) for reply in replies] == [{"ok": "no dispatcher"}]

        job = issuance_start(merchant=placement.publisher, placement=placement)
        job = wait_for(_finished(job.pk), timeout=60)
    finally:
        _stop_worker(worker)
    assert (job.status, job.total, job.issued) == ("succeeded", 50, 50)
    assert Coupon.objects.filter(placement=placement).count() == 50
