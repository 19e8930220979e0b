"""Coupons: one unique code issued to one fan through one placement, and issuance jobs."""

from django.db import models
from django.db.models import Q


class Coupon(models.Model):
    class Status(models.TextChoices):
        ISSUED = "issued"
        REDEEMED = "redeemed"
        EXPIRED = "expired"
        REVOKED = "revoked"

    # 12 characters of Crockford base 32, the last one a check character (backend.coupons.codes).
    code = models.CharField(max_length=12, unique=True)
    # No single-column indexes of their own: (campaign, status) and (placement, fan, ordinal)
    # lead with them. Every index is paid by each issued coupon and each write-off (the status
    # update is not HOT), so no index is kept twice (migration 0005).
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.PROTECT, related_name="coupons", db_index=False
    )
    placement = models.ForeignKey(
        "campaigns.Placement", on_delete=models.PROTECT, related_name="coupons", db_index=False
    )
    fan = models.ForeignKey("audience.Fan", on_delete=models.PROTECT, related_name="coupons")
    ordinal = models.PositiveSmallIntegerField(default=1, help_text="1..coupons_per_fan for this fan")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ISSUED)
    issued_at = models.DateTimeField()
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    redeemed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Exactly-once issuance: a re-run or redelivered task cannot issue twice.
            models.UniqueConstraint(
                fields=["placement", "fan", "ordinal"], name="coupon_once_per_fan_ordinal"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["issued", "redeemed", "expired", "revoked"]),
                name="coupon_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["placement", "id"], name="coupon_placement_id_idx"),
            models.Index(fields=["campaign", "status"], name="coupon_campaign_status_idx"),
            # The expiry sweep reads only issued coupons by validity end.
            models.Index(
                fields=["valid_until"], name="coupon_issued_expiry_idx", condition=Q(status="issued")
            ),
        ]


class IssuanceJob(models.Model):
    """Bulk issuance for one accepted placement, run by Celery in chunks; progress is queryable."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    placement = models.ForeignKey(
        "campaigns.Placement", on_delete=models.PROTECT, related_name="issuance_jobs"
    )
    requested_by = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    fan_ids = models.JSONField(
        null=True, blank=True, help_text="An explicit list of fans, or null for the pool."
    )
    total = models.PositiveIntegerField(default=0)
    issued = models.PositiveIntegerField(default=0)
    chunk_count = models.PositiveIntegerField(default=0, help_text="Set once, when the job is planned.")
    chunks_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    progressed_at = models.DateTimeField(
        null=True, blank=True, help_text="When a chunk last finished: the sweeper re-drives stalled jobs."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "created_at"], name="issuancejob_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(chunks_done__lte=models.F("chunk_count")), name="issuancejob_chunks_le"
            )
        ]


class IssuanceChunk(models.Model):
    """One slice of a job: the fans with ids in (after_fan_id, upto_fan_id].

    ``done_at`` is set in the same transaction that inserts the slice's coupons, so a
    chunk task run twice (a redelivery, a re-run of the job) issues nothing the second time.
    """

    job = models.ForeignKey(IssuanceJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    after_fan_id = models.BigIntegerField()
    upto_fan_id = models.BigIntegerField()
    issued = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="issuancechunk_unique"),
        ]
