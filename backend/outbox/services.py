"""Writing outbox events and handing them to their handlers, each exactly once.

``emit`` runs inside the caller's transaction; the task that dispatches the event is
published only after commit and never in a way that can block or fail the caller.
``process_event`` runs every handler of the event's topic, each in its own transaction with
the insert of its OutboxDelivery row, so a handler runs once per event however often the
event is processed (a redelivered task, the sweeper and a late task racing each other).
"""

from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .models import OutboxEvent
from .registry import handlers_for

logger = logging.getLogger(__name__)

# Events younger than this are left to the task published on commit.
SWEEP_MIN_AGE = dt.timedelta(seconds=5)
SWEEP_BATCH = 100
# A swept event is leased for this long, so two sweepers do not drive it at the same time.
SWEEP_LEASE = dt.timedelta(seconds=60)

# Publishing happens off the request thread: with the broker down, a connect timeout must
# not add to the till's wait. One thread keeps publishes ordered and cheap.
_publisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-publish")


def emit(*, topic: str, payload: dict[str, Any]) -> OutboxEvent:
    """Write an event in the current transaction; publish its task after commit."""
    event = OutboxEvent.objects.create(topic=topic, payload=payload)
    transaction.on_commit(lambda: publish(event.pk))
    return event


def publish(event_id: int) -> None:
    """Queue the dispatch task in the background; a failure is logged, the sweeper re-drives."""
    try:
        _publisher.submit(_send, event_id)
    except RuntimeError:  # interpreter shutting down
        logger.warning("outbox.publish_skipped", extra={"event_id": event_id})


def _send(event_id: int) -> None:
    from .tasks import dispatch_event

    try:
        dispatch_event.apply_async((event_id,), retry=False)
    except Exception:  # the broker is down or slow: the sweeper picks the event up later
        logger.warning("outbox.publish_failed", extra={"event_id": event_id}, exc_info=True)


def _claim_delivery(event_id: int, handler: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO outbox_outboxdelivery (event_id, handler, processed_at) "
            "VALUES (%s, %s, now()) ON CONFLICT (event_id, handler) DO NOTHING",
            [event_id, handler],
        )
        return cursor.rowcount == 1


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(300, 5 * 2 ** min(attempts, 6)))


def process_event(event_id: int) -> bool:
    """Run each handler of the event that has not run yet; True when all have run.

    Safe to call any number of times, concurrently too: the delivery row's unique
    constraint lets one caller run a handler and makes the others skip it (they wait for
    the first one's transaction, so a crashed run is retried, a committed one is not).
    """
    event = OutboxEvent.objects.filter(pk=event_id).first()
    if event is None:
        return False
    if event.dispatched_at is not None:
        return True
    failures: list[str] = []
    for handler in handlers_for(event.topic):
        try:
            with transaction.atomic():
                if _claim_delivery(event.pk, handler.name):
                    handler.func(event)
        except Exception as exc:
            logger.exception("outbox.handler_failed", extra={"event_id": event.pk, "handler": handler.name})
            failures.append(f"{handler.name}: {exc!r}"[:2000])
    now = timezone.now()
    if failures:
        OutboxEvent.objects.filter(pk=event.pk).update(
            attempts=event.attempts + 1,
            last_error="\n".join(failures),
            next_attempt_at=now + _backoff(event.attempts),
        )
        return False
    OutboxEvent.objects.filter(pk=event.pk, dispatched_at__isnull=True).update(
        dispatched_at=now, attempts=event.attempts + 1, last_error=""
    )
    return True


def claim_due_events(*, limit: int = SWEEP_BATCH, min_age: dt.timedelta = SWEEP_MIN_AGE) -> list[int]:
    """Lease up to ``limit`` undispatched events older than ``min_age``; their ids.

    FOR UPDATE SKIP LOCKED lets concurrent sweepers take disjoint batches; the lease
    (next_attempt_at) keeps them from taking the same event again while it is processed.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE outbox_outboxevent SET next_attempt_at = now() + %s "
            "WHERE id IN (SELECT id FROM outbox_outboxevent "
            "  WHERE dispatched_at IS NULL AND created_at < now() - %s "
            "    AND (next_attempt_at IS NULL OR next_attempt_at <= now()) "
            "  ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id",
            [SWEEP_LEASE, min_age, limit],
        )
        return sorted(row[0] for row in cursor.fetchall())


def sweep(*, limit: int = SWEEP_BATCH, min_age: dt.timedelta = SWEEP_MIN_AGE) -> int:
    """Process every due event in batches (without the broker); the number processed."""
    done = 0
    while True:
        batch = claim_due_events(limit=limit, min_age=min_age)
        for event_id in batch:
            process_event(event_id)
        done += len(batch)
        if len(batch) < limit:
            return done
