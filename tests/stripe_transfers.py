"""A Stripe-compatible transfers endpoint for the payout tests (localstripe has no transfers).

localstripe 1.15 implements no Connect ``/v1/transfers`` (research/billing-facts.md), so this
small HTTP server, bound to 127.0.0.1 in a thread of the test process, answers the three
calls billing's Stripe Connect gateway makes, with real Stripe's request and response shapes
(trimmed from Stripe's API reference, version 2024-06-20):

- ``POST /v1/transfers`` (form-encoded: amount, currency, destination, transfer_group,
  description, metadata[...]; ``Idempotency-Key`` header) -> a ``transfer`` object; a
  destination that is not a connected account -> 400 ``invalid_request_error``
  "No such destination: 'acct_...'" with ``param: destination``;
- ``GET /v1/transfers?transfer_group=...&destination=...&limit=...`` -> a list object;
- ``GET /v1/transfers/{id}``.

``honour_idempotency_keys`` is on by default, like Stripe; the crash tests turn it off to
play a retry that comes after Stripe forgot the key (it keeps them about 24 hours), so only
our own lookup by ``transfer_group`` can prevent a second transfer. Every request is kept in
``requests`` so a test can pin its shape.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

API_KEY = "sk_test_transfers"


@dataclass
class StripeTransfers:
    url: str = ""
    connected_accounts: set[str] = field(default_factory=set)
    transfers: list[dict] = field(default_factory=list)
    requests: list[tuple[str, str, dict, dict]] = field(default_factory=list)
    honour_idempotency_keys: bool = True
    _keys: dict[str, dict] = field(default_factory=dict)
    _ids = itertools.count(1)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.transfers.clear()
            self.requests.clear()
            self._keys.clear()
            self.connected_accounts.clear()
            self.honour_idempotency_keys = True

    def to(self, destination: str) -> list[dict]:
        return [t for t in self.transfers if t["destination"] == destination]

    # --- the API ----------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict, form: dict) -> tuple[int, dict]:
        with self._lock:
            self.requests.append((method, path, headers, form))
            if method == "POST" and path == "/v1/transfers":
                key = headers.get("Idempotency-Key", "")
                if self.honour_idempotency_keys and key in self._keys:
                    return 200, self._keys[key]
                if form.get("destination") not in self.connected_accounts:
                    return 400, {
                        "error": {
                            "type": "invalid_request_error",
                            "code": "resource_missing",
                            "message": f"No such destination: '{form.get('destination')}'",
                            "param": "destination",
                        }
                    }
                transfer = self._transfer(form)
                self.transfers.append(transfer)
                if key:
                    self._keys[key] = transfer
                return 200, transfer
            if method == "GET" and path == "/v1/transfers":
                found = [
                    t
                    for t in reversed(self.transfers)
                    if all(
                        t.get(name) == form[name]
                        for name in ("transfer_group", "destination")
                        if name in form
                    )
                ]
                limit = int(form.get("limit", 10))
                return 200, {
                    "object": "list",
                    "data": found[:limit],
                    "has_more": len(found) > limit,
                    "url": "/v1/transfers",
                }
            if method == "GET" and path.startswith("/v1/transfers/"):
                for t in self.transfers:
                    if t["id"] == path.rsplit("/", 1)[1]:
                        return 200, t
            return 404, {
                "error": {"type": "invalid_request_error", "message": f"Unrecognized request URL ({path})."}
            }

    def _transfer(self, form: dict) -> dict:
        n = next(self._ids)
        transfer_id = f"tr_1Test{n:010d}"
        return {
            "id": transfer_id,
            "object": "transfer",
            "amount": int(form["amount"]),
            "amount_reversed": 0,
            "balance_transaction": f"txn_1Test{n:010d}",
            "created": int(time.time()),
            "currency": form["currency"],
            "description": form.get("description"),
            "destination": form["destination"],
            "destination_payment": f"py_1Test{n:010d}",
            "livemode": False,
            "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
            "reversals": {
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/transfers/{transfer_id}/reversals",
            },
            "reversed": False,
            "source_transaction": None,
            "source_type": "card",
            "transfer_group": form.get("transfer_group"),
        }


def start_stripe_transfers() -> tuple[StripeTransfers, ThreadingHTTPServer]:
    state = StripeTransfers()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            form = {k: v[0] for k, v in parse_qs(body if method == "POST" else parts.query).items()}
            status, payload = state.handle(method, parts.path, dict(self.headers), form)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802
            self._answer("GET")

        def do_POST(self):  # noqa: N802
            self._answer("POST")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server


try:
    import pytest
except ImportError:  # pragma: no cover
    pytest = None

if pytest is not None:

    @pytest.fixture(scope="session")
    def stripe_transfers_server():
        state, server = start_stripe_transfers()
        yield state
        server.shutdown()

    @pytest.fixture
    def stripe_transfers(stripe_transfers_server, settings):
        """The transfers server, emptied, with billing's settings pointed at it."""
        stripe_transfers_server.reset()
        settings.STRIPE_API_HOST = stripe_transfers_server.url
        settings.STRIPE_TEST_SECRET_KEY = API_KEY
        settings.STRIPE_LIVE_MODE = False
        return stripe_transfers_server
