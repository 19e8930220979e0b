"""Outbound webhooks (Standard Webhooks): a merchant's endpoints, their signing secrets,
the messages announced to a merchant, and each delivery of a message to an endpoint with
every attempt it took (the delivery log).

A message is written once per (event, merchant); its ``uid`` is the ``webhook-id`` header,
the same on every retry and on a manual replay, so receivers can de-duplicate.
"""

from django.db import models
from django.db.models import Q


class WebhookEndpoint(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        DISABLED = "disabled"

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    event_types = models.JSONField(default=list, help_text="Event type names this endpoint receives.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="First failed attempt since the last success (disable clock)."
    )
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["merchant", "status"], name="webhookendpoint_merchant_idx")]


class WebhookSecret(models.Model):
    """A signing secret (``whsec_...``), stored encrypted. Several are valid during a
    rotation's overlap: every valid secret signs, so a receiver may verify with either."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="secrets")
    secret_encrypted = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Null: the current secret.")

    class Meta:
        ordering = ["id"]


class WebhookMessage(models.Model):
    uid = models.CharField(max_length=40, unique=True, help_text="The webhook-id header.")
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    event_type = models.CharField(max_length=64)
    body = models.TextField(help_text="The exact JSON body sent on every attempt.")
    ordering_key = models.CharField(
        max_length=100, blank=True, default="", help_text="Messages with one key reach an endpoint in order."
    )
    source_event_id = models.BigIntegerField(null=True, blank=True, help_text="The outbox event, if any.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source_event_id", "merchant", "event_type"],
                condition=Q(source_event_id__isnull=False),
                name="webhookmessage_once_per_event",
            )
        ]


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # gave up after the retry schedule

    message = models.ForeignKey(WebhookMessage, on_delete=models.PROTECT, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_response_status = models.PositiveIntegerField(null=True, blank=True)
    replay_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="webhookdelivery_due_idx", condition=Q(status="pending")
            ),
            models.Index(fields=["endpoint", "id"], name="webhookdelivery_endpoint_idx"),
        ]


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: what was sent, what came back, how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    url = models.CharField(max_length=2000)
    request_headers = models.JSONField(default=dict)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="", help_text="The first bytes only.")
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["id"]


class CampaignThresholdCrossing(models.Model):
    """A campaign crossed 80 % or 100 % of its budget or max redemptions: announced once each."""

    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=16)  # "budget" | "redemptions"
    percent = models.PositiveSmallIntegerField()
    crossed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "metric", "percent"], name="threshold_once"),
        ]
