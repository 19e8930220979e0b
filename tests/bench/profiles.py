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

import cProfile
import io
import json
import pstats
import time
import uuid
from pathlib import Path

from django.db import connection
from django.test import Client, override_settings

from . import scenarios, world

# cProfile entries that mark a layer of the write-off, by (file suffix, function name).
LAYERS = {
    "GraphQL parse": ("graphql/language/parser.py", "parse"),
    "GraphQL validation": ("graphql/validation/validate.py", "validate"),
    "GraphQL execution (resolvers, service)": ("graphql/execution/execute.py", "execute"),
    "  of which the write-off service": ("backend/redemptions/services.py", "redeem_coupon"),
    "terminal authentication (signature, nonce)": (
        "backend/merchants/authentication.py",
        "authenticate_terminal",
    ),
    "SQL round trips (psycopg2 execute)": ("~", "<method 'execute' of 'psycopg2.extensions.cursor' objects>"),
    "whole request (Django test client)": ("django/test/client.py", "request"),
}


def _layers(stats: pstats.Stats, requests: int) -> list[str]:
    out = []
    for label, (suffix, name) in LAYERS.items():
        total = sum(
            v[3]
            for (file, _, func), v in stats.stats.items()
            if func == name and (file.endswith(suffix) or suffix == "~")
        )
        out.append(f"  {label:<45} {total / requests * 1000:8.2f} ms per request")
    return out


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

    codes, one = _signed_writeoffs(count * 3 + 20)
    codes = iter(codes)
    for _ in range(20):  # warm: schema, connections, caches
        one(next(codes))
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(count):
        one(next(codes))
    profiler.stop()
    layers = []
    for label, timer in (("wall clock", time.perf_counter), ("CPU of this process", time.process_time)):
        cpu = cProfile.Profile(timer)
        cpu.enable()
        for _ in range(count):
            one(next(codes))
        cpu.disable()
        stats = pstats.Stats(cpu, stream=io.StringIO())
        calls = sum(v[1] for v in stats.stats.values())
        layers += [f"cProfile, {label} (cProfile inflates Python time ~2x):", *_layers(stats, count), ""]
    lines = [
        f"Write-off: {count} signed redeemCoupon requests through Django's request stack (no HTTP server).",
        f"{calls / count:,.0f} Python function calls per request.",
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
    from attribution.reports import Dimension, ReportFilters, report_sql
    from backend.merchants.models import Merchant

    merchant = Merchant.objects.get(pk=merchant_id)
    ours, params = report_sql(merchant=merchant, dimension=Dimension.CAMPAIGN, filters=ReportFilters())
    out = []
    with connection.cursor() as cursor:
        for label, statement, args in (
            ("the report's statement (attribution.reports.report_sql)", ours, params),
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
