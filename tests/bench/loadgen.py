"""The load generator: a separate process (``python -m tests.bench.loadgen JOB.json``).

It forks ``processes`` worker processes with ``threads`` client threads each (one client =
one keep-alive HTTP connection, one database connection, or one Django connection), runs
each client's warm-up items untimed, meets the others at a barrier, then runs the timed
items until they are used up or ``duration`` seconds have passed. It prints one JSON
line: operations, outcomes, elapsed time, throughput and latency percentiles.

Modes:
    graphql   POST a GraphQL body per item; ``terminal`` signing per client if given
    sql       one SQL statement per item over psycopg2 (autocommit)
    service   a Python callable per item inside Django (``target``: module:function)
    get       GET ``url`` (+ headers) per item (reads)
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import importlib
import json
import multiprocessing as mp
import os
import sys
import threading
import time
import traceback
import uuid
from typing import Any
from urllib.parse import urlsplit

# --- one client: what one item costs -------------------------------------------------------


def _hmac_headers(uid: str, secret: str, body: bytes, path: str) -> dict[str, str]:
    from tests.client import terminal_headers

    return terminal_headers(uid, secret, body, path=urlsplit(path).path)


def _dig(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


class HttpClient:
    def __init__(self, job: dict, client: dict):
        parts = urlsplit(job["url"])
        self.host, self.port, self.path = parts.hostname, parts.port, parts.path or "/"
        self.query = job.get("query")
        self.variables = {**(job.get("variables") or {}), **(client.get("variables") or {})}
        self.result_path = job.get("result_path")
        self.headers = {"Content-Type": "application/json", **(job.get("headers") or {})}
        self.terminal = client.get("terminal")
        self.method = "GET" if job["mode"] == "get" else "POST"
        self.conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        return self.conn

    def body_for(self, item: Any) -> bytes | None:
        if self.method == "GET":
            return None
        variables = dict(self.variables)
        if isinstance(item, dict):
            variables.update(item)
        elif item is not None:
            variables["code"] = item
        if "idempotencyKey" in variables or self.terminal:
            variables.setdefault("idempotencyKey", uuid.uuid4().hex)
        return json.dumps({"query": self.query, "variables": variables}).encode()

    def run(self, item: Any) -> str:
        body = self.body_for(item)
        headers = dict(self.headers)
        if self.terminal and body is not None:
            headers.update(_hmac_headers(self.terminal["uid"], self.terminal["secret"], body, self.path))
        path = self.path if self.method == "POST" or not isinstance(item, str) else item
        for attempt in range(2):
            conn = self._connection()
            try:
                conn.request(self.method, path, body=body, headers=headers)
                response = conn.getresponse()
                raw = response.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                conn.close()
                self.conn = None
                if attempt:
                    raise
        if response.status != 200:
            return f"HTTP_{response.status}:{raw[:200].decode(errors='replace')}"
        if self.result_path is None:
            return "OK"
        doc = json.loads(raw)
        if doc.get("errors"):
            codes = [(e.get("extensions") or {}).get("code", e.get("message")) for e in doc["errors"]]
            return "ERROR:" + ",".join(map(str, codes))
        value = _dig(doc, self.result_path)
        return str(value) if value is not None else "MISSING:" + raw[:200].decode(errors="replace")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


class SqlClient:
    def __init__(self, job: dict, client: dict):
        import psycopg2
        import psycopg2.errors

        self.retryable = psycopg2.errors.DivisionByZero
        self.counters: dict[str, int] = {}
        self.conn = psycopg2.connect(**job["dsn"])
        self.conn.autocommit = True
        self.cursor = self.conn.cursor()
        self.sql = job["sql"]
        self.params = {**job.get("params", {}), **client.get("params", {})}

    def run(self, item: Any) -> str:
        params = dict(self.params)
        params["code"] = item
        params["key"] = uuid.uuid4().hex
        params["fp"] = hashlib.sha256(f"{item}|{params.get('order_amount')}".encode()).hexdigest()
        for _ in range(5):
            try:
                self.cursor.execute(self.sql, params)
            except self.retryable:
                # The slot the statement picked changed under it: nothing was kept; again.
                self.counters["statement_retries"] = self.counters.get("statement_retries", 0) + 1
                continue
            row = self.cursor.fetchone()
            return "VERIFIED" if row is not None and row[0] is not None else "NOT_WRITTEN"
        return "SLOTS_BUSY"

    def close(self) -> None:
        self.conn.close()


class ServiceClient:
    """Calls ``target(client_params, item) -> outcome`` in this process (Django set up)."""

    def __init__(self, job: dict, client: dict):
        module, _, name = job["target"].partition(":")
        self.func = getattr(importlib.import_module(module), name)
        self.state = client.get("params", {})

    def run(self, item: Any) -> str:
        return self.func(self.state, item)

    def close(self) -> None:
        from django.db import connection

        connection.close()


CLIENTS = {"graphql": HttpClient, "get": HttpClient, "sql": SqlClient, "service": ServiceClient}


# --- processes and threads -------------------------------------------------------------------


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[index]


def _thread(job, client_spec, barrier, deadline_box, out, lock):
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    samples: list[str] = []
    client = None
    try:
        client = CLIENTS[job["mode"]](job, client_spec)
        items = client_spec["items"]
        warm = int(job.get("warmup", 0))
    except Exception:
        samples.append(traceback.format_exc(limit=3))
        items, warm = [], 0
    for item in items[:warm]:
        try:
            client.run(item)
        except Exception:
            if len(samples) < 3:
                samples.append("warm-up: " + traceback.format_exc(limit=3))
    try:
        barrier.wait(timeout=600)
    except threading.BrokenBarrierError:
        pass
    deadline = deadline_box["deadline"]
    end = time.perf_counter()
    for item in items[warm:]:
        if deadline is not None and time.monotonic() >= deadline:
            break
        start = time.perf_counter()
        try:
            outcome = client.run(item)
        except Exception as exc:  # counted, never fatal: the run must finish and report
            outcome = f"EXC:{type(exc).__name__}"
            if len(samples) < 3:
                samples.append(traceback.format_exc(limit=3))
        end = time.perf_counter()
        latencies.append(end - start)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if not outcome.startswith(("VERIFIED", "OK")) and len(samples) < 3:
            samples.append(outcome[:300])
    if client is not None:
        with contextlib.suppress(Exception):
            client.close()
    counters = getattr(client, "counters", {})
    with lock:
        for k, v in counters.items():
            out["counters"][k] = out["counters"].get(k, 0) + v
        out["latencies"].extend(latencies)
        for k, v in outcomes.items():
            out["outcomes"][k] = out["outcomes"].get(k, 0) + v
        out["samples"].extend(samples[:3])
        out["end"] = max(out["end"], time.time())


def _process(job, clients, mp_barrier, t0_value, queue):
    if job["mode"] == "service":
        import django

        django.setup()
    out = {"latencies": [], "outcomes": {}, "counters": {}, "samples": [], "end": 0.0}
    lock = threading.Lock()
    deadline_box: dict[str, float | None] = {"deadline": None}

    # Threads of this process meet here; one of them then waits for the other processes.
    def action():
        mp_barrier.wait(timeout=600)
        if job.get("duration"):
            deadline_box["deadline"] = time.monotonic() + float(job["duration"])

    local = threading.Barrier(len(clients), action=action)
    threads = [
        threading.Thread(target=_thread, args=(job, c, local, deadline_box, out, lock), daemon=True)
        for c in clients
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put(out)


def run(job: dict) -> dict:
    ctx = mp.get_context("fork")
    procs, per = int(job["processes"]), int(job["threads"])
    clients = job["clients"]
    assert len(clients) == procs * per, (len(clients), procs, per)
    barrier = ctx.Barrier(procs + 1)
    queue = ctx.Queue()
    t0 = ctx.Value("d", 0.0)
    workers = [
        ctx.Process(target=_process, args=(job, clients[i * per : (i + 1) * per], barrier, t0, queue))
        for i in range(procs)
    ]
    for w in workers:
        w.start()
    barrier.wait(timeout=900)  # every client warmed up
    started = time.time()
    parts = [queue.get(timeout=3600) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    latencies = sorted(x for p in parts for x in p["latencies"])
    outcomes: dict[str, int] = {}
    for p in parts:
        for k, v in p["outcomes"].items():
            outcomes[k] = outcomes.get(k, 0) + v
    counters: dict[str, int] = {}
    for p in parts:
        for k, v in p["counters"].items():
            counters[k] = counters.get(k, 0) + v
    elapsed = max(p["end"] for p in parts) - started if latencies else 0.0
    ops = len(latencies)
    return {
        "mode": job["mode"],
        "clients": procs * per,
        "ops": ops,
        "outcomes": outcomes,
        "counters": counters,
        "elapsed_s": round(elapsed, 4),
        "throughput": round(ops / elapsed, 2) if elapsed > 0 else 0.0,
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "samples": [s for p in parts for s in p["samples"]][:5],
    }


def main() -> None:
    with open(sys.argv[1]) as f:
        job = json.load(f)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.bench.settings")
    result = run(job)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
