"""Writing outbox events and handing them to their handlers, each exactly once, in batches.

``emit`` runs inside the caller's transaction and only inserts the row: the dispatcher
(backend.outbox.dispatcher, woken by the NOTIFY the insert's trigger sends at commit)
publishes the tasks in batches, so a request never talks to the broker.
``process_events`` runs every handler of the events' topics: one transaction per handler and
batch holds the inserts of the OutboxDelivery rows and a savepoint per event, so a handler
runs once per event however often the event is processed (a redelivered task, the sweeper
and a late task racing each other), and one failing event does not undo the others.
An event that keeps failing is dead-lettered after ``OUTBOX_MAX_ATTEMPTS`` attempts.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import queue
import threading
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import OutboxEvent
from .registry import Handler, handlers_for
from .registry import topics as registry_topics

logger = logging.getLogger(__name__)

# Events younger than this are left to the task published on commit.
SWEEP_MIN_AGE = dt.timedelta(seconds=5)
SWEEP_BATCH = 100
# A swept event is leased for this long, so two sweepers do not drive it at the same time.
SWEEP_LEASE = dt.timedelta(seconds=60)


def batch_size() -> int:
    return int(getattr(settings, "OUTBOX_BATCH_SIZE", 200))


def max_attempts() -> int:
    return int(getattr(settings, "OUTBOX_MAX_ATTEMPTS", 10))


def emit(*, topic: str, payload: dict[str, Any]) -> OutboxEvent:
    """Write an event in the current transaction. Nothing else: the dispatcher publishes it
    once the transaction commits (its trigger's NOTIFY wakes the dispatcher)."""
    return OutboxEvent.objects.create(topic=topic, payload=payload)


# Many events of one topic in one INSERT from an array of JSON texts (the attribution
# handler announces a batch of records at once): the ORM's bulk_create cost more CPU than
# the insert. The other columns take the model's defaults, written out here.
_EMIT_MANY_SQL = (
    f"INSERT INTO {OutboxEvent._meta.db_table} (topic, payload, created_at, attempts, last_error) "  # noqa: S608
    "SELECT %s, p::jsonb, clock_timestamp(), 0, '' FROM unnest(%s::text[]) WITH ORDINALITY AS t(p, n) ORDER BY n"
)


def emit_many(*, topic: str, payloads: Sequence[dict[str, Any]]) -> int:
    """:func:`emit` for several events of one topic, in one INSERT; how many were written."""
    if not payloads:
        return 0
    encoder = OutboxEvent._meta.get_field("payload").encoder
    with connection.cursor() as cursor:
        cursor.execute(_EMIT_MANY_SQL, [topic, [json.dumps(p, cls=encoder) for p in payloads]])
        return cursor.rowcount


class _Publisher:
    """Publishing from a web process, for the few callers outside the request path that want
    a task sent at once (the admin's retry of dead letters). Off the caller's thread: with the broker down, a connect timeout must
    not add to the till's wait. One thread drains what committed meanwhile and sends it as one
    task, so a busy web process publishes (and a worker receives) batches, not single events."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[int | threading.Event] = queue.SimpleQueue()
        self._pid: int | None = None

    def submit(self, event_id: int) -> None:
        self._put(event_id)

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until everything submitted before this call was sent (or failed to be);
        False if that took longer than ``timeout``. For tests and orderly shutdowns."""
        marker = threading.Event()
        self._put(marker)
        return marker.wait(timeout)

    def _put(self, item: int | threading.Event) -> None:
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child: threads do not survive fork
                self._queue = queue.SimpleQueue()
                threading.Thread(target=self._run, name="outbox-publish", daemon=True).start()
                self._pid = os.getpid()
        self._queue.put(item)

    def _run(self) -> None:
        pending = self._queue
        while True:
            ids: list[int] = []
            markers: list[threading.Event] = []
            item = pending.get()
            while True:
                (markers if isinstance(item, threading.Event) else ids).append(item)
                if len(ids) >= batch_size():
                    break
                try:
                    item = pending.get_nowait()
                except queue.Empty:
                    break
            if ids:
                _send(ids)
            for marker in markers:
                marker.set()


_publisher = _Publisher()


def publish(event_id: int) -> None:
    """Queue the dispatch task in the background; a failure is logged, the sweeper re-drives."""
    _publisher.submit(event_id)


def _send(event_ids: list[int]) -> None:
    from .tasks import dispatch_events

    try:
        dispatch_events.apply_async((event_ids,), retry=False)
    except Exception:  # the broker is down or slow: the sweeper picks the events up later
        logger.warning("outbox.publish_failed", extra={"event_ids": event_ids[:20]}, exc_info=True)


def _claim_deliveries(event_ids: Sequence[int], handler: str) -> set[int]:
    """Insert the delivery rows of ``handler`` for these events; the ids this caller won.

    Sorted, so two batches that overlap wait for each other in one order, never in a cycle;
    an event whose row another transaction holds waits for it (crashed: retried; committed:
    skipped)."""
    if not event_ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO outbox_outboxdelivery (event_id, handler, processed_at) "
            "SELECT e, %s, now() FROM unnest(%s::bigint[]) AS e ORDER BY e "
            "ON CONFLICT (event_id, handler) DO NOTHING RETURNING event_id",
            [handler, sorted(event_ids)],
        )
        return {row[0] for row in cursor.fetchall()}


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(300, 5 * 2 ** min(attempts, 6)))


def _run_one(handler: Handler, event: OutboxEvent, failures: dict[int, list[str]]) -> None:
    """One event inside the batch's transaction, in a savepoint: a failure undoes only its own
    work and its delivery row."""
    try:
        with transaction.atomic():
            handler.func(event)
    except Exception as exc:
        logger.warning(
            "outbox.handler_failed",
            extra={"event_id": event.pk, "handler": handler.name},
            exc_info=True,
        )
        failures.setdefault(event.pk, []).append(f"{handler.name}: {exc!r}"[:2000])
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM outbox_outboxdelivery WHERE event_id = %s AND handler = %s",
                [event.pk, handler.name],
            )


def _run_handler(handler: Handler, events: list[OutboxEvent], failures: dict[int, list[str]]) -> None:
    try:
        with transaction.atomic():
            won = _claim_deliveries([e.pk for e in events], handler.name)
            todo = [e for e in events if e.pk in won]
            if not todo:
                return
            if handler.batch is not None and len(todo) > 1:
                try:
                    with transaction.atomic():
                        handler.batch(todo)
                    return
                except Exception:
                    logger.warning(
                        "outbox.batch_failed",
                        extra={"handler": handler.name, "events": len(todo)},
                        exc_info=True,
                    )
            for event in todo:
                _run_one(handler, event, failures)
    except Exception as exc:  # the batch's transaction itself failed (its commit, a lost connection)
        logger.warning("outbox.handler_failed", extra={"handler": handler.name}, exc_info=True)
        for event in events:
            failures.setdefault(event.pk, []).append(f"{handler.name}: {exc!r}"[:2000])


def _record_outcomes(events: list[OutboxEvent], failures: dict[int, list[str]]) -> None:
    now = timezone.now()
    done = [e.pk for e in events if e.pk not in failures]
    if done:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE outbox_outboxevent SET dispatched_at = %s, attempts = attempts + 1, last_error = '' "
                "WHERE id = ANY(%s) AND dispatched_at IS NULL",
                [now, done],
            )
    limit = max_attempts()
    for event in events:
        if event.pk not in failures:
            continue
        attempts = event.attempts + 1
        error = "\n".join(failures[event.pk])
        if attempts >= limit:
            OutboxEvent.objects.filter(pk=event.pk).update(
                attempts=attempts, last_error=error, next_attempt_at=None, dead_at=now
            )
            logger.error(
                "outbox.dead_letter",
                extra={
                    "event_id": event.pk,
                    "topic": event.topic,
                    "attempts": attempts,
                    "error": error[:500],
                },
            )
        else:
            OutboxEvent.objects.filter(pk=event.pk).update(
                attempts=attempts, last_error=error, next_attempt_at=now + _backoff(event.attempts)
            )


def process_events(event_ids: Sequence[int]) -> dict[int, bool]:
    """Run each handler of these events that has not run yet; {event id: all handlers done}.

    Safe to call any number of times, concurrently too (see the module's docstring). Unknown
    and dead-lettered events are False; events already dispatched are True.
    """
    rows = list(OutboxEvent.objects.filter(pk__in=set(event_ids)).order_by("pk"))
    outcome = {e.pk: e.dispatched_at is not None for e in rows}
    todo = [e for e in rows if e.dispatched_at is None and e.dead_at is None]
    failures: dict[int, list[str]] = {}
    by_topic: dict[str, list[OutboxEvent]] = {}
    for event in todo:
        by_topic.setdefault(event.topic, []).append(event)
    for topic, events in by_topic.items():
        for handler in handlers_for(topic):
            _run_handler(handler, events, failures)
    if todo:
        _record_outcomes(todo, failures)
    outcome.update({e.pk: e.pk not in failures for e in todo})
    return outcome


def process_event(event_id: int) -> bool:
    """Run each handler of one event that has not run yet; True when all have run."""
    return process_events([event_id]).get(event_id, False)


def dispatch_batch(event_ids: Sequence[int]) -> int:
    """What a dispatch task does: its own events plus up to a batch of other due ones
    (leased, so concurrent tasks take disjoint sets); how many events it handled.

    Taking the backlog along is what lets a worker keep up: one task and one transaction per
    handler for many events, instead of a task and transactions per event."""
    extra = claim_due_events(limit=batch_size(), min_age=dt.timedelta(0), topics=registry_topics())
    ids = sorted({*event_ids, *extra})
    for start in range(0, len(ids), batch_size()):
        process_events(ids[start : start + batch_size()])
    return len(ids)


# statement_timestamp(), not clock_timestamp(): a stable value can bound an index scan.
_CLAIM_SQL = """
WITH fresh AS (
    SELECT id FROM outbox_outboxevent
     WHERE dispatched_at IS NULL AND dead_at IS NULL AND next_attempt_at IS NULL
       AND created_at < statement_timestamp() - %(min_age)s
       AND (%(topics)s::text[] IS NULL OR topic = ANY(%(topics)s::text[]))
     ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), due AS (
    SELECT id FROM outbox_outboxevent
     WHERE dispatched_at IS NULL AND dead_at IS NULL AND next_attempt_at <= statement_timestamp()
       AND created_at < statement_timestamp() - %(min_age)s
       AND (%(topics)s::text[] IS NULL OR topic = ANY(%(topics)s::text[]))
     ORDER BY next_attempt_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT id FROM fresh UNION ALL SELECT id FROM due ORDER BY id LIMIT %(limit)s
)
UPDATE outbox_outboxevent AS e SET next_attempt_at = clock_timestamp() + %(lease)s
  FROM picked WHERE e.id = picked.id
RETURNING e.id
"""


def claim_due_events(
    *, limit: int = SWEEP_BATCH, min_age: dt.timedelta = SWEEP_MIN_AGE, topics: list[str] | None = None
) -> list[int]:
    """Lease up to ``limit`` undispatched events older than ``min_age`` (of ``topics`` only,
    when given: the topics this process has handlers for); their ids, oldest first.

    Due are the events never leased and those whose lease or back-off has run out: each
    kind is read from its own partial index (outbox_fresh_idx, outbox_retry_idx), so events
    leased or backing off further ahead cost nothing to skip. FOR UPDATE SKIP LOCKED lets
    concurrent sweepers take disjoint batches; the lease (next_attempt_at) keeps them from
    taking the same event again while it is processed.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL, {"min_age": min_age, "topics": topics, "limit": limit, "lease": SWEEP_LEASE}
        )
        return sorted(row[0] for row in cursor.fetchall())


def sweep(*, limit: int = SWEEP_BATCH, min_age: dt.timedelta = SWEEP_MIN_AGE) -> int:
    """Process every due event in batches (without the broker); the number processed."""
    done = 0
    while True:
        batch = claim_due_events(limit=limit, min_age=min_age)
        if batch:
            process_events(batch)
        done += len(batch)
        if len(batch) < limit:
            return done


def retry_dead_events(*, event_ids: Sequence[int]) -> int:
    """Give dead-lettered events a fresh round of attempts (the admin's retry action) and
    dispatch them after commit; how many were revived."""
    with transaction.atomic():
        revived = list(
            OutboxEvent.objects.filter(
                pk__in=list(event_ids), dead_at__isnull=False, dispatched_at__isnull=True
            )
            .select_for_update()
            .values_list("pk", flat=True)
        )
        OutboxEvent.objects.filter(pk__in=revived).update(dead_at=None, attempts=0, next_attempt_at=None)
        for event_id in revived:
            transaction.on_commit(lambda event_id=event_id: publish(event_id))
    if revived:
        logger.info("outbox.dead_letter_retried", extra={"event_ids": revived[:50], "count": len(revived)})
    return len(revived)
