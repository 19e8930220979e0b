"""Shared fixtures: API clients over HTTP, documented operations, and a real Celery worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.client import ApiClient

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "graphql" / "operations"
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


def _start_worker(queue: str, db_name: str, concurrency: int = 2) -> subprocess.Popen:
    env = os.environ.copy()
    env.update({"DATABASE_NAME": db_name, "CELERY_QUEUE": queue, "PYTHONUNBUFFERED": "1"})
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
            queue,
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

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the Celery worker exited during start-up")
        replies = app.control.ping(timeout=0.5)
        if any(hostname.split("@")[0] in name for reply in replies for name in reply):
            return proc
    proc.kill()
    raise RuntimeError("the Celery worker did not answer a ping within 60 s")


def _stop_worker(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real Celery worker process on the test database and this session's queue.

    Tests using it must be transactional (``transactional_db`` or ``live_api``) so the
    worker sees their committed rows.
    """
    from django.db import connection

    proc = _start_worker(TEST_QUEUE, connection.settings_dict["NAME"])
    yield proc
    _stop_worker(proc)


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
