"""Redemptions: every write-off attempt at a terminal, verified or rejected, and voids."""

from django.db import models
from django.db.models import Q


class Redemption(models.Model):
    """One write-off attempt. Rows are the truth about what happened at the till.

    At most one *verified* redemption per coupon (partial unique index), and one row per
    (terminal, idempotency key): a retry replays ``response`` and writes nothing.
    """

    class Status(models.TextChoices):
        VERIFIED = "verified"
        REJECTED = "rejected"
        VOIDED = "voided"

    merchant = models.ForeignKey(
        "merchants.Merchant",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The merchant whose terminal wrote the code off.",
    )
    store = models.ForeignKey("merchants.Store", on_delete=models.PROTECT, related_name="+")
    terminal = models.ForeignKey("merchants.Terminal", on_delete=models.PROTECT, related_name="+")
    coupon = models.ForeignKey(
        "coupons.Coupon", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    placement = models.ForeignKey(
        "campaigns.Placement", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    code = models.CharField(max_length=32, help_text="The code as sent (normalised).")
    status = models.CharField(max_length=16, choices=Status.choices)
    reason_code = models.CharField(max_length=40, blank=True, default="")
    order_amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    discount_amount = models.BigIntegerField(default=0)
    fee_amount = models.BigIntegerField(default=0)
    partnership = models.ForeignKey(
        "campaigns.CampaignPartner",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="A verified write-off at a partner's store: the acceptance it was made under.",
    )
    reimbursement_amount = models.BigIntegerField(
        default=0,
        db_default=0,
        help_text="The discount the issuer reimburses the partner (capped); 0 at the issuer's own stores.",
    )
    handling_fee_amount = models.BigIntegerField(
        default=0,
        db_default=0,
        help_text="The partner's handling fee for this write-off; 0 at the issuer's own stores.",
    )
    slot = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The CampaignSlot a verified write-off took its unit from."
    )
    idempotency_key = models.CharField(max_length=100)
    request_fingerprint = models.CharField(max_length=64)
    response = models.JSONField(help_text="The first answer, replayed for a repeated idempotency key.")
    created_at = models.DateTimeField()
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=200, blank=True, default="")
    voided_by = models.ForeignKey(
        "merchants.Terminal", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["terminal", "idempotency_key"], name="redemption_idempotency"),
            models.UniqueConstraint(
                fields=["coupon"], condition=Q(status="verified"), name="redemption_one_verified_per_coupon"
            ),
            models.CheckConstraint(condition=Q(order_amount__gte=0), name="redemption_order_nonneg"),
            models.CheckConstraint(
                condition=Q(discount_amount__gte=0) & Q(discount_amount__lte=models.F("order_amount"))
                | Q(status="rejected"),
                name="redemption_discount_within_order",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["verified", "rejected", "voided"]), name="redemption_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(reimbursement_amount__gte=0)
                & Q(reimbursement_amount__lte=models.F("discount_amount"))
                & Q(handling_fee_amount__gte=0),
                name="redemption_reimbursement_within_discount",
            ),
        ]
        indexes = [
            models.Index(fields=["terminal", "created_at"], name="redemption_terminal_time_idx"),
            # The abuse limit's guess count (a terminal's recent rejections) reads only rejections.
            models.Index(
                fields=["terminal", "created_at"],
                condition=Q(status="rejected"),
                name="redemption_term_rejected_idx",
            ),
            models.Index(fields=["campaign", "status"], name="redemption_campaign_status_idx"),
            models.Index(fields=["merchant", "created_at"], name="redemption_merchant_time_idx"),
        ]


class CouponCheckAttempt(models.Model):
    """One ``checkCoupon`` at a terminal: checks count toward the terminal's per-minute and
    code-guessing limits like write-offs do, or a till could probe codes without limit."""

    terminal = models.ForeignKey("merchants.Terminal", on_delete=models.CASCADE, related_name="+")
    reason_code = models.CharField(max_length=32, blank=True, default="", help_text="Empty when usable.")
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["terminal", "created_at"], name="couponcheck_terminal_time_idx")]
