"""The six scenarios: each measures ours and its physical reference in the same run and database.

Every scenario returns rows for the results table (scenario, ours, reference, ratio,
target, met). Sizes come from tests.bench.sizes; the world each one needs is built first
(untimed) by tests.bench.world.
"""

from __future__ import annotations

import math
import random
import resource
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection
from django.utils import timezone

from . import attacks, claims, console, invariants, servers, sql, world
from .sizes import Sizes

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "graphql" / "operations"
SPREAD_CAMPAIGNS = 64


@dataclass
class Row:
    scenario: str
    metric: str
    ours: float | None
    reference: float | None
    target: str  # ">= 0.25", "<= 1.5", "< 1", "== " or "" (informational)
    unit: str = ""
    ratio: float | None = None
    met: bool | None = None
    notes: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def judge(self, *, extra_ok: bool = True) -> Row:
        if self.ours is not None and self.reference not in (None, 0):
            self.ratio = round(self.ours / self.reference, 3)
        if not self.target or self.ratio is None:
            self.met = None if not self.target else False
            return self
        op, _, value = self.target.partition(" ")
        bound = float(value)
        ok = {
            ">=": self.ratio >= bound,
            "<=": self.ratio <= bound,
            "<": self.ratio < bound,
            "==": self.ratio == bound,
        }[op]
        self.met = ok and extra_ok
        return self


@dataclass
class Context:
    sizes: Sizes
    log: Callable[[str], None] = print
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def clients(self) -> int:
        return self.sizes.clients[0] * self.sizes.clients[1]


def _operation(name: str) -> str:
    return (OPERATIONS / f"{name}.graphql").read_text()


def _split(items: list, parts: int) -> list[list]:
    return [items[i::parts] for i in range(parts)]


def _verified(result: dict) -> int:
    return result["outcomes"].get("VERIFIED", 0)


def _outcome_note(result: dict) -> str:
    bad = {k: v for k, v in result["outcomes"].items() if k != "VERIFIED"}
    return "" if not bad else "non-verified: " + ", ".join(f"{k[:60]}={v}" for k, v in bad.items())


# --- write-off worlds -------------------------------------------------------------------------


def writeoff_world(
    ctx: Context, *, per_client: int, sides: int, campaigns: int
) -> tuple[world.World, list[list[list[str]]]]:
    """A world with one terminal per client and ``campaigns`` campaigns; codes for each side,
    split per client (each client's codes spread over every campaign)."""
    n = ctx.clients
    total = per_client * n * sides
    per_campaign = math.ceil(total / campaigns)
    w = world.build(terminals=n)
    world.add_fans(w, per_campaign)
    codes: list[str] = []
    for _, placement in world.add_campaigns(w, campaigns):
        codes += world.issue_coupons(placement, w.fan_ids[:per_campaign])
    random.shuffle(codes)
    per_side = per_client * n
    return w, [_split(codes[i * per_side : (i + 1) * per_side], n) for i in range(sides)]


def raw_writeoff_job(ctx: Context, w: world.World, codes: list[list[str]], **extra) -> dict:
    statement, _ = sql.writeoff_statement()
    return {
        "mode": "sql",
        "processes": ctx.sizes.clients[0],
        "threads": ctx.sizes.clients[1],
        "warmup": ctx.sizes.warmup,
        "dsn": sql.connect_params(),
        "sql": statement,
        "params": {
            "order_amount": world.ORDER_AMOUNT,
            "currency": world.CURRENCY,
            "response": '{"redemption": {"status": "VERIFIED"}, "errors": []}',
        },
        "clients": [
            {"items": items, "params": {"merchant": t.merchant_id, "store": t.store_id, "terminal": t.id}}
            for items, t in zip(codes, w.terminals, strict=True)
        ],
        **extra,
    }


def graphql_writeoff_job(ctx: Context, url: str, w: world.World, codes: list[list[str]], **extra) -> dict:
    return {
        "mode": "graphql",
        "processes": ctx.sizes.clients[0],
        "threads": ctx.sizes.clients[1],
        "warmup": ctx.sizes.warmup,
        "url": f"{url}/graphql/",
        "query": _operation("pos_redeem_coupon"),
        "variables": {"orderAmount": world.ORDER_AMOUNT, "currency": world.CURRENCY},
        "result_path": "data.redeemCoupon.redemption.status",
        "clients": [
            {"items": items, "terminal": {"uid": t.uid, "secret": t.secret}}
            for items, t in zip(codes, w.terminals, strict=True)
        ],
        **extra,
    }


def _latency_row(scenario: str, metric: str, ours: dict, ref: dict) -> Row:
    return Row(
        scenario,
        metric,
        ours["p50_ms"],
        ref["p50_ms"],
        "",
        "ms",
        notes=f"p99 ours {ours['p99_ms']} ms, reference {ref['p99_ms']} ms",
        details={"ours_p99_ms": ours["p99_ms"], "reference_p99_ms": ref["p99_ms"]},
    ).judge()


# --- outbox lag: how far attribution and the ledger trail the tills ---------------------------

OUTBOX_LAG_TARGET_S = 5.0
OUTBOX_BACKLOG = 3000  # events drained to measure the worker's capacity
_LAG_SQL = """
SELECT COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(created_at)), 0), count(*)
  FROM outbox_outboxevent WHERE id > %s AND dispatched_at IS NULL AND dead_at IS NULL
"""


def park_waiting_events() -> tuple[int, int]:
    """Lease every waiting outbox event for a day (the raw-SQL reference's, earlier scenarios'
    without a worker), so a worker started now handles only the events of the load measured;
    (the last event id, how many were parked)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(max(id), 0) FROM outbox_outboxevent")
        after_id = cursor.fetchone()[0]
        cursor.execute(
            "UPDATE outbox_outboxevent SET next_attempt_at = now() + interval '1 day' "
            "WHERE id <= %s AND dispatched_at IS NULL AND dead_at IS NULL",
            [after_id],
        )
        return after_id, cursor.rowcount


class OutboxLag:
    """Samples the age of the oldest waiting outbox event (what backend.outbox.selectors.
    outbox_lag_seconds reports) every ``interval`` seconds, on its own connection, counting only
    events written after it was created: the events of the load being measured.

    Events already waiting (the raw-SQL reference's, earlier runs' without a worker) are parked
    first (leased for a day): a worker would otherwise work through them first and the lag
    measured would be theirs."""

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self.after_id, self.parked = park_waiting_events()
        self.samples: list[tuple[float, float, int]] = []  # (seconds since start, lag s, waiting)
        self.load_ended_at: float | None = None
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="outbox-lag", daemon=True)

    def _run(self) -> None:
        conn = sql.connect(sql.connect_params())
        try:
            with conn.cursor() as cursor:
                while not self._stop.is_set():
                    cursor.execute(_LAG_SQL, [self.after_id])
                    lag, waiting = cursor.fetchone()
                    self.samples.append((time.monotonic() - self._started, float(lag), int(waiting)))
                    self._stop.wait(self.interval)
        finally:
            conn.close()

    def __enter__(self) -> OutboxLag:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop sampling (again is a no-op): what runs after (the drain-capacity measurement,
        whose swept events announce new ``attribution.recorded`` events) is not the load's."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def load_ended(self) -> None:
        self.load_ended_at = time.monotonic() - self._started

    def wait_drained(self, timeout: float) -> float | None:
        """Seconds from the end of the load until nothing of it waits; None if not within timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.samples and self.samples[-1][0] > (self.load_ended_at or 0) and self.samples[-1][2] == 0:
                return round(self.samples[-1][0] - (self.load_ended_at or 0), 2)
            time.sleep(self.interval / 2)
        return None

    def summary(self) -> dict[str, Any]:
        end = self.load_ended_at if self.load_ended_at is not None else math.inf
        during = [lag for t, lag, _ in self.samples if t <= end]
        after = [lag for t, lag, _ in self.samples if t > end]
        return {
            "max_lag_during_s": round(max(during, default=0.0), 2),
            "p50_lag_during_s": round(sorted(during)[len(during) // 2], 2) if during else 0.0,
            "max_lag_after_s": round(max(after, default=0.0), 2),
            "max_waiting": max((w for *_, w in self.samples), default=0),
            "samples": len(self.samples),
            "parked_older_events": self.parked,
        }


def outbox_drain_capacity(*, queue: str, before_id: int, limit: int, timeout: float = 300) -> dict[str, Any]:
    """How fast one sweep task drains a backlog: the newest ``limit`` parked events written
    before ``before_id`` (the raw-SQL reference's write-offs: real redemptions) are made due,
    one ``sweep_outbox`` task is sent, and the time until all are dispatched is measured."""
    from backend.config.celery_app import app

    with connection.cursor() as cursor:
        cursor.execute(
            # due for the sweeper: no lease, and older than its minimum age
            "UPDATE outbox_outboxevent SET next_attempt_at = NULL,"
            " created_at = LEAST(created_at, now() - interval '1 minute') WHERE id IN ("
            " SELECT id FROM outbox_outboxevent WHERE id <= %s AND dispatched_at IS NULL AND dead_at IS NULL"
            " ORDER BY id DESC LIMIT %s) RETURNING id",
            [before_id, limit],
        )
        backlog = [row[0] for row in cursor.fetchall()]
    if not backlog:
        return {"events": 0}
    started = time.perf_counter()
    app.send_task("backend.outbox.tasks.sweep_outbox", queue=queue)
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM outbox_outboxevent WHERE id = ANY(%s) AND dispatched_at IS NULL",
                [backlog],
            )
            if cursor.fetchone()[0] == 0:
                seconds = time.perf_counter() - started
                return {
                    "events": len(backlog),
                    "seconds": round(seconds, 2),
                    "events_per_s": round(len(backlog) / seconds, 1),
                }
            time.sleep(0.1)
    return {"events": len(backlog), "seconds": None, "events_per_s": None}


# --- 1. write-off throughput: full stack vs the raw statement ----------------------------------


def s1_writeoff(ctx: Context) -> list[Row]:
    sz = ctx.sizes
    per_client = math.ceil(sz.writeoff_ops / ctx.clients) + sz.warmup
    campaigns = min(SPREAD_CAMPAIGNS, max(1, sz.writeoff_ops // 20))
    w, (raw_codes, ours_codes, view_codes) = writeoff_world(
        ctx, per_client=per_client, sides=3, campaigns=campaigns
    )
    ctx.log(
        f"  world: {ctx.clients} terminals, {campaigns} campaigns, {per_client * ctx.clients} codes per side"
    )
    limit = {"duration": sz.writeoff_seconds}
    raw = servers.run_load(raw_writeoff_job(ctx, w, raw_codes, **limit))
    ctx.log(
        f"  raw SQL: {raw['throughput']}/s p50 {raw['p50_ms']} ms p99 {raw['p99_ms']} ms {_outcome_note(raw)}"
    )
    queue = f"bench-s1-{w.tag}"
    try:
        with servers.Gunicorn(queue=queue) as web:
            # The product's worker runs during the load: the outbox must keep up with the tills.
            # Older events are parked before it starts: its outbox dispatcher would take them
            # at once (the reference's are the drain-capacity backlog below).
            with (
                OutboxLag() as lag,
                servers.CeleryWorker(queue=queue, concurrency=sz.worker_concurrency) as worker,
            ):
                ours = servers.run_load(graphql_writeoff_job(ctx, web.url, w, ours_codes, **limit))
                lag.load_ended()
                drained_s = lag.wait_drained(timeout=300)
                lag.stop()
                capacity = outbox_drain_capacity(queue=queue, before_id=lag.after_id, limit=OUTBOX_BACKLOG)
            outbox = lag.summary() | {"drained_after_load_s": drained_s, "worker_log": worker.log.name}
            ctx.log(
                f"  full stack: {ours['throughput']}/s p50 {ours['p50_ms']} ms p99 {ours['p99_ms']} ms "
                f"{_outcome_note(ours)}"
            )
            ctx.log(
                f"  outbox lag: max {outbox['max_lag_during_s']} s during the load "
                f"(p50 {outbox['p50_lag_during_s']} s, at most {outbox['max_waiting']} events waiting), "
                f"max {outbox['max_lag_after_s']} s after it; drained {drained_s} s after the load; "
                f"a backlog of {capacity.get('events')} drained at {capacity.get('events_per_s')} events/s"
            )
            view_job = graphql_writeoff_job(ctx, web.url, w, view_codes, **limit)
            view_job.update(url=f"{web.url}/bench/writeoff/", result_path="data.status")
            for client, t in zip(view_job["clients"], w.terminals, strict=True):
                client.pop("terminal")
                client["variables"] = {"merchant": t.merchant_id, "store": t.store_id, "terminal": t.id}
            view = servers.run_load(view_job)
            ctx.log(f"  plain view + raw SQL: {view['throughput']}/s {_outcome_note(view)}")
    finally:
        servers.drop_queue(queue)
    all_verified = _verified(ours) == ours["ops"] and _verified(raw) == raw["ops"]
    ctx.cache["writeoff_rate"] = ours["throughput"]  # scenario 7 measures locking against it
    return [
        Row(
            "1 write-off",
            f"write-offs/s, {ctx.clients} clients: full stack (HTTP, signature, GraphQL, ORM, outbox) "
            "vs raw SQL",
            ours["throughput"],
            raw["throughput"],
            ">= 0.25",
            "/s",
            notes=_outcome_note(ours) or _outcome_note(raw),
            details={
                "ours": ours,
                "reference": raw,
                "gunicorn": f"{servers.WEB_WORKERS}x{servers.WEB_THREADS} gthread",
            },
        ).judge(extra_ok=all_verified),
        _latency_row("1 write-off", "latency p50 (p99 in notes): full stack vs raw SQL", ours, raw),
        Row(
            "1 write-off",
            f"outbox lag < {OUTBOX_LAG_TARGET_S:g} s: oldest waiting event during the load "
            f"(sampled every 0.5 s, Celery -c {sz.worker_concurrency}) vs the target",
            outbox["max_lag_during_s"],
            OUTBOX_LAG_TARGET_S,
            "< 1",
            "s",
            notes=(
                f"p50 {outbox['p50_lag_during_s']} s; after the load max {outbox['max_lag_after_s']} s, "
                f"drained {drained_s} s after it; at most {outbox['max_waiting']} events waiting"
            ),
            details=outbox,
        ).judge(extra_ok=drained_s is not None and outbox["max_lag_after_s"] < OUTBOX_LAG_TARGET_S),
        Row(
            "1 write-off",
            f"informational: outbox events/s one sweep task drains from a backlog of {capacity.get('events')} "
            "(the reference's write-offs) vs the full stack's write-offs/s",
            capacity.get("events_per_s"),
            ours["throughput"],
            "",
            "/s",
            notes=f"{capacity.get('seconds')} s for the backlog, one worker process of {sz.worker_concurrency}",
            details=capacity,
        ).judge(),
        Row(
            "1 write-off",
            "informational: plain Django view + the same one statement, via gunicorn, vs raw SQL",
            view["throughput"],
            raw["throughput"],
            "",
            "/s",
            details={"view": view},
        ).judge(),
    ]


# --- 2. hot campaign: the service on one campaign vs spread over 64 -----------------------------


def service_writeoff(state: dict, code: str) -> str:
    """Load-generator target (scenario 2): one write-off through the service, no HTTP."""
    from backend.merchants.models import Terminal
    from backend.redemptions.services import redeem_coupon

    terminal = state.get("_terminal")
    if terminal is None:
        terminal = state["_terminal"] = Terminal.objects.select_related("merchant", "store").get(
            pk=state["terminal"]
        )
    redemption = redeem_coupon(
        terminal=terminal,
        code=code,
        order_amount=world.ORDER_AMOUNT,
        currency=world.CURRENCY,
        idempotency_key=uuid.uuid4().hex,
    )
    status = redemption.status.upper()
    return status if status == "VERIFIED" else f"{status}:{redemption.reason_code}"


def _service_job(ctx: Context, w: world.World, codes: list[list[str]]) -> dict:
    procs, threads = ctx.sizes.service_clients
    return {
        "mode": "service",
        "processes": procs,
        "threads": threads,
        "warmup": ctx.sizes.warmup,
        "target": "tests.bench.scenarios:service_writeoff",
        "clients": [
            {"items": items, "params": {"terminal": t.id}}
            for items, t in zip(codes, w.terminals, strict=True)
        ],
    }


def s2_hot_campaign(ctx: Context) -> list[Row]:
    sz = ctx.sizes
    n = sz.service_clients[0] * sz.service_clients[1]
    per_client = math.ceil(sz.hot_ops / n) + sz.warmup
    attempts = per_client * n
    spread = min(SPREAD_CAMPAIGNS, max(2, attempts // 20))
    per_spread = attempts // spread
    attempts_spread = per_spread * spread
    w = world.build(terminals=n)
    world.add_fans(w, attempts)
    # Caps at 90 % of the attempts: they run out near the end, so the run also proves them exact.
    hot_cap = int(attempts * 0.9)
    [(hot, hot_placement)] = world.add_campaigns(
        w, 1, max_redemptions=hot_cap, budget_cap=hot_cap * world.COST
    )
    hot_codes = world.issue_coupons(hot_placement, w.fan_ids[:attempts])
    spread_cap = int(per_spread * 0.9)
    spread_pairs = world.add_campaigns(
        w, spread, max_redemptions=spread_cap, budget_cap=spread_cap * world.COST
    )
    spread_codes: list[str] = []
    for _, placement in spread_pairs:
        spread_codes += world.issue_coupons(placement, w.fan_ids[:per_spread])
    random.shuffle(hot_codes)
    random.shuffle(spread_codes)
    ctx.log(
        f"  world: {n} clients, hot 1 campaign x {attempts} codes (cap {hot_cap}); "
        f"spread {spread} x {per_spread} (cap {spread_cap} each)"
    )
    queue = f"bench-s2-{w.tag}"
    try:
        with servers.celery_queue(queue):
            spread_result = servers.run_load(_service_job(ctx, w, _split(spread_codes, n)))
            ctx.log(
                f"  spread: {spread_result['throughput']}/s p50 {spread_result['p50_ms']} ms "
                f"{_outcome_note(spread_result)}"
            )
            hot_result = servers.run_load(_service_job(ctx, w, _split(hot_codes, n)))
            ctx.log(
                f"  hot: {hot_result['throughput']}/s p50 {hot_result['p50_ms']} ms "
                f"{_outcome_note(hot_result)}"
            )
    finally:
        servers.drop_queue(queue)
    hot_verified = invariants.verified_count([hot.pk])
    spread_verified = [invariants.verified_count([c.pk]) for c, _ in spread_pairs]
    caps_exact = hot_verified == hot_cap and all(v == spread_cap for v in spread_verified)
    note = (
        f"caps exact: hot {hot_verified}/{hot_cap} verified, "
        f"spread {min(spread_verified)}..{max(spread_verified)}"
        f"/{spread_cap} per campaign" + ("" if caps_exact else " -- NOT EXACT")
    )
    ctx.log(f"  {note}")
    return [
        Row(
            "2 hot campaign",
            f"write-offs/s through the service (no HTTP), {n} clients: 1 campaign vs {spread} campaigns",
            hot_result["throughput"],
            spread_result["throughput"],
            ">= 0.7",
            "/s",
            notes=note,
            details={"ours": hot_result, "reference": spread_result, "attempts": attempts_spread},
        ).judge(extra_ok=caps_exact),
        _latency_row(
            "2 hot campaign", "latency p50 (p99 in notes): hot vs spread", hot_result, spread_result
        ),
    ]


# --- 3. bulk issuance: IssuanceJob + Celery vs COPY of the same rows ----------------------------


def big_pool(ctx: Context, fans: int) -> world.World:
    """A publisher pool with ``fans`` fans, built once per run and shared by scenarios 3 and 6."""
    cached = ctx.cache.get("big_pool")
    if cached is not None and len(cached.fan_ids) >= fans:
        return cached
    started = time.perf_counter()
    w = world.build(terminals=0, stores=1)
    world.add_fans(w, fans)
    ctx.log(f"  pool of {fans} fans built in {time.perf_counter() - started:.1f} s")
    ctx.cache["big_pool"] = w
    return w


def chunk_timeline(job) -> dict[str, Any]:
    """When each chunk of a job finished, in seconds after the job started (slow-job forensics)."""
    from backend.coupons.models import IssuanceChunk

    done = IssuanceChunk.objects.filter(job=job).order_by("index").values_list("index", "done_at")
    start = job.started_at or job.created_at
    return {
        "created_to_started_s": round((start - job.created_at).total_seconds(), 3),
        "chunk_done_s": [round((d - start).total_seconds(), 2) if d else None for _, d in done],
    }


def _wait_job(job_id: int, timeout: float) -> Any:
    from backend.coupons.models import IssuanceJob

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = IssuanceJob.objects.get(pk=job_id)
        if job.status in (IssuanceJob.Status.SUCCEEDED, IssuanceJob.Status.FAILED):
            return job
        time.sleep(0.05)
    raise RuntimeError(f"issuance job {job_id} did not finish within {timeout} s")


def _start_issuance(w: world.World, placement) -> int:
    from backend.coupons.services import issuance_start

    return issuance_start(merchant=w.publisher, placement=placement).pk


def s3_issuance(ctx: Context) -> list[Row]:
    from backend.coupons.models import Coupon

    n = ctx.sizes.issuance
    w = big_pool(ctx, n)
    [(_, placement)] = world.add_campaigns(w, 1, quota=n)
    queue = f"bench-s3-{w.tag}"
    park_waiting_events()
    # The product's two workers (scripts/run): the default queue's and the issuance queue's.
    with (
        servers.celery_queue(queue),
        servers.CeleryWorker(queue=queue, concurrency=ctx.sizes.worker_concurrency),
        servers.CeleryWorker(queue=queue, concurrency=ctx.sizes.worker_concurrency, issuance=True) as worker,
    ):
        started = time.perf_counter()
        job = _wait_job(_start_issuance(w, placement), timeout=3600)
        ours_s = time.perf_counter() - started
    servers.drop_queue(queue)
    issued = Coupon.objects.filter(placement=placement).count()
    timeline = chunk_timeline(job)
    ctx.log(
        f"  ours: {job.status}, {issued} coupons in {ours_s:.2f} s ({issued / ours_s:,.0f}/s); {timeline}"
    )
    # The reference: the very rows ours wrote, taken out and loaded back with one COPY.
    columns = [f.column for f in Coupon._meta.concrete_fields if not f.primary_key]
    with connection.cursor() as cursor:
        import io

        buf = io.StringIO()
        cursor.cursor.copy_expert(
            f"COPY (SELECT {', '.join(columns)} FROM coupons_coupon "
            f"WHERE placement_id = {int(placement.pk)}) TO STDOUT",
            buf,
        )
        cursor.execute("DELETE FROM coupons_coupon WHERE placement_id = %s", [placement.pk])
        cursor.execute("VACUUM (ANALYZE) coupons_coupon")
    prepared = sql.PreparedCopy("coupons_coupon", ", ".join(columns), buf.getvalue(), issued)
    del buf
    conn = sql.connect(sql.connect_params(), autocommit=False)
    try:
        with conn.cursor() as cursor:
            started = time.perf_counter()
            prepared.run(cursor)
            conn.commit()
            ref_s = time.perf_counter() - started
    finally:
        conn.close()
    ctx.log(f"  COPY of the same {issued} rows: {ref_s:.2f} s ({issued / ref_s:,.0f}/s)")
    ok = job.status == "succeeded" and issued == n
    return [
        Row(
            "3 bulk issuance",
            f"coupons/s issuing {n:,} into one placement "
            f"(IssuanceJob, Celery -c {ctx.sizes.worker_concurrency}) "
            "vs COPY of the same rows",
            round(issued / ours_s, 1),
            round(issued / ref_s, 1),
            ">= 0.5",
            "/s",
            notes=f"ours {ours_s:.2f} s, COPY {ref_s:.2f} s"
            + ("" if ok else f"; job {job.status}, {issued}/{n}"),
            details={
                "ours_s": ours_s,
                "reference_s": ref_s,
                "job_status": job.status,
                "chunk_count": job.chunk_count,
                **timeline,
                "worker_log": worker.log.name,
            },
        ).judge(extra_ok=ok)
    ]


# --- 4. campaign funnel report vs the pure-SQL GROUP BY -----------------------------------------


REPORT_PROBE = "tests.bench.report_probe"

FUNNEL_REFERENCE_SQL = """
SELECT r.campaign_id, r.currency,
       count(*) FILTER (WHERE r.voided_at IS NULL) AS redeemed,
       count(*) FILTER (WHERE r.voided_at IS NOT NULL) AS voided,
       count(*) FILTER (WHERE r.voided_at IS NULL AND r.in_attribution_window) AS attributed,
       sum(r.order_amount) FILTER (WHERE r.voided_at IS NULL) AS gmv,
       sum(r.discount_amount) FILTER (WHERE r.voided_at IS NULL) AS discount,
       sum(r.fee_amount) FILTER (WHERE r.voided_at IS NULL AND r.in_attribution_window) AS fees,
       count(*) FILTER (WHERE r.voided_at IS NULL AND r.is_new_customer) AS new_customers,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.seconds_to_redeem) FILTER (WHERE r.voided_at IS NULL)
  FROM attribution_attributionrecord r
 WHERE r.issuer_id = %(m)s OR r.publisher_id = %(m)s
 GROUP BY r.campaign_id, r.currency
"""
FUNNEL_ISSUED_SQL = """
SELECT p.campaign_id, count(*) FROM coupons_coupon c JOIN campaigns_placement p ON p.id = c.placement_id
 WHERE p.issuer_id = %(m)s OR p.publisher_id = %(m)s GROUP BY p.campaign_id
"""


def _probe(merchant_id: int, repeats: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", REPORT_PROBE, str(merchant_id), str(repeats)],
        env=servers.child_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"report probe failed: {done.stderr[-3000:]}")
    import json

    return json.loads(done.stdout.strip().splitlines()[-1])


def s4_report(ctx: Context) -> list[Row]:
    from . import attribution_data

    n = ctx.sizes.report_records
    started = time.perf_counter()
    data = attribution_data.generate(records=n, campaigns=ctx.sizes.report_campaigns)
    ctx.cache["report_merchant"] = data.merchant_id
    ctx.log(f"  {n:,} attribution records generated in {time.perf_counter() - started:.1f} s ({data.source})")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) attribution_attributionrecord")
    # Warm the cache the same way for both, then time each best of N.
    ref_times = []
    conn = sql.connect(sql.connect_params())
    try:
        for _ in range(ctx.sizes.report_repeats):
            with conn.cursor() as cursor:
                started = time.perf_counter()
                cursor.execute(FUNNEL_REFERENCE_SQL, {"m": data.merchant_id})
                ref_rows = cursor.fetchall()
                cursor.execute(FUNNEL_ISSUED_SQL, {"m": data.merchant_id})
                cursor.fetchall()
                ref_times.append(time.perf_counter() - started)
    finally:
        conn.close()
    probe = _probe(data.merchant_id, ctx.sizes.report_repeats)
    ours_s, ref_s = min(probe["times_s"]), min(ref_times)
    ctx.log(
        f"  report {ours_s:.2f} s ({probe['rows']} rows, peak RSS {probe['peak_rss_mib']:.0f} MiB) "
        f"vs SQL {ref_s:.2f} s ({len(ref_rows)} rows)"
    )
    same = probe["redeemed_total"] == sum(r[2] for r in ref_rows)
    return [
        Row(
            "4 funnel report",
            f"seconds for the campaign funnel over {n:,} attribution records vs the pure-SQL GROUP BY",
            round(ours_s, 3),
            round(ref_s, 3),
            "<= 1.5",
            "s",
            notes=f"best of {ctx.sizes.report_repeats}; " + ("totals agree" if same else "TOTALS DIFFER"),
            details={"ours_times_s": probe["times_s"], "reference_times_s": ref_times, "rows": probe["rows"]},
        ).judge(extra_ok=same),
        Row(
            "4 funnel report",
            "peak RSS of the process running the report (MiB) vs the 2 GiB limit",
            round(probe["peak_rss_mib"], 1),
            2048.0,
            "<= 1.0",
            "MiB",
        ).judge(),
    ]


# --- 5. GraphQL list of 100 redemptions vs a plain Django JSON view -----------------------------


def list_world(ctx: Context, rows: int) -> tuple[world.World, str]:
    """An issuer with ``rows`` verified write-offs over 3 campaigns, and its API key."""
    from tests.factories.merchants import make_api_key

    w = world.build(terminals=1, stores=3)
    per = math.ceil(rows / 3)
    world.add_fans(w, per)
    codes: list[str] = []
    for _, placement in world.add_campaigns(w, 3):
        codes += world.issue_coupons(placement, w.fan_ids[:per])
    statement, _ = sql.writeoff_statement()
    t = w.terminals[0]
    with connection.cursor() as cursor:
        for code in codes[:rows]:
            cursor.execute(
                statement,
                {
                    "code": code,
                    "merchant": t.merchant_id,
                    "store": t.store_id,
                    "terminal": t.id,
                    "order_amount": world.ORDER_AMOUNT,
                    "currency": world.CURRENCY,
                    "key": uuid.uuid4().hex,
                    "fp": uuid.uuid4().hex,
                    "response": "{}",
                },
            )
    return w, make_api_key(w.issuer, "finance")


def count_list_queries(key: str, first: int) -> tuple[int, int]:
    """SQL queries (and rows returned) of one GraphQL redemptions list of ``first`` rows."""
    import json

    from django.db import connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    body = json.dumps({"query": _operation("pos_redemptions"), "variables": {"first": first}})

    def post():
        return client.post(
            "/graphql/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
        )

    post()  # the first use of a key also records last_used_at: not part of a list's cost
    with CaptureQueriesContext(connections["default"]) as captured:
        response = post()
    doc = response.json()
    assert not doc.get("errors"), doc
    return len(captured.captured_queries), len(doc["data"]["redemptions"]["edges"])


def s5_list(ctx: Context) -> list[Row]:
    sz = ctx.sizes
    w, key = list_world(ctx, max(sz.list_rows, 10) + 5)
    ctx.cache["list_key"] = key
    q10, n10 = count_list_queries(key, 10)
    q100, n100 = count_list_queries(key, sz.list_rows)
    ctx.log(f"  queries: {q10} for {n10} rows, {q100} for {n100} rows")
    procs, threads = sz.list_clients
    # ours, view, view, ours (as scenario 10): a drift of the machine during the runs (the
    # report's 10M rows just read, autovacuum) weighs on both sides alike.
    rounds = ("ours", "view", "view", "ours")
    per_client = math.ceil(sz.list_requests / (procs * threads) / (len(rounds) // 2)) + sz.warmup
    headers = {"Authorization": f"Bearer {key}"}
    queue = f"bench-s5-{w.tag}"
    with servers.Gunicorn(queue=queue) as web:
        base = {"processes": procs, "threads": threads, "warmup": sz.warmup, "headers": headers}
        jobs = {
            "ours": {
                **base,
                "mode": "graphql",
                "url": f"{web.url}/graphql/",
                "query": _operation("pos_redemptions"),
                "variables": {"first": sz.list_rows},
                "result_path": "data.redemptions.totalCount",
                "clients": [{"items": [{}] * per_client} for _ in range(procs * threads)],
            },
            "view": {
                **base,
                "mode": "get",
                "url": f"{web.url}/bench/redemptions/",
                "clients": [
                    {"items": [f"/bench/redemptions/?first={sz.list_rows}"] * per_client}
                    for _ in range(procs * threads)
                ],
            },
        }
        runs: dict[str, list[dict]] = {"ours": [], "view": []}
        for side in rounds:
            runs[side].append(servers.run_load(jobs[side]))
    ours, view = console.combine(runs["ours"]), console.combine(runs["view"])
    ctx.log(
        f"  GraphQL {ours['throughput']}/s p50 {ours['p50_ms']} ms; view {view['throughput']}/s "
        f"p50 {view['p50_ms']} ms"
    )
    ok = all(k.isdigit() for k in ours["outcomes"]) and set(view["outcomes"]) == {"OK"}
    return [
        Row(
            "5 redemptions list",
            f"requests/s, GraphQL list of {sz.list_rows} redemptions with campaign, store, placement "
            f"({procs * threads} clients) vs a plain Django JSON view",
            ours["throughput"],
            view["throughput"],
            ">= 0.4",
            "/s",
            notes=f"p50 {ours['p50_ms']} vs {view['p50_ms']} ms"
            + ("" if ok else f"; outcomes {ours['outcomes']}"),
            details={"ours": ours, "reference": view},
        ).judge(extra_ok=ok),
        Row(
            "5 redemptions list",
            f"SQL queries per request: {n100} rows vs {n10} rows",
            float(q100),
            float(q10),
            "== 1",
            "queries",
        ).judge(),
    ]


# --- 6. write-offs while a big issuance runs vs idle --------------------------------------------


def s6_writeoffs_during_issuance(ctx: Context) -> list[Row]:
    from backend.coupons.models import IssuanceJob

    sz = ctx.sizes
    n = sz.concurrent_issuance
    pool = big_pool(ctx, n)
    [(_, placement)] = world.add_campaigns(pool, 1, quota=n)
    per_client = sz.concurrent_codes_per_client
    campaigns = min(SPREAD_CAMPAIGNS, max(1, per_client * ctx.clients // 20))
    w, (idle_codes, busy_codes) = writeoff_world(ctx, per_client=per_client, sides=2, campaigns=campaigns)
    queue = f"bench-s6-{w.tag}"
    park_waiting_events()
    # Both phases run the product as scripts/run does: gunicorn and the default queue's worker
    # (the outbox of the write-offs, as in scenario 1); the busy phase adds the issuance worker.
    try:
        with (
            servers.celery_queue(queue),
            servers.Gunicorn(queue=queue) as web,
            servers.CeleryWorker(queue=queue, concurrency=sz.worker_concurrency),
        ):
            idle = servers.run_load(
                graphql_writeoff_job(ctx, web.url, w, idle_codes, duration=sz.concurrent_seconds)
            )
            ctx.log(f"  idle: {idle['throughput']}/s p50 {idle['p50_ms']} ms {_outcome_note(idle)}")
            with servers.CeleryWorker(queue=queue, concurrency=sz.worker_concurrency, issuance=True):
                job_id = _start_issuance(pool, placement)
                busy = servers.run_load(
                    graphql_writeoff_job(ctx, web.url, w, busy_codes, duration=sz.concurrent_seconds)
                )
                during = IssuanceJob.objects.get(pk=job_id)
                still_running = during.status in (IssuanceJob.Status.RUNNING, IssuanceJob.Status.PENDING)
                job = _wait_job(job_id, timeout=3600)
            ctx.log(
                f"  during issuance: {busy['throughput']}/s p50 {busy['p50_ms']} ms {_outcome_note(busy)}; "
                f"issuance {'still running' if still_running else 'had finished'} when the load ended "
                f"({during.issued:,} issued then); job {job.status}"
            )
    finally:
        servers.drop_queue(queue)
    overlap_ok = still_running and job.status == "succeeded"
    return [
        Row(
            "6 write-offs during issuance",
            f"write-offs/s (full stack, {ctx.clients} clients, {sz.concurrent_seconds:g} s) "
            f"while {n:,} coupons "
            f"are issued vs idle",
            busy["throughput"],
            idle["throughput"],
            ">= 0.7",
            "/s",
            notes=(
                f"p50 {busy['p50_ms']} vs {idle['p50_ms']} ms, p99 {busy['p99_ms']} vs {idle['p99_ms']} ms; "
                + (
                    "issuance overlapped the whole load"
                    if still_running
                    else "ISSUANCE ENDED BEFORE THE LOAD"
                )
                + f" ({during.issued:,} coupons issued during it)"
            ),
            details={"ours": busy, "reference": idle, "issued_during_load": during.issued},
        ).judge(extra_ok=overlap_ok),
    ]


# 7: write-offs whose ledger lines (3 each) are due to lock, per size (sizes.py is shared).
LOCK_WRITEOFFS = {"tiny": 2_000, "quick": 50_000, "full": 200_000}
LATEST_JSON = ROOT / "bench" / "results" / "latest.json"


def _writeoff_rate(ctx: Context) -> tuple[float | None, str]:
    """Scenario 1's full-stack write-off rate: from this run, else from the last full report."""
    if "writeoff_rate" in ctx.cache:
        return ctx.cache["writeoff_rate"], "scenario 1 of this run"
    try:
        import json

        for row in json.loads(LATEST_JSON.read_text())["rows"]:
            if row["scenario"].startswith("1 ") and row["metric"].startswith("write-offs/s"):
                return float(row["ours"]), "scenario 1 of bench/results/latest.json"
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None, "no write-off rate known"


def due_ledger(n: int) -> dict[str, Any]:
    """``n`` attributed write-offs with a pending charge (3 lines each) whose void window passed."""
    from attribution import bench_data
    from backend.merchants.models import Merchant
    from billing import services as billing_services

    from .attribution_data import SLUG_PREFIX

    network = bench_data.generate(n, issuers=4, publishers=8, campaigns_per_issuer=2, fans=1000, days=60)
    issuers = [m.pk for m in network.issuers]
    # Synthetic rows (not through the write-off path): the outbox invariants leave them out.
    for merchant in [*network.issuers, *network.publishers]:
        Merchant.objects.filter(pk=merchant.pk).update(slug=f"{SLUG_PREFIX}lock-{merchant.slug}"[:64])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT issuer_id, publisher_id, currency FROM attribution_attributionrecord "
            "WHERE issuer_id = ANY(%s)",
            [issuers],
        )
        for issuer_id, publisher_id, currency in cursor.fetchall():
            billing_services.account_for(merchant_id=issuer_id, kind="issuer_receivable", currency=currency)
            billing_services.account_for(
                merchant_id=publisher_id, kind="publisher_payable", currency=currency
            )
            billing_services.account_for(merchant_id=None, kind="platform_revenue", currency=currency)
        cursor.execute(
            """
            INSERT INTO billing_posting (kind, redemption_id, issuer_id, publisher_id, campaign_id, currency,
                                         fee_amount, occurred_at, reason, created_at)
            SELECT 'charge', a.redemption_id, a.issuer_id, a.publisher_id, a.campaign_id, a.currency,
                   greatest(a.fee_amount, 2), a.redeemed_at, '', now()
            FROM attribution_attributionrecord a WHERE a.issuer_id = ANY(%s)
            """,
            [issuers],
        )
        cursor.execute(
            """
            INSERT INTO billing_ledgerentry (posting_id, account_id, merchant_id, issuer_id, account_kind,
                                             amount, currency, state, lock_after, created_at)
            SELECT p.id, acc.id, v.mid, p.issuer_id, v.kind, v.amount, p.currency, 'pending',
                   p.occurred_at, now()
            FROM billing_posting p
            CROSS JOIN LATERAL (VALUES ('issuer_receivable', p.issuer_id, p.fee_amount),
                                       ('publisher_payable', p.publisher_id, -(p.fee_amount / 2)),
                                       ('platform_revenue', NULL::bigint, -(p.fee_amount - p.fee_amount / 2))
                               ) AS v(kind, mid, amount)
            JOIN billing_ledgeraccount acc ON acc.kind = v.kind AND acc.currency = p.currency
                 AND acc.merchant_id IS NOT DISTINCT FROM v.mid
            WHERE p.issuer_id = ANY(%s)
            """,
            [issuers],
        )
        cursor.execute("ANALYZE billing_ledgerentry")
    return {"issuers": issuers, "lines": 3 * n}


def s7_ledger_lock(ctx: Context) -> list[Row]:
    """Locking keeps up: write-offs locked per second (every due line, batches of their own
    transactions) against the write-off path's own rate (target: at least 10x)."""
    from billing import services as billing_services
    from billing.models import LedgerEntry

    n = LOCK_WRITEOFFS[ctx.sizes.name]
    ctx.log(f"   building {n:,} write-offs with due ledger lines")
    built = due_ledger(n)
    t0 = time.perf_counter()
    locked = billing_services.lock_due_entries(now=timezone.now())
    seconds = time.perf_counter() - t0
    left = LedgerEntry.objects.filter(issuer_id__in=built["issuers"], state="pending").count()
    rate = locked / 3 / seconds if seconds else None
    writeoff_rate, source = _writeoff_rate(ctx)
    return [
        Row(
            "7 ledger lock",
            f"write-offs locked/s ({n:,} write-offs, 3 lines each, batches of "
            f"{billing_services.LOCK_BATCH_SIZE:,} lines) vs the full-stack write-off rate",
            rate,
            writeoff_rate,
            ">= 10",
            unit="/s",
            notes=f"{locked:,} lines in {seconds:.2f} s; {left} left pending; reference: {source}",
            details={"lines": locked, "seconds": seconds, "left_pending": left},
            # lock_due_entries takes every due line of the database: this run's earlier write-offs
            # (scenarios 1, 2, 6) add theirs to the built ones.
        ).judge(extra_ok=left == 0 and locked >= built["lines"]),
    ]


SCENARIOS: dict[int, Callable[[Context], list[Row]]] = {
    1: s1_writeoff,
    2: s2_hot_campaign,
    3: s3_issuance,
    4: s4_report,
    5: s5_list,
    6: s6_writeoffs_during_issuance,
    7: s7_ledger_lock,
    8: claims.s8_claims,
    9: attacks.s9_attacks,
    10: console.s10_console,
}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def now_iso() -> str:
    return timezone.now().isoformat(timespec="seconds")
