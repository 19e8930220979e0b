"""The audit trail: who changed what in a merchant's account, when, and with what input.

One row per write that committed, written in the write's own transaction (so a trail row
means the write happened, and a write that happened has its row). Rows are never updated.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    class ActorKind(models.TextChoices):
        MEMBER = "member", "Member"
        API_KEY = "api_key", "API key"
        STAFF = "staff", "Network staff"

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_api_key = models.ForeignKey(
        "merchants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(
        max_length=200, help_text="Who, as shown then (a key's name and prefix, a user's email)."
    )
    operation = models.CharField(max_length=100, help_text="The mutation (apiKeyRevoke) or admin action.")
    targets = models.JSONField(default=list, help_text='The objects touched: [{"type", "id"}], relay ids.')
    summary = models.JSONField(default=dict, help_text="The input, with secrets left out.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "-created_at", "-id"], name="audit_merchant_time_idx"),
            models.Index(fields=["merchant", "operation", "-created_at"], name="audit_merchant_op_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(actor_kind__in=["member", "api_key", "staff"]),
                name="audit_actor_kind_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation} by {self.actor_label} at {self.created_at:%Y-%m-%d %H:%M:%S}"
