"""The transactional outbox: events written in the same transaction as the fact they announce.

A Celery task hands each event to every registered handler; a delivery row, written in the
handler's own transaction, makes each handler run exactly once per event. A periodic
sweeper re-drives events whose task was lost, so correctness never depends on the broker.
"""

from django.db import models


class OutboxEvent(models.Model):
    topic = models.CharField(max_length=64)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True, help_text="All handlers done.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="The sweeper leaves the event alone until then (lease, back-off)."
    )
    dead_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Dead-lettered after OUTBOX_MAX_ATTEMPTS failed attempts: nothing retries it "
        "until an operator does (the admin's retry action).",
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                name="outbox_waiting_idx",
                condition=models.Q(dispatched_at__isnull=True, dead_at__isnull=True),
            ),
            models.Index(
                fields=["dead_at"], name="outbox_dead_idx", condition=models.Q(dead_at__isnull=False)
            ),
            # The lease's two paths (services.claim_due_events), so that a backlog in back-off
            # or leased far ahead is never read to find what is due: new events in id order,
            # and events whose lease or back-off is due in next_attempt_at order.
            models.Index(
                fields=["id"],
                name="outbox_fresh_idx",
                condition=models.Q(
                    dispatched_at__isnull=True, dead_at__isnull=True, next_attempt_at__isnull=True
                ),
            ),
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_retry_idx",
                condition=models.Q(
                    dispatched_at__isnull=True, dead_at__isnull=True, next_attempt_at__isnull=False
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk}"


class OutboxDelivery(models.Model):
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    handler = models.CharField(max_length=100)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "handler"], name="outbox_delivery_once_per_handler"),
        ]
