"""Shared fixtures: API clients over HTTP, documented operations, and a real Celery worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from backend.config.celery_routes import issuance_queue_for
from tests.client import ApiClient

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "graphql" / "operations"
# Property tests check behaviour, never speed: no per-example deadline (a loaded CI machine
# must not fail a correct example for taking 200 ms). Speed is measured by scripts/bench.
hypothesis_settings.register_profile("suite", deadline=None)
hypothesis_settings.load_profile("suite")

# One queue per test session, so no other worker on the same Redis takes our tasks.
TEST_QUEUE = f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session", autouse=True)
def _isolated_celery_queue():
    from django.conf import settings

    from backend.config.celery_app import app

    settings.CELERY_TASK_DEFAULT_QUEUE = TEST_QUEUE
    app.conf.task_default_queue = TEST_QUEUE
    yield


@pytest.fixture
def api(client) -> ApiClient:
    """GraphQL through Django's full request stack (fast; one process)."""
    return ApiClient(django_client=client)


@pytest.fixture
def live_api(live_server, transactional_db) -> ApiClient:
    """GraphQL over a real socket to a threaded HTTP server (for e2e and concurrency)."""
    return ApiClient(base_url=live_server.url)


def load_operation(name: str) -> str:
    """A documented operation from graphql/operations/<name>.graphql."""
    return (OPERATIONS / f"{name}.graphql").read_text()


@pytest.fixture
def operation():
    return load_operation


# Worker processes alive in this session, by the node name they answer to.
_workers: dict[str, subprocess.Popen] = {}


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    names = request.fixturenames
    return (
        "transactional_db" in names
        or "live_server" in names
        or "live_api" in names
        or bool(marker and marker.kwargs.get("transaction"))
    )


def _drain_workers(timeout: float = 30.0) -> None:
    """Drop queued tasks and wait until no worker runs one, so nothing writes during a flush."""
    from backend.config.celery_app import app

    alive = [name for name, proc in _workers.items() if proc.poll() is None]
    if not alive:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(TEST_QUEUE)
        active = app.control.inspect(destination=alive, timeout=1.0).active() or {}
        if not any(active.values()):
            return
        time.sleep(0.1)


@pytest.fixture(autouse=True)
def _quiet_workers_before_flush(request):
    """A transactional test's database flush must not race a worker still busy with its tasks
    (TRUNCATE would deadlock with the worker's writes): drain the workers first."""
    if not _is_transactional(request):
        yield
        return
    request.getfixturevalue("transactional_db")  # set up first, so torn down after the drain
    yield
    _drain_workers()


def _start_worker(
    queue: str,
    db_name: str,
    concurrency: int = 2,
    *,
    dispatcher_paused: bool = False,
    consume: str | None = None,
) -> subprocess.Popen:
    """A worker process on ``queue`` and its issuance queue (``consume``: other queues); like
    every worker of the default queue it runs an outbox dispatcher (backend.outbox.dispatcher)."""
    env = os.environ.copy()
    env.update({"DATABASE_NAME": db_name, "CELERY_QUEUE": queue, "PYTHONUNBUFFERED": "1"})
    env["OUTBOX_DISPATCHER_PAUSED"] = "1" if dispatcher_paused else "0"
    # Webhook tests receive on 127.0.0.1, which the SSRF guard refuses unless allowed.
    env.setdefault("WEBHOOK_ALLOW_LOCAL_TARGETS", "1")
    hostname = f"testworker-{uuid.uuid4().hex[:6]}@%h"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "backend.config",
            "worker",
            "-Q",
            # The default queue and the issuance queue (scripts/run gives each a worker).
            consume or f"{queue},{issuance_queue_for(queue)}",
            "-c",
            str(concurrency),
            "-n",
            hostname,
            "-l",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env=env,
        cwd=ROOT,
    )
    from backend.config.celery_app import app

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("the Celery worker exited during start-up")
            replies = app.control.ping(timeout=0.5)
            names = [name for reply in replies for name in reply if hostname.split("@")[0] in name]
            if names:
                _workers[names[0]] = proc
                return proc
        raise RuntimeError("the Celery worker did not answer a ping within 60 s")
    except BaseException:
        proc.kill()  # never leave an orphan worker behind a failed start
        proc.wait()
        raise


def _stop_worker(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def _session_worker(django_db_setup, django_db_blocker):
    """The session's worker process; its outbox dispatcher starts paused (see below)."""
    from django.db import connection

    proc = _start_worker(TEST_QUEUE, connection.settings_dict["NAME"], dispatcher_paused=True)
    yield proc
    _stop_worker(proc)


def set_dispatcher_paused(proc: subprocess.Popen, paused: bool) -> None:
    """Pause or resume the outbox dispatcher of a worker this session started; returns
    once the worker has answered (after any dispatching round in flight)."""
    from backend.config.celery_app import app

    names = [name for name, p in _workers.items() if p is proc]
    replies = app.control.broadcast(
        "outbox_dispatcher", arguments={"paused": int(paused)}, destination=names, reply=True, timeout=10
    )
    if not replies:
        raise RuntimeError(f"the worker {names} did not answer the outbox_dispatcher command")


@pytest.fixture
def celery_worker_process(_session_worker):
    """A real Celery worker process on the test database and this session's queue.

    Tests using it must be transactional (``transactional_db`` or ``live_api``) so the
    worker sees their committed rows. Its outbox dispatcher runs during such a test only:
    the worker lives for the whole session, and other tests handle their events themselves.
    """
    set_dispatcher_paused(_session_worker, False)
    yield _session_worker
    set_dispatcher_paused(_session_worker, True)


@pytest.fixture
def start_worker(django_db_setup):
    """Start extra worker processes (for fault tests); each is stopped at the end of the test."""
    from django.db import connection

    started: list[subprocess.Popen] = []

    def start(concurrency: int = 1) -> subprocess.Popen:
        proc = _start_worker(TEST_QUEUE, connection.settings_dict["NAME"], concurrency)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            _stop_worker(proc)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll ``predicate`` until it returns a truthy value; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")
