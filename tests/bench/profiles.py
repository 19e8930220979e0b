"""Where the time goes when a target is missed: profiles written next to the results.

    scripts/bench --only 1 --profile      # profile-1.txt beside latest.md

- 1, 6 (write-off): N signed redeemCoupon requests through Django's whole request stack in
  this process, under pyinstrument (wall clock, call tree) and cProfile (CPU by layer:
  GraphQL parse, validation, execution, terminal authentication, SQL round trips).
- 2 (hot campaign): the service alone under pyinstrument.
- 4 (report): EXPLAIN (ANALYZE, BUFFERS) of the report's statement and of the reference.
- 5 (list): the GraphQL list under pyinstrument.
"""

from __future__ import annotations

import contextlib
import cProfile
import importlib
import io
import json
import pstats
import time
import uuid
from pathlib import Path

from django.db import connection, transaction
from django.test import Client, override_settings

from . import scenarios, world

# Functions that mark a layer of the write-off: (module, attribute, label).
LAYERS = [
    ("backend.api.cost", "parse_bounded", "GraphQL parse (once per query text: cached)"),
    ("backend.gateway.view", "validate", "GraphQL validation (once per query text: cached)"),
    ("backend.gateway.view", "execute", "GraphQL execution (resolvers + service)"),
    ("backend.redemptions.services", "redeem_coupon", "  of which the write-off service"),
    ("backend.gateway.view", "authenticate_terminal", "terminal authentication (signature, nonce)"),
]


@contextlib.contextmanager
def layer_clock():
    """Wrap each layer's entry point to add up its thread CPU time and wall time (low overhead,
    unlike cProfile's per-call timer); SQL time is taken by a connection execute wrapper."""
    totals: dict[str, list[float]] = {label: [0.0, 0.0] for *_, label in LAYERS}
    totals["SQL statements (wall: round trips)"] = [0.0, 0.0]
    saved = []

    def timed(func, label):
        def wrapper(*args, **kwargs):
            c, w = time.thread_time(), time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                totals[label][0] += time.thread_time() - c
                totals[label][1] += time.perf_counter() - w

        return wrapper

    def sql_wrapper(execute, sql, params, many, context):
        c, w = time.thread_time(), time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            totals["SQL statements (wall: round trips)"][0] += time.thread_time() - c
            totals["SQL statements (wall: round trips)"][1] += time.perf_counter() - w

    for module_name, attr, label in LAYERS:
        module = importlib.import_module(module_name)
        original = getattr(module, attr)
        saved.append((module, attr, original))
        setattr(module, attr, timed(original, label))
    try:
        with connection.execute_wrapper(sql_wrapper):
            yield totals
    finally:
        for module, attr, original in saved:
            setattr(module, attr, original)


def _signed_writeoffs(count: int):
    from tests.client import terminal_headers

    w = world.build(terminals=1)
    world.add_fans(w, count)
    [(_, placement)] = world.add_campaigns(w, 1)
    codes = world.issue_coupons(placement, w.fan_ids[:count])
    t = w.terminals[0]
    query = scenarios._operation("pos_redeem_coupon")
    client = Client()

    def one(code: str) -> None:
        variables = {"code": code, "orderAmount": 3000, "currency": "CNY", "idempotencyKey": uuid.uuid4().hex}
        body = json.dumps({"query": query, "variables": variables}).encode()
        meta = {
            f"HTTP_{k.upper().replace('-', '_')}": v
            for k, v in terminal_headers(t.uid, t.secret, body).items()
        }
        response = client.post("/graphql/", body, content_type="application/json", **meta)
        assert response.json()["data"]["redeemCoupon"]["redemption"]["status"] == "VERIFIED", response.content

    return codes, one


def profile_writeoff(count: int = 300) -> str:
    from pyinstrument import Profiler

    codes, one = _signed_writeoffs(count * 2 + 40)
    codes = iter(codes)
    for _ in range(20):  # warm: schema, connections, caches
        one(next(codes))
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(count):
        one(next(codes))
    profiler.stop()
    with layer_clock() as totals:
        c, w, p = time.thread_time(), time.perf_counter(), time.process_time()
        for _ in range(count):
            one(next(codes))
        whole = (time.thread_time() - c, time.perf_counter() - w)
        time.sleep(1)  # let the outbox publisher thread drain its queue
        others = (time.process_time() - p - whole[0], 0.0)
    layers = ["Per request, by layer (thread CPU / wall):"]
    rows = [
        *totals.items(),
        ("whole request (Django test client)", whole),
        ("other threads (outbox publisher: Celery publish)", others),
    ]
    for label, (cpu, wall) in rows:
        layers.append(f"  {label:<45} {cpu / count * 1000:7.2f} ms CPU  {wall / count * 1000:7.2f} ms wall")
    cpu = cProfile.Profile()
    cpu.enable()
    for _ in range(20):
        one(next(codes))
    cpu.disable()
    calls = sum(v[1] for v in pstats.Stats(cpu, stream=io.StringIO()).stats.values()) / 20
    layers.append("")
    lines = [
        f"Write-off: {count} signed redeemCoupon requests through Django's request stack (no HTTP server).",
        f"{calls:,.0f} Python function calls per request (cProfile).",
        "",
        *layers,
        "pyinstrument (wall clock):",
        profiler.output_text(unicode=False, color=False),
    ]
    return "\n".join(lines)


def profile_service(count: int = 300) -> str:
    from pyinstrument import Profiler

    w = world.build(terminals=1)
    world.add_fans(w, count + 20)
    [(_, placement)] = world.add_campaigns(
        w, 1, max_redemptions=10 * count, budget_cap=10 * count * world.COST
    )
    codes = world.issue_coupons(placement, w.fan_ids)
    state = {"terminal": w.terminals[0].id}
    for code in codes[:20]:
        scenarios.service_writeoff(state, code)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for code in codes[20:]:
        scenarios.service_writeoff(state, code)
    profiler.stop()
    return f"The write-off service, {count} calls on one campaign, one client:\n\n" + profiler.output_text(
        unicode=False, color=False
    )


def profile_report(merchant_id: int) -> str:
    from attribution.reports import Dimension, ReportFilters, build_report, report_statement
    from backend.merchants.models import Merchant

    merchant = Merchant.objects.get(pk=merchant_id)
    ours, params = report_statement(merchant=merchant, dimension=Dimension.CAMPAIGN, filters=ReportFilters())
    out = ["Timings of the report's statement (seconds):"]
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(ours, params)
        cursor.fetchall()
        out.append(
            f"  on a plain cursor, as report_chunks runs it       {time.perf_counter() - started:7.2f}"
        )
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(ours, params)
        cursor.fetchall()
        out.append(
            f"  on a server-side cursor (never parallel)          {time.perf_counter() - started:7.2f}"
        )
    started = time.perf_counter()
    build_report(merchant=merchant, dimension=Dimension.CAMPAIGN, filters=ReportFilters())
    out += [f"  build_report (visible currencies, then the above){time.perf_counter() - started:7.2f}", ""]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN DECLARE bench_report NO SCROLL CURSOR WITH HOLD FOR " + ours, params)
        out += ["== the plan PostgreSQL picks for the cursor (no Gather: cursors never run parallel)"]
        out += [row[0] for row in cursor.fetchall()] + [""]
    with connection.cursor() as cursor:
        for label, statement, args in (
            ("the report's statement (attribution.reports.report_statement)", ours, params),
            ("the reference GROUP BY", scenarios.FUNNEL_REFERENCE_SQL, {"m": merchant_id}),
            ("the reference's issued count", scenarios.FUNNEL_ISSUED_SQL, {"m": merchant_id}),
        ):
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, args)
            out += [f"== {label}", *(row[0] for row in cursor.fetchall()), ""]
    return "\n".join(out)


def profile_list(key: str, first: int = 100, count: int = 100) -> str:
    from pyinstrument import Profiler

    client = Client()
    body = json.dumps({"query": scenarios._operation("pos_redemptions"), "variables": {"first": first}})

    def one():
        return client.post(
            "/graphql/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
        )

    for _ in range(5):
        one()
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(count):
        one()
    profiler.stop()
    return f"GraphQL redemptions list of {first} rows, {count} requests:\n\n" + profiler.output_text(
        unicode=False, color=False
    )


def unthrottled():
    """The abuse limits the bench's servers run with (see servers.child_env), in this process."""
    return override_settings(POS_MAX_WRITEOFFS_PER_MINUTE=10**9, POS_MAX_REJECTIONS=10**9)


def write(out: Path, number: int, text: str) -> Path:
    path = out / f"profile-{number}.txt"
    path.write_text(text)
    return path
