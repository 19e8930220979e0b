"""Scenario 9: the probe's unbounded requests (issue 10) against a real gunicorn.

Each attack is sent ``ATTACK_REPEATS`` times and must be refused (its code checked) in
under 1 s at p99; then a legitimate ``{ me { name } }`` is timed while 8 clients send
fragment bombs as fast as they can. The documents are built here and reused by the
suite's slow test (tests/e2e/test_api_limits.py), which asserts the codes only.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

ATTACK_REPEATS = 30
WARMUP = 4
LEGIT_REQUESTS = 40
BOMBERS = 8


def fragment_bomb(levels: int = 20) -> str:
    """2^levels spreads of ``me`` in a few hundred bytes: each fragment spreads the previous twice."""
    parts = [f"query Bomb {{ ...F{levels} }}", "fragment F0 on Query { me { id } }"]
    parts += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)]
    return "\n".join(parts)


def aliases_of_a_list(count: int = 1000) -> str:
    return (
        "{ "
        + " ".join(f'a{i}: poolMembers(poolId: "x", first: 500) {{ totalCount }}' for i in range(count))
        + " }"
    )


def many_fields(count: int = 10_000) -> str:
    return "{ me { " + "id " * count + "} }"


def many_operations(count: int = 5000) -> str:
    return " ".join(f"query Q{i} {{ me {{ id }} }}" for i in range(count))


ISSUANCE_START = (
    "mutation S($input: IssuanceStartInput!) { issuanceStart(input: $input) { errors { code } } }"
)


def oversized_fan_ids(count: int = 100_000) -> dict:
    return {
        "query": ISSUANCE_START,
        "variables": {"input": {"placementId": "x", "fanIds": [f"RmFu{i}" for i in range(count)]}},
    }


@dataclass(frozen=True)
class Attack:
    name: str
    body: dict
    authenticated: bool
    expected: str  # the error code the refusal must carry


def attacks() -> list[Attack]:
    return [
        Attack(
            "fragment bomb (2^20 spreads), no credentials",
            {"query": fragment_bomb()},
            False,
            "UNAUTHENTICATED",
        ),
        Attack(
            "fragment bomb (2^20 spreads), API key", {"query": fragment_bomb()}, True, "QUERY_TOO_COMPLEX"
        ),
        Attack(
            "1,000 aliases of poolMembers(first: 500)",
            {"query": aliases_of_a_list()},
            True,
            "QUERY_TOO_COMPLEX",
        ),
        Attack("10,000 fields", {"query": many_fields()}, True, "QUERY_TOO_COMPLEX"),
        Attack("5,000 operations", {"query": many_operations()}, True, "QUERY_TOO_COMPLEX"),
        Attack("issuanceStart with 100,000 fanIds", oversized_fan_ids(), True, "QUERY_TOO_COMPLEX"),
    ]


def post(session: requests.Session, url: str, body: bytes, key: str | None) -> tuple[float, int, list[str]]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    t0 = time.perf_counter()
    response = session.post(url, data=body, headers=headers, timeout=120)
    elapsed = time.perf_counter() - t0
    try:
        codes = [e.get("extensions", {}).get("code") for e in response.json().get("errors") or []]
    except ValueError:
        codes = ["NOT_JSON"]
    return elapsed, response.status_code, codes


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def measure_attack(url: str, key: str, attack: Attack, repeats: int = ATTACK_REPEATS) -> dict:
    body = json.dumps(attack.body).encode()
    times, wrong = [], []
    with requests.Session() as session:
        for _ in range(WARMUP):  # unmeasured: the first request of a worker loads the schema
            post(session, url, body, key if attack.authenticated else None)
        for _ in range(repeats):
            elapsed, status, codes = post(session, url, body, key if attack.authenticated else None)
            times.append(elapsed)
            if codes != [attack.expected]:
                wrong.append((status, codes))
    return {
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "p99_ms": round(p99(times) * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
        "bytes": len(body),
        "wrong_answers": wrong[:3],
        "refused": not wrong,
    }


def legit_during_bombs(
    url: str, key: str, *, bombers: int = BOMBERS, requests_: int = LEGIT_REQUESTS, pause: float = 0.05
) -> dict:
    """``{ me { name } }`` timed while ``bombers`` clients (half without credentials) send bombs."""
    stop = threading.Event()
    bomb = json.dumps({"query": fragment_bomb()}).encode()
    bombs_sent = [0] * bombers

    def bomber(i: int) -> None:
        with requests.Session() as session:
            while not stop.is_set():
                post(session, url, bomb, key if i % 2 else None)
                bombs_sent[i] += 1

    threads = [threading.Thread(target=bomber, args=(i,), daemon=True) for i in range(bombers)]
    for t in threads:
        t.start()
    time.sleep(0.5)  # the bombers are going
    legit = json.dumps({"query": "{ me { name } }"}).encode()
    times, failures = [], []
    try:
        with requests.Session() as session:
            for _ in range(requests_):
                elapsed, status, codes = post(session, url, legit, key)
                times.append(elapsed)
                if status != 200 or codes:
                    failures.append((status, codes))
                time.sleep(pause)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    return {
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "p99_ms": round(p99(times) * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
        "failures": failures[:3],
        "answered": not failures,
        "bombs_sent": sum(bombs_sent),
    }


def s9_attacks(ctx) -> list:
    """Rows for scripts/bench: each refusal's p99 and the legitimate request's, against 1 s."""
    from tests.bench import scenarios, servers, world
    from tests.factories.merchants import make_api_key

    Row: Callable = scenarios.Row
    tag = world.new_tag()
    key = make_api_key(world.merchant(tag, "attacked"), "admin")
    queue = f"bench-s7-{tag}"
    rows = []
    with servers.Gunicorn(queue=queue) as web:
        url = f"{web.url}/graphql/"
        for attack in attacks():
            result = measure_attack(url, key, attack)
            ctx.log(f"  {attack.name}: p99 {result['p99_ms']} ms, refused {result['refused']}")
            rows.append(
                Row(
                    "9 bounded requests",
                    f"p99 ms to refuse: {attack.name} ({result['bytes']:,} bytes, {ATTACK_REPEATS} times) vs 1 s",
                    result["p99_ms"],
                    1000.0,
                    "<= 1",
                    "ms",
                    notes=f"p50 {result['p50_ms']} ms; answered {attack.expected}"
                    + ("" if result["refused"] else f"; WRONG ANSWERS {result['wrong_answers']}"),
                    details=result,
                ).judge(extra_ok=result["refused"])
            )
        legit = legit_during_bombs(url, key)
        ctx.log(
            f"  legit during {BOMBERS} bombers: p99 {legit['p99_ms']} ms, {legit['bombs_sent']} bombs sent"
        )
        rows.append(
            Row(
                "9 bounded requests",
                f"p99 ms of {{ me {{ name }} }} while {BOMBERS} clients send fragment bombs vs 1 s",
                legit["p99_ms"],
                1000.0,
                "<= 1",
                "ms",
                notes=f"p50 {legit['p50_ms']} ms, max {legit['max_ms']} ms; {legit['bombs_sent']} bombs refused meanwhile"
                + ("" if legit["answered"] else f"; FAILURES {legit['failures']}"),
                details=legit,
            ).judge(extra_ok=legit["answered"])
        )
    servers.drop_queue(queue)
    return rows
