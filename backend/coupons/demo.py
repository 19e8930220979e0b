"""Demo coupons: one code per fan of the demo placement (the campaigns' demo), issued inline.

Run by the demo network (backend.demo.seeding) after the campaigns' demo, synchronously so
the demo needs no worker. Idempotent: once a job has succeeded, no other is started.
"""

from __future__ import annotations

from django.db import transaction

from backend.campaigns import demo as campaigns_demo

from . import issuance
from .models import Coupon, IssuanceJob


def seed() -> list[str]:
    placement = campaigns_demo.accepted_placement()
    if placement is None:
        return ["Demo coupons skipped: the demo campaign has no accepted placement."]
    with transaction.atomic():
        job = None
        if not IssuanceJob.objects.filter(placement=placement, status=IssuanceJob.Status.SUCCEEDED).exists():
            job = IssuanceJob.objects.create(placement=placement, requested_by=placement.publisher)
    if job is not None:
        issuance.run_job_inline(job_id=job.pk)
    placement.refresh_from_db()
    sample = list(
        Coupon.objects.filter(placement=placement).order_by("id").values_list("code", flat=True)[:3]
    )
    return [
        f"Demo coupons: {placement.issued_count} issued through {campaigns_demo.CAMPAIGN!r} "
        f"in {campaigns_demo.POOL!r}.",
        f"  demo coupon codes: {', '.join(sample) or '(none)'}",
    ]
