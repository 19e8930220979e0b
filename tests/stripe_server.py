"""A localstripe server for the tests: bound to 127.0.0.1 on a free port, with its own state file.

localstripe (GPL-3.0) is a test-only tool run as a separate process, never imported by the
product. Its CLI listens on every interface and pickles its state to a fixed file in /tmp,
so this module starts it from a tiny launcher instead: the launcher redirects the state
file into a per-session temporary directory and binds the loopback address only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

LAUNCHER = r"""
import logging, pickle, sys
from aiohttp import web
from localstripe import resources, server

state_file = sys.argv[2]

def try_load_from_disk(self):
    pass

def dump_to_disk(self):
    with open(state_file, "wb") as f:
        pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)

resources.Store.try_load_from_disk = try_load_from_disk
resources.Store.dump_to_disk = dump_to_disk
logging.basicConfig(level=logging.WARNING)
web.run_app(server.app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""

API_KEY = "sk_test_localstripe"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalStripe:
    """A running localstripe: its base URL, and helpers that query it directly."""

    url: str
    process: subprocess.Popen
    state_dir: Path

    def get(self, path: str, **params) -> dict:
        r = requests.get(f"{self.url}{path}", params=params, auth=(API_KEY, ""), timeout=10)
        r.raise_for_status()
        return r.json()

    def post(self, path: str, **data) -> dict:
        r = requests.post(f"{self.url}{path}", data=data, auth=(API_KEY, ""), timeout=10)
        r.raise_for_status()
        return r.json() if r.content else {}

    def invoices(self, customer: str) -> list[dict]:
        return self.get("/v1/invoices", customer=customer, limit=100)["data"]

    def pending_invoice_items(self, customer: str) -> list[dict]:
        return self.get("/v1/invoiceitems", customer=customer, limit=100)["data"]

    def register_webhook(self, url: str, secret: str, events: list[str] | None = None) -> None:
        data: dict = {"url": url, "secret": secret}
        if events:
            data["events[]"] = events
        r = requests.post(f"{self.url}/_config/webhooks/test", data=data, timeout=10)
        r.raise_for_status()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_localstripe() -> LocalStripe:
    state_dir = Path(tempfile.mkdtemp(prefix="localstripe-"))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(port), str(state_dir / "state.pickle")],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("localstripe exited during start-up")
        try:
            requests.get(f"{url}/v1/customers", auth=(API_KEY, ""), timeout=1)
            return LocalStripe(url=url, process=proc, state_dir=state_dir)
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("localstripe did not answer within 30 s")


# --- pytest fixtures (import them into a test module: `from tests.stripe_server import ...`) ---

try:
    import pytest
except ImportError:  # pragma: no cover
    pytest = None

if pytest is not None:

    @pytest.fixture(scope="session")
    def localstripe():
        """One localstripe server per test session (state in its own temporary file)."""
        server = start_localstripe()
        yield server
        server.stop()

    @pytest.fixture
    def stripe_gateway(localstripe, settings):
        """Billing's Stripe gateway, pointed at localstripe (with its documented workarounds)."""
        from billing.stripe_gateway import StripeGateway

        settings.STRIPE_API_HOST = localstripe.url
        settings.STRIPE_TEST_SECRET_KEY = API_KEY
        settings.STRIPE_LIVE_MODE = False
        settings.BILLING_STRIPE_LOCALSTRIPE_COMPAT = True
        return StripeGateway.from_settings()
