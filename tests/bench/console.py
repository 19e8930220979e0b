"""Scenario 10 ("console"): the console's campaign list page against the same operation over HTTP.

Ours: ``GET /console/campaigns/`` through gunicorn as a signed-in member (session cookie): the
session and the membership are read, ``campaigns_list`` runs in-process as the member, and
the page's HTML is rendered. Reference: the same documented operation (``campaigns_list``,
the same 50 rows) posted to ``/graphql/`` with an API key of the same role and merchant. The
ratio says what the console adds to the API it speaks (issue 13: >= 0.8 x).
"""

from __future__ import annotations

import math

from django.test import Client

from . import servers, world

CAMPAIGNS = 60  # more than a page: the page and the operation both read 50
PAGE_SIZE = 50
ROUNDS = ("page", "api", "api", "page")


def combine(results: list[dict]) -> dict:
    """One side's runs as one: requests over the runs' summed time; latencies of the runs'
    pooled medians (the mean of their p50 and p99, each run having the same request count)."""
    ops = sum(r["ops"] for r in results)
    elapsed = sum(r["elapsed_s"] for r in results)
    outcomes: dict[str, int] = {}
    for r in results:
        for outcome, count in r["outcomes"].items():
            outcomes[outcome] = outcomes.get(outcome, 0) + count
    return {
        "runs": results,
        "ops": ops,
        "elapsed_s": round(elapsed, 4),
        "throughput": round(ops / elapsed, 2) if elapsed else 0.0,
        "p50_ms": round(sum(r["p50_ms"] for r in results) / len(results), 2),
        "p99_ms": round(sum(r["p99_ms"] for r in results) / len(results), 2),
        "outcomes": outcomes,
    }


def console_world() -> tuple[str, str, int]:
    """A merchant with CAMPAIGNS campaigns; a brand member's session id and a brand API key."""
    from django.conf import settings

    from tests.factories import CampaignFactory, MerchantFactory, make_api_key, make_member

    tag = world.new_tag()
    merchant = MerchantFactory(name=f"Console bench {tag}", slug=f"console-bench-{tag}")
    for n in range(CAMPAIGNS):
        CampaignFactory(merchant=merchant, name=f"Campaign {n:03d}")
    member = make_member(merchant, "brand", email=f"console-bench-{tag}@example.com")
    client = Client()
    client.force_login(member.user)
    session_id = client.cookies[settings.SESSION_COOKIE_NAME].value
    return session_id, make_api_key(merchant, "brand"), merchant.pk


def s10_console(ctx):
    from django.conf import settings

    from .scenarios import Row, _operation

    sz = ctx.sizes
    session_id, key, _merchant_id = console_world()
    procs, threads = sz.list_clients
    per_run = math.ceil(sz.list_requests / (procs * threads) / (len(ROUNDS) // 2)) + sz.warmup
    base = {"processes": procs, "threads": threads, "warmup": sz.warmup}
    queue = f"bench-s10-{session_id[:8]}"
    try:
        with servers.Gunicorn(queue=queue) as web:
            page_job = {
                **base,
                "mode": "get",
                "url": f"{web.url}/console/campaigns/",
                "headers": {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session_id}"},
                "clients": [{"items": ["/console/campaigns/"] * per_run} for _ in range(procs * threads)],
            }
            api_job = {
                **base,
                "mode": "graphql",
                "url": f"{web.url}/graphql/",
                "headers": {"Authorization": f"Bearer {key}"},
                "query": _operation("campaigns_list"),
                "variables": {"first": PAGE_SIZE},
                "result_path": "data.campaigns.totalCount",
                "clients": [{"items": [{}] * per_run} for _ in range(procs * threads)],
            }
            # page, API, API, page: a drift of the machine during the runs (a checkpoint, the
            # vacuum of an earlier scenario's tables) weighs on both sides alike.
            runs = {"page": [], "api": []}
            for side in ROUNDS:
                runs[side].append(servers.run_load(page_job if side == "page" else api_job))
            page, api = combine(runs["page"]), combine(runs["api"])
    finally:
        servers.drop_queue(queue)
    ctx.log(
        f"  console page {page['throughput']}/s p50 {page['p50_ms']} ms; GraphQL {api['throughput']}/s "
        f"p50 {api['p50_ms']} ms"
    )
    ok = set(page["outcomes"]) == {"OK"} and set(api["outcomes"]) == {str(CAMPAIGNS)}
    return [
        Row(
            "10 console",
            f"requests/s, the console's campaign list page ({PAGE_SIZE} rows, signed-in session, HTML) "
            f"vs the same campaigns_list operation over HTTP with an API key ({procs * threads} clients)",
            page["throughput"],
            api["throughput"],
            ">= 0.8",
            "/s",
            notes=f"p50 {page['p50_ms']} vs {api['p50_ms']} ms"
            + ("" if ok else f"; outcomes {page['outcomes']} / {api['outcomes']}"),
            details={"ours": page, "reference": api},
        ).judge(extra_ok=ok)
    ]
