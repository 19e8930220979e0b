"""Outbox handlers for tests only: each run leaves a row in outbox_test_effect.

The row is written in the handler's transaction, so it commits exactly when the delivery
row does: counting rows per (event, handler) counts the runs that took effect. Worker
processes get these handlers through OUTBOX_EXTRA_HANDLER_MODULES=
"tests.integration.outbox_handlers:install"; the test process registers them per test.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.db import connection

from backend.outbox import registry

TEST_TOPIC = "test.outbox"
WORKER_ENTRY = "tests.integration.outbox_handlers:install"


def create_effect_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS outbox_test_effect ("
            " id bigserial PRIMARY KEY, event_id bigint NOT NULL, handler text NOT NULL,"
            " pid integer NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor.execute("TRUNCATE outbox_test_effect")


def effects() -> list[tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT event_id, handler FROM outbox_test_effect ORDER BY id")
        return [tuple(row) for row in cursor.fetchall()]


def _record(event, handler: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO outbox_test_effect (event_id, handler, pid) VALUES (%s, %s, %s)",
            [event.pk, handler, os.getpid()],
        )


def record(event) -> None:
    """Records the run; with {"slow": s, "marker": path} it first writes its pid to the
    marker and sleeps, so a test can kill the process mid-run (only on the first run)."""
    _record(event, "test.record")
    slow, marker = event.payload.get("slow"), event.payload.get("marker")
    if slow and marker and not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        time.sleep(slow)


def flaky(event) -> None:
    """Fails while the event's payload says so (the test flips it), then records."""
    from backend.outbox.models import OutboxEvent

    if OutboxEvent.objects.get(pk=event.pk).payload.get("fail"):
        raise RuntimeError("the flaky handler failed on purpose")
    _record(event, "test.flaky")


def record_verified(event) -> None:
    _record(event, "test.verified")


HANDLERS = [
    registry.Handler(TEST_TOPIC, "test.record", record),
    registry.Handler(TEST_TOPIC, "test.flaky", flaky),
    registry.Handler(registry.REDEMPTION_VERIFIED, "test.verified", record_verified),
]


def install() -> None:
    for handler in HANDLERS:
        registry.register(handler.topic, name=handler.name)(handler.func)


def uninstall() -> None:
    for handler in HANDLERS:
        registered = registry._handlers.get(handler.topic, [])
        registered[:] = [h for h in registered if h.name != handler.name]
