"""Bulk issuance speed against a raw COPY of the same rows (slow; size from COUPON_BENCH_FANS).

The full benchmark (tests/bench, scenario 3) runs it through Celery with 1,000,000 fans;
this one runs the same engine in-process so a change to it can be measured in a minute.
"""

from __future__ import annotations

import io
import os
import time

import pytest
from django.db import connection

from backend.coupons import issuance
from backend.coupons.models import Coupon, IssuanceJob
from tests.factories import PlacementFactory, active_campaign, pool_with_fans

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FANS = int(os.environ.get("COUPON_BENCH_FANS", "100000"))


def _bulk_fans(pool, n: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audience_fan (fan_key, kind, created_at) "
            "SELECT 'speed-' || %s || '-' || g, 'phone', now() FROM generate_series(1, %s) g",
            [pool.pk, n],
        )
        cursor.execute(
            "INSERT INTO audience_poolmembership (pool_id, fan_id, consented_at, source, created_at) "
            "SELECT %s, id, now(), 'speed', now() FROM audience_fan WHERE fan_key LIKE %s",
            [pool.pk, f"speed-{pool.pk}-%"],
        )
        cursor.execute("ANALYZE audience_poolmembership")


def test_issuance_is_at_least_half_copy_speed():
    pool = pool_with_fans(0)
    _bulk_fans(pool, FANS)
    placement = PlacementFactory(campaign=active_campaign(valid_days_after_issue=30), pool=pool, quota=FANS)
    job = IssuanceJob.objects.create(placement=placement, requested_by=placement.publisher)
    started = time.perf_counter()
    job = issuance.run_job_inline(job_id=job.pk)
    ours = time.perf_counter() - started
    assert (job.status, job.issued) == ("succeeded", FANS)

    columns = [f.column for f in Coupon._meta.concrete_fields if not f.primary_key]
    buf = io.StringIO()
    select = f"SELECT {', '.join(columns)} FROM coupons_coupon WHERE placement_id = {placement.pk}"
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY ({select}) TO STDOUT", buf)
        cursor.execute("DELETE FROM coupons_coupon WHERE placement_id = %s", [placement.pk])
        cursor.execute("VACUUM ANALYZE coupons_coupon")
        buf.seek(0)
        started = time.perf_counter()
        cursor.cursor.copy_expert(f"COPY coupons_coupon ({', '.join(columns)}) FROM STDIN", buf)
        reference = time.perf_counter() - started
    print(
        f"\nissuance of {FANS}: ours {ours:.2f} s ({FANS / ours:,.0f}/s), "
        f"COPY {reference:.2f} s ({FANS / reference:,.0f}/s), ratio {reference / ours:.2f}"
    )
    assert reference / ours >= 0.5
