"""Reads of the coupons app, scoped to the caller's merchant.

Codes and the fans holding them are the publisher's to see (they are its audience); the
issuer sees issuance progress as counts only, never a fan or a code of another merchant.
"""

from __future__ import annotations

from django.db.models import F, Func, IntegerField, Q, QuerySet

from backend.merchants.models import Merchant

from . import codes
from .models import Coupon, IssuanceJob


def coupons_for_publisher(*, merchant: Merchant, placement_id: int) -> QuerySet[Coupon]:
    """The coupons of one placement, if ``merchant`` is its publisher (empty otherwise)."""
    return (
        Coupon.objects.filter(placement_id=placement_id, placement__publisher=merchant)
        .select_related("fan")
        .order_by("id")
    )


def coupon_for_publisher(*, merchant: Merchant, code: str) -> Coupon | None:
    code = codes.normalize(code or "")
    if not codes.is_well_formed(code):
        return None
    return Coupon.objects.filter(code=code, placement__publisher=merchant).select_related("fan").first()


NAMED_FANS = Func(
    F("fan_ids"),
    template="CASE WHEN jsonb_typeof(%(expressions)s) = 'array' THEN jsonb_array_length(%(expressions)s) END",
    output_field=IntegerField(),
)


def issuance_jobs_for(*, merchant: Merchant, placement_id: int | None = None) -> QuerySet[IssuanceJob]:
    """Jobs of placements ``merchant`` is party to (issuer or publisher), newest first."""
    qs = (
        IssuanceJob.objects.filter(Q(placement__issuer=merchant) | Q(placement__publisher=merchant))
        # A job may name 100,000 fans: count them in the database, never load the list.
        .defer("fan_ids")
        .annotate(named_fans=NAMED_FANS)
    )
    if placement_id is not None:
        qs = qs.filter(placement_id=placement_id)
    return qs.order_by("-id")


def issuance_job_for(*, merchant: Merchant, job_id: int) -> IssuanceJob | None:
    return issuance_jobs_for(merchant=merchant).filter(pk=job_id).first()
