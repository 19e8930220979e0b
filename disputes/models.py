"""Disputes: an issuer's challenge of one charged write-off, answered by the counterparty and
decided by the network's operator, with every step's actor and time.

One dispute per write-off, ever (a unique constraint): a rejected dispute is final. The
receipt facts are copied from the attribution record when the dispute opens, so the evidence
the operator decides on cannot change under it. Money is integer minor units of ``currency``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Dispute(models.Model):
    class Reason(models.TextChoices):
        NOT_REDEEMED = "not_redeemed", "The customer did not redeem the coupon"
        DUPLICATE = "duplicate", "Written off twice for one purchase"
        WRONG_AMOUNT = "wrong_amount", "The order or discount amount is wrong"
        TERMS_NOT_MET = "terms_not_met", "The write-off broke the campaign's terms"
        NOT_ATTRIBUTABLE = "not_attributable", "The customer did not come through the counterparty"
        OTHER = "other"

    class Status(models.TextChoices):
        OPEN = "open"
        UPHELD = "upheld", "Upheld (the charge was credited)"
        REJECTED = "rejected", "Rejected (nothing moved)"

    class CounterpartyRole(models.TextChoices):
        PUBLISHER = "publisher"
        PARTNER = "partner"

    redemption = models.OneToOneField("redemptions.Redemption", on_delete=models.PROTECT, related_name="+")
    charge = models.OneToOneField("billing.Posting", on_delete=models.PROTECT, related_name="+")
    issuer = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    counterparty = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    counterparty_role = models.CharField(max_length=16, choices=CounterpartyRole.choices)
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    fee_amount = models.BigIntegerField(help_text="The disputed charge's fee, minor units.")
    reason_code = models.CharField(max_length=24, choices=Reason.choices)
    note = models.TextField()
    receipt = models.JSONField(help_text="The receipt facts held when the dispute opened (a copy).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)

    opened_at = models.DateTimeField()
    opened_by = models.CharField(max_length=200)
    response_note = models.TextField(blank=True, default="")
    responded_at = models.DateTimeField(null=True, blank=True)
    responded_by = models.CharField(max_length=200, blank=True, default="")
    decision_note = models.TextField(blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=200, blank=True, default="")
    credit = models.OneToOneField(
        "billing.Posting",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The credit an upheld decision posted (none if a void had already undone the charge).",
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "upheld", "rejected"]), name="dispute_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="open", decided_at__isnull=True)
                | (Q(status__in=["upheld", "rejected"]) & Q(decided_at__isnull=False)),
                name="dispute_decided_has_time",
            ),
            models.CheckConstraint(
                condition=Q(credit__isnull=True) | Q(status="upheld"), name="dispute_credit_only_upheld"
            ),
            models.CheckConstraint(
                condition=Q(counterparty_role__in=["publisher", "partner"]), name="dispute_role_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["issuer", "status"], name="dispute_issuer_idx"),
            models.Index(fields=["counterparty", "status"], name="dispute_counterparty_idx"),
            models.Index(fields=["status", "opened_at"], name="dispute_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Dispute {self.pk} on redemption {self.redemption_id} ({self.status})"


class DisputeEvent(models.Model):
    """One step of a dispute, with who took it (an API key, or an operator's admin user) and when."""

    class Kind(models.TextChoices):
        OPENED = "opened"
        RESPONDED = "responded"
        ATTACHMENT_ADDED = "attachment_added"
        UPHELD = "upheld"
        REJECTED = "rejected"

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    actor = models.CharField(max_length=200, help_text="Who, in words (kept if the key or user goes).")
    actor_merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_key = models.ForeignKey(
        "merchants.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    detail = models.TextField(blank=True, default="")
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_at", "id"]


class DisputeAttachment(models.Model):
    """An evidence file, kept in Django's default storage (MEDIA_ROOT, or S3 with django-storages)."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="attachments")
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="+", help_text="The party that sent it."
    )
    file = models.FileField(upload_to="disputes/", max_length=300)
    filename = models.CharField(max_length=200, help_text="The name it was sent with (shown, not used).")
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.CharField(max_length=200)
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["uploaded_at", "id"]
