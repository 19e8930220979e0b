"""Attribution: the facts of each verified write-off, joined once, and report export jobs.

An AttributionRecord is written exactly once per verified redemption (unique on the
redemption) by an outbox handler; a void marks it (``voided_at``), nothing is ever
deleted. Money is integer minor units of ``currency``.
"""

from django.db import models
from django.db.models import Q


class AttributionRecord(models.Model):
    redemption = models.OneToOneField(
        "redemptions.Redemption", on_delete=models.PROTECT, related_name="attribution"
    )
    # Composite indexes below lead with campaign / issuer / publisher, so their own FK
    # indexes would only slow the write path down.
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    issuer = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    publisher = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    placement = models.ForeignKey("campaigns.Placement", on_delete=models.PROTECT, related_name="+")
    fan = models.ForeignKey("audience.Fan", on_delete=models.PROTECT, related_name="+", db_index=False)
    store = models.ForeignKey("merchants.Store", on_delete=models.PROTECT, related_name="+")
    terminal = models.ForeignKey("merchants.Terminal", on_delete=models.PROTECT, related_name="+")
    # How the coupon reached the fan when it was claimed (backend.fans Claim): the claim
    # channel, and the fan who shared it. Null for coupons issued to a pool.
    channel = models.CharField(max_length=40, null=True, blank=True)
    sharer = models.ForeignKey(
        "audience.Fan", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    # A write-off at a partner's store (backend.campaigns CampaignPartner): the redeeming
    # partner, and what the issuer owes it for this write-off. Null / 0 at the issuer's stores.
    partner = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    reimbursement_amount = models.BigIntegerField(
        default=0,
        db_default=0, help_text="The discount the issuer reimburses the partner (capped at the partnership's maximum)."
    )
    handling_fee_amount = models.BigIntegerField(default=0, db_default=0, help_text="The partner's handling fee.")

    issued_at = models.DateTimeField(help_text="When the coupon was issued to the fan.")
    redeemed_at = models.DateTimeField(help_text="When the write-off was verified.")
    seconds_to_redeem = models.BigIntegerField()
    order_amount = models.BigIntegerField()
    discount_amount = models.BigIntegerField()
    fee_amount = models.BigIntegerField(
        help_text="The campaign's fee for this write-off (billable in window)."
    )
    fee_credited = models.BigIntegerField(
        db_default=0, help_text="Of the fee, what billing credited back after an upheld dispute."
    )
    currency = models.CharField(max_length=3)
    is_new_customer = models.BooleanField(
        default=False,
        help_text="The fan's earliest non-voided write-off at this issuer (by redeemed_at, then id).",
    )
    in_attribution_window = models.BooleanField(
        help_text="Redeemed within the campaign's attribution_window_days of issue: only these are billable."
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    # Where the write-off is billed, written by billing (attribution knows nothing of billing,
    # so a plain id, not a foreign key): the issuer's month once its charge locks, and the
    # invoice once that month is frozen. Null for a write-off that is not charged.
    billing_period = models.DateField(null=True, blank=True)
    billing_invoice_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(order_amount__gte=0), name="attribution_order_nonneg"),
            models.CheckConstraint(
                condition=Q(discount_amount__gte=0) & Q(discount_amount__lte=models.F("order_amount")),
                name="attribution_discount_within_order",
            ),
            models.CheckConstraint(condition=Q(fee_amount__gte=0), name="attribution_fee_nonneg"),
            models.CheckConstraint(
                condition=Q(fee_credited__gte=0) & Q(fee_credited__lte=models.F("fee_amount")),
                name="attribution_fee_credited_within_fee",
            ),
            models.CheckConstraint(condition=Q(seconds_to_redeem__gte=0), name="attribution_seconds_nonneg"),
            models.CheckConstraint(
                condition=Q(reimbursement_amount__gte=0)
                & Q(reimbursement_amount__lte=models.F("discount_amount"))
                & Q(handling_fee_amount__gte=0)
                & (Q(partner__isnull=False) | Q(reimbursement_amount=0, handling_fee_amount=0)),
                name="attribution_reimbursement_only_for_partners",
            ),
            # At most one new-customer write-off per (issuer, fan), whatever the concurrency.
            models.UniqueConstraint(
                fields=["issuer", "fan"],
                condition=Q(is_new_customer=True),
                name="attribution_one_new_customer_per_issuer_fan",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "redeemed_at"], name="attribution_campaign_time_idx"),
            models.Index(fields=["issuer", "redeemed_at"], name="attribution_issuer_time_idx"),
            models.Index(fields=["publisher", "redeemed_at"], name="attribution_publisher_time_idx"),
            models.Index(fields=["issuer", "fan", "redeemed_at"], name="attribution_issuer_fan_idx"),
            models.Index(
                fields=["partner", "redeemed_at"],
                name="attribution_partner_time_idx",
                condition=Q(partner__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Attribution of redemption {self.redemption_id}"

    @property
    def reimbursement_total(self) -> int:
        """What the issuer owes the partner for this write-off (0 at its own stores)."""
        return self.reimbursement_amount + self.handling_fee_amount

    @property
    def is_billable(self) -> bool:
        """Attributed (inside the window) and not voided."""
        return self.in_attribution_window and self.voided_at is None


class ReportExport(models.Model):
    """An asynchronous export of an attribution report to CSV, XLSX, Parquet and a PNG chart."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        "merchants.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    dimension = models.CharField(max_length=16)
    params = models.JSONField(default=dict, help_text="The report filters, as the API received them.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    row_count = models.PositiveIntegerField(default=0)
    files = models.JSONField(default=dict, blank=True, help_text="{format: path relative to MEDIA_ROOT}")
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "running", "succeeded", "failed"]),
                name="reportexport_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["merchant", "created_at"], name="reportexport_merchant_idx")]
