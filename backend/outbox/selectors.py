"""Reads of the outbox for operators: how far behind the handlers are (not tenant data)."""

from __future__ import annotations

from django.db import connection

from .models import OutboxEvent


def outbox_lag_seconds() -> float:
    """Age in seconds of the oldest event still waiting for its handlers; 0.0 when none waits.

    This is how far attribution and the ledger trail the tills (a /readyz signal).
    Dead-lettered events are not lag: they wait for an operator (``dead_letter_count``).
    One index probe (the partial index on waiting events).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(created_at)), 0) FROM outbox_outboxevent "
            "WHERE dispatched_at IS NULL AND dead_at IS NULL"
        )
        return max(0.0, float(cursor.fetchone()[0]))


def dead_letter_count() -> int:
    """Events dead-lettered and not yet retried by an operator."""
    return OutboxEvent.objects.filter(dead_at__isnull=False, dispatched_at__isnull=True).count()
