"""Fans (pseudonymous, network-wide), merchants' fan pools and consented memberships."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class Fan(models.Model):
    """A consumer, known only by a keyed hash of a phone number or a platform open id.

    The raw identifier is never stored or logged; ``fan_key`` is HMAC-SHA256 of the
    normalised identifier (see backend.audience.identity), so the same person reached by
    two merchants is one Fan.
    """

    class Kind(models.TextChoices):
        PHONE = "phone", "Phone number"
        OPEN_ID = "open_id", "Platform open id"

    fan_key = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Fan {self.pk} ({self.kind})"


class FanPool(models.Model):
    """A merchant's audience. Only the public profile is shown in the network directory."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="fan_pools")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    categories = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    is_listed = models.BooleanField(default=True, help_text="Shown in the network directory.")
    # Auto-accept: placements proposed with at least this share (basis points) and at most
    # this quota are accepted without the publisher's action. Null share = off.
    auto_accept_min_share_bps = models.PositiveIntegerField(null=True, blank=True)
    auto_accept_max_quota = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="fanpool_name_unique_per_merchant"),
            models.CheckConstraint(
                condition=Q(auto_accept_min_share_bps__isnull=True) | Q(auto_accept_min_share_bps__lte=10000),
                name="fanpool_auto_accept_share_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PoolMembership(models.Model):
    pool = models.ForeignKey(FanPool, on_delete=models.CASCADE, related_name="memberships")
    fan = models.ForeignKey(Fan, on_delete=models.PROTECT, related_name="memberships")
    consented_at = models.DateTimeField()
    source = models.CharField(max_length=40, default="api")
    consent_withdrawn_at = models.DateTimeField(null=True, blank=True)
    # The publisher's own id of this customer (its CRM): shown only to the pool's owner.
    external_ref = models.CharField(max_length=100, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pool", "fan"], name="membership_unique_per_pool"),
            models.UniqueConstraint(fields=["pool", "external_ref"], name="membership_external_ref_unique"),
        ]
        indexes = [models.Index(fields=["pool", "id"], name="membership_pool_id_idx")]


class FanImport(models.Model):
    """An asynchronous CSV import into a pool: progress and every bad row are kept."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    pool = models.ForeignKey(FanPool, on_delete=models.CASCADE, related_name="imports")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    file_path = models.CharField(max_length=500)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    bad_count = models.PositiveIntegerField(default=0, help_text="Every bad row, even past the detail cap.")
    bad_rows = models.JSONField(
        default=list,
        blank=True,
        help_text="[{row, field, code, reason}], row 1 = first data row; capped (see bad_count).",
    )
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["merchant", "pool", "-id"], name="fanimport_merchant_pool_idx")]

    def __str__(self) -> str:
        return f"Fan import {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)
