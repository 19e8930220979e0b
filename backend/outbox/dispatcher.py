"""The outbox dispatcher: publishes waiting events to the workers in batches, off the request path.

A request only inserts its event row; a statement trigger on the outbox table sends a
NOTIFY when the inserting transaction commits (migration 0004). The dispatcher LISTENs,
wakes on it (or after ``OUTBOX_DISPATCH_POLL_SECONDS`` at the latest), waits
``OUTBOX_DISPATCH_COALESCE_SECONDS`` for more to commit, leases every due
event (``claim_due_events``: SKIP LOCKED, so several dispatchers take disjoint sets) and
publishes them as ``dispatch_events`` tasks of up to ``OUTBOX_BATCH_SIZE``. When the broker
is down it gives the leases back and tries again at the next wake-up; the periodic sweeper
stays the safety net for everything else (a dispatcher killed between lease and publish).

It runs as a thread in the main process of every Celery worker that consumes the default
queue (``start_in_worker``; not in scripts/run's issuance-only worker), so whatever starts
such a worker (scripts/run, the tests, the benchmark) starts a dispatcher. It
only takes events of topics this process has handlers for: a worker started with extra
handlers (the tests') never takes another worker's events, nor the reverse.
"""

from __future__ import annotations

import datetime as dt
import logging
import select
import threading

from django.conf import settings
from django.db import close_old_connections, connection

from . import registry
from .services import batch_size, claim_due_events

logger = logging.getLogger(__name__)

CHANNEL = "outbox_event"


def poll_seconds() -> float:
    return float(getattr(settings, "OUTBOX_DISPATCH_POLL_SECONDS", 1.0))


def coalesce_seconds() -> float:
    return float(getattr(settings, "OUTBOX_DISPATCH_COALESCE_SECONDS", 0.25))


def release(event_ids: list[int]) -> None:
    """Give leases back (the publish failed): the next wake-up takes the events again."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE outbox_outboxevent SET next_attempt_at = NULL WHERE id = ANY(%s) AND dispatched_at IS NULL",
            [event_ids],
        )


class Dispatcher:
    def __init__(self, *, queue: str | None = None) -> None:
        self.queue = queue
        self.paused = False
        self.lock = threading.Lock()  # held while a round runs: pause() returns after it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- one round ------------------------------------------------------------------------
    def run_once(self) -> int:
        """Publish every waiting event in batches; how many were published (0 when paused,
        and when the broker refused: the leases are then given back)."""
        from .tasks import dispatch_events

        with self.lock:
            if self.paused:
                return 0
            topics = registry.topics()
            published = 0
            while topics:
                ids = claim_due_events(limit=batch_size(), min_age=dt.timedelta(0), topics=topics)
                if not ids:
                    break
                try:
                    options = {"queue": self.queue} if self.queue else {}
                    dispatch_events.apply_async((ids,), retry=False, **options)
                except Exception:
                    logger.warning("outbox.publish_failed", extra={"event_ids": ids[:20]}, exc_info=True)
                    release(ids)
                    break
                published += len(ids)
                if len(ids) < batch_size():
                    break
            return published

    def pause(self, paused: bool = True) -> None:
        with self.lock:
            self.paused = paused

    # --- the loop -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            listener = None
            try:
                listener = self._listen()
                while not self._stop.is_set():
                    self.run_once()
                    readable, _, _ = select.select([listener], [], [], poll_seconds())
                    if readable:
                        # Let what commits meanwhile join: under load one task then carries
                        # many events (the handlers work per batch), not one task per event.
                        self._stop.wait(coalesce_seconds())
                        listener.poll()
                        listener.notifies.clear()
            except Exception:
                logger.warning("outbox.dispatcher_error", exc_info=True)
                self._stop.wait(1.0)
            finally:
                if listener is not None:
                    try:
                        listener.close()
                    except Exception:  # noqa: BLE001, S110 - closing a broken connection
                        pass
                close_old_connections()
                connection.close()

    @staticmethod
    def _listen():
        """A connection of its own, in autocommit, LISTENing on the outbox channel."""
        raw = connection.get_new_connection(connection.get_connection_params())
        raw.autocommit = True
        with raw.cursor() as cursor:
            cursor.execute(f"LISTEN {CHANNEL}")
        return raw


_dispatcher: Dispatcher | None = None


def current() -> Dispatcher | None:
    return _dispatcher


def start_in_worker(queue: str | None = None) -> Dispatcher | None:
    """Start this process's dispatcher once (a worker's main process), unless disabled."""
    global _dispatcher
    if _dispatcher is None and getattr(settings, "OUTBOX_DISPATCHER", True):
        _dispatcher = Dispatcher(queue=queue)
        _dispatcher.paused = bool(getattr(settings, "OUTBOX_DISPATCHER_PAUSED", False))
        _dispatcher.start()
    return _dispatcher


def stop_in_worker() -> None:
    if _dispatcher is not None:
        _dispatcher.stop()
