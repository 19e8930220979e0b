"""Indexes for the lease's two paths (services.claim_due_events): new events in id order, and
events whose lease or back-off has come due in next_attempt_at order.

Before them the lease read every waiting event, those leased or backing off far ahead too,
to find the due ones: with 50,000 events parked the dispatcher's every round read them all.
Built CONCURRENTLY: the outbox takes an insert with every write-off, which a plain CREATE
INDEX would block while it builds.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("outbox", "0004_outbox_notify_trigger")]

    operations = [
        AddIndexConcurrently(
            model_name="outboxevent",
            index=models.Index(
                condition=models.Q(
                    dispatched_at__isnull=True, dead_at__isnull=True, next_attempt_at__isnull=True
                ),
                fields=["id"],
                name="outbox_fresh_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="outboxevent",
            index=models.Index(
                condition=models.Q(
                    dispatched_at__isnull=True, dead_at__isnull=True, next_attempt_at__isnull=False
                ),
                fields=["next_attempt_at"],
                name="outbox_retry_idx",
            ),
        ),
    ]
