"""Processes the benchmark starts and always stops: gunicorn, a Celery worker, the load generator."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

# Gunicorn: one process per core, threads for the 16 keep-alive clients (gthread keeps
# connections open; sync workers close them after each request). Overridable for experiments.
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "2"))
WEB_THREADS = int(os.environ.get("BENCH_WEB_THREADS", "8"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a process the bench starts: same database as this one, bench settings,
    a Celery queue of its own, and abuse limits high enough not to throttle the load."""
    env = os.environ.copy()
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.bench.settings",
            "DATABASE_NAME": connection.settings_dict["NAME"],
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            # The load is 16 tills writing off as fast as they can: far above a real till's
            # 120/min. The check still runs (its query is part of the cost), it just passes.
            "POS_MAX_WRITEOFFS_PER_MINUTE": str(10**9),
            "POS_MAX_REJECTIONS": str(10**9),
            # Every bench client claims from 127.0.0.1: the fan pages' per-IP limits would refuse them.
            "FANS_SENDS_PER_IP_PER_HOUR": str(10**9),
            "FANS_CHECKS_PER_IP_PER_HOUR": str(10**9),
            "FANS_CLAIMS_PER_IP_PER_HOUR": str(10**9),
            # The bench speaks plain HTTP on 127.0.0.1: secure-only cookies would never come back.
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            # The issuance queue follows CELERY_QUEUE (backend.config.celery_routes): the bench's own.
            "COUPON_ISSUANCE_QUEUE": "",
        }
    )
    env.update(extra)
    return env


class Gunicorn:
    def __init__(self, *, queue: str, workers: int = WEB_WORKERS, threads: int = WEB_THREADS):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers, self.threads = workers, threads
        self.log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "tests.bench.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--worker-class",
                "gthread",
                "--threads",
                str(threads),
                "--keep-alive",
                "30",
                "--backlog",
                "256",
                "--chdir",
                str(ROOT),
            ],
            env=child_env(CELERY_QUEUE=queue),
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {Path(self.log.name).read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):  # noqa: S310
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not answer /healthz within 60 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# scripts/run's issuance worker: `nice -n ${ISSUANCE_NICE:-10}`, -c 2, the issuance queue only.
ISSUANCE_NICE = int(os.environ.get("ISSUANCE_NICE", "10"))


class CeleryWorker:
    """A worker on its own queue (so no other worker on the same Redis takes the tasks).

    ``issuance=True`` starts scripts/run's second worker instead: the issuance queue of
    ``queue`` only (backend.config.celery_routes), niced like scripts/run, no outbox dispatcher.
    """

    def __init__(self, *, queue: str, concurrency: int = 2, nice: int = 0, issuance: bool = False):
        from backend.config.celery_app import app
        from backend.config.celery_routes import issuance_queue_for

        self.queue = queue
        consume = queue
        if issuance:
            consume, nice = issuance_queue_for(queue), nice or ISSUANCE_NICE
        self.hostname = f"bench-{uuid.uuid4().hex[:6]}"
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "backend.config",
            "worker",
            "-Q",
            consume,
            "-c",
            str(concurrency),
            "-n",
            f"{self.hostname}@%h",
            "-l",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        if nice:
            cmd = ["nice", "-n", str(nice), *cmd]
        # Kept after the run (its path is in the results): a slow job is explained there.
        self.log = tempfile.NamedTemporaryFile(prefix="bench-celery-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            cmd,
            env=child_env(CELERY_QUEUE=queue),
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Celery worker exited: {Path(self.log.name).read_text()[-2000:]}")
            replies = app.control.ping(timeout=0.5)
            if any(self.hostname in name for reply in replies for name in reply):
                return
        self.stop()
        raise RuntimeError("the Celery worker did not answer a ping within 60 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


@contextlib.contextmanager
def celery_queue(queue: str):
    """Point this process's Celery publishing at ``queue``; drop the queue afterwards."""
    from django.conf import settings

    from backend.config.celery_app import app

    old_setting, old_conf = settings.CELERY_TASK_DEFAULT_QUEUE, app.conf.task_default_queue
    old_issuance = settings.COUPON_ISSUANCE_QUEUE
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    settings.COUPON_ISSUANCE_QUEUE = ""  # issuance tasks go to the queue's issuance queue
    app.conf.task_default_queue = queue
    try:
        yield queue
    finally:
        settings.CELERY_TASK_DEFAULT_QUEUE = old_setting
        settings.COUPON_ISSUANCE_QUEUE = old_issuance
        app.conf.task_default_queue = old_conf


def drop_queue(queue: str) -> None:
    """Delete a queue's pending messages (outbox tasks nobody consumed during a measurement),
    and those of its issuance queue."""
    import redis
    from django.conf import settings

    from backend.config.celery_routes import issuance_queue_for

    with contextlib.suppress(Exception):
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(queue, issuance_queue_for(queue))


def run_load(job: dict, timeout: float = 3600) -> dict:
    """Run the load generator in its own process; its JSON result."""
    with tempfile.NamedTemporaryFile("w", prefix="bench-job-", suffix=".json", delete=False) as f:
        json.dump(job, f)
        path = f.name
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.bench.loadgen", path],
            env=child_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    finally:
        os.unlink(path)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed ({done.returncode}): {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
