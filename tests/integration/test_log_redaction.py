"""Export download links are bearer grants: their tokens stay out of every log line, gunicorn's
access log and Django's own request warnings alike (issue 10, item 3). Runs a real gunicorn
with the logger class scripts/run and the Dockerfile use."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from tests.integration.test_outbox_faults import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
TOKEN = "c2VjcmV0LWdyYW50LXRva2Vu.not-a-real-signature"

pytestmark = pytest.mark.django_db


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0  # not listening yet


def test_an_export_token_never_reaches_the_logs(tmp_path):
    port = free_port()
    access_log = tmp_path / "access.log"
    output = (tmp_path / "out.log").open("wb")
    env = {**os.environ, "DATABASE_NAME": connection.settings_dict["NAME"], "DEBUG": "0", "SECRET_KEY": "x"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "backend.config.wsgi:application", "--bind", f"127.0.0.1:{port}"]
        + ["--workers", "1", "--access-logfile", str(access_log)]
        + ["--logger-class", "backend.config.gunicorn_logging.RedactingLogger"],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while get(f"http://127.0.0.1:{port}/healthz") != 200:
            assert time.monotonic() < deadline and proc.poll() is None, "gunicorn did not start"
            time.sleep(0.2)
        assert get(f"http://127.0.0.1:{port}/attribution/exports/{TOKEN}/") == 403
        assert get(f"http://127.0.0.1:{port}/attribution/exports/{TOKEN}/?x=1") == 403
        time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        output.close()
    access = access_log.read_text()
    assert "/attribution/exports/[redacted]/" in access
    assert "/healthz" in access  # the log is there, only the grant is not
    logged = access + (tmp_path / "out.log").read_text()
    assert "/attribution/exports/[redacted]/" in logged
    assert TOKEN not in logged and TOKEN.split(".")[0] not in logged
