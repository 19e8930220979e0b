"""Writes of the coupons app: starting a bulk issuance job."""

from __future__ import annotations

from django.db import transaction

from backend.api.errors import CommonErrorCode, ServiceError
from backend.audience.models import Fan, PoolMembership
from backend.campaigns.models import Campaign, Placement
from backend.merchants.models import Merchant

from . import tasks
from .errors import IssuanceErrorCode
from .models import IssuanceJob

MAX_LISTED_FANS = 5_000  # a named list; a whole pool needs none (GRAPHQL_MAX_LIST_ITEMS)


@transaction.atomic
def issuance_start(
    *,
    merchant: Merchant,
    placement: Placement,
    fan_ids: list[int | None] | None = None,
    fan_keys: list[str] | None = None,
) -> IssuanceJob:
    """Start issuing coupons of an accepted placement, to every consenting member of its pool
    (no fans named) or to the fans named by id or by fan key, who must be consenting members.

    Only the publisher may start it: the fans are its audience. The job runs on Celery after
    commit; whatever the re-runs, each (fan, ordinal) gets at most one coupon, and the
    placement's quota is never exceeded.
    """
    if placement.publisher_id != merchant.pk:
        raise ServiceError.single(
            IssuanceErrorCode.ONLY_PUBLISHER, "Only the publisher issues coupons to its fans.", "placement_id"
        )
    placement = (
        Placement.objects.select_for_update(no_key=True, of=("self",))
        .select_related("campaign")
        .get(pk=placement.pk)
    )
    if placement.status != Placement.Status.ACCEPTED:
        raise ServiceError.single(
            IssuanceErrorCode.PLACEMENT_NOT_ACCEPTED, f"The placement is {placement.status}.", "placement_id"
        )
    if placement.campaign.status != Campaign.Status.ACTIVE:
        raise ServiceError.single(
            IssuanceErrorCode.CAMPAIGN_NOT_ACTIVE,
            f"The campaign is {placement.campaign.status}.",
            "placement_id",
        )
    if placement.issued_count >= placement.quota:
        raise ServiceError.single(
            IssuanceErrorCode.QUOTA_REACHED, "The quota is already issued.", "placement_id"
        )
    listed = None
    if fan_keys is not None:
        known = dict(Fan.objects.filter(fan_key__in=set(fan_keys)).values_list("fan_key", "pk"))
        fan_ids = [*(fan_ids or []), *(known.get(key) for key in fan_keys)]
    if fan_ids is not None:
        if not fan_ids:
            raise ServiceError.single(CommonErrorCode.REQUIRED, "Name at least one fan.", "fan_ids")
        if len(fan_ids) > MAX_LISTED_FANS:
            raise ServiceError.single(
                IssuanceErrorCode.TOO_MANY_FANS, f"At most {MAX_LISTED_FANS} fans per job.", "fan_ids"
            )
        listed = sorted({pk for pk in fan_ids if pk})
        consenting = set(
            PoolMembership.objects.filter(
                pool_id=placement.pool_id, fan_id__in=listed, consent_withdrawn_at__isnull=True
            ).values_list("fan_id", flat=True)
        )
        if None in fan_ids or len(consenting) != len(listed):
            raise ServiceError.single(
                IssuanceErrorCode.FAN_NOT_IN_POOL,
                "Every fan must be a consenting member of the placement's pool.",
                "fan_ids",
            )
    job = IssuanceJob.objects.create(placement=placement, requested_by=merchant, fan_ids=listed)
    transaction.on_commit(lambda: tasks.enqueue_issuance_job(job.pk))
    return job
