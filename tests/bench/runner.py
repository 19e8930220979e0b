"""``scripts/bench``: run the scenarios, print one table, write bench/results/latest.{json,md}.

    python -m tests.bench [--quick | --full | --tiny] [--only N[,M]] [--fresh] [--out DIR]

Every scenario measures ours and its physical reference in the same run, on the same
database. After the scenarios, the write-off path's invariants are checked on the whole
database and printed; a violated invariant makes the exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "bench" / "results"

# Tables the benchmark may empty with --fresh (its own database only): business data, not schema.
FRESH_APPS = (
    "merchants",
    "audience",
    "campaigns",
    "coupons",
    "redemptions",
    "outbox",
    "attribution",
    "billing",
)


def machine() -> dict:
    from django.db import connection

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        pg = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
        cursor.execute("SHOW synchronous_commit")
        sync_commit = cursor.fetchone()[0]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "nproc": os.cpu_count(),
        "memory_gib": mem_gib,
        "cpu": cpu,
        "postgresql": pg.split(" on ")[0],
        "postgresql_settings": {"shared_buffers": shared_buffers, "synchronous_commit": sync_commit},
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
        "git_commit": commit,
    }


def fresh(log) -> None:
    from django.apps import apps
    from django.db import connection

    name = connection.settings_dict["NAME"]
    if "bench" not in name:
        raise SystemExit(
            f"--fresh empties tables: refusing on database {name!r} (its name must contain 'bench')"
        )
    tables = [
        m._meta.db_table
        for label in FRESH_APPS
        for m in apps.get_app_config(label).get_models(include_auto_created=True)
        if not m._meta.proxy and m._meta.managed
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        cursor.execute("VACUUM ANALYZE")
    log(f"emptied {len(tables)} tables of {name}")


def fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value >= 100:
        return f"{value:,.0f}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def table(rows: list[dict]) -> str:
    head = ["scenario", "metric", "ours", "reference", "ratio", "target", "met"]
    lines = [
        [
            r["scenario"],
            r["metric"] if len(r["metric"]) <= 70 else r["metric"][:67] + "...",
            fmt(r["ours"]) + (f" {r['unit']}" if r["ours"] is not None and r["unit"] else ""),
            fmt(r["reference"]) + (f" {r['unit']}" if r["reference"] is not None and r["unit"] else ""),
            fmt(r["ratio"]),
            r["target"] or "(info)",
            {True: "yes", False: "NO", None: "-"}[r["met"]],
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=True)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    return "\n".join(out)


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Run {result['started_at']} ({result['size']} sizes, {result['duration_s']:.0f} s), "
        f"commit {m['git_commit']}.",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gib']} GiB memory, {m['postgresql']} "
        f"(shared_buffers {m['postgresql_settings']['shared_buffers']}, synchronous_commit "
        f"{m['postgresql_settings']['synchronous_commit']}), Python {m['python']}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in m['load_average_at_start'])}. Server, database and load generator "
        "share the same cores.",
        "",
        "| scenario | metric | ours | reference | ratio | target | met | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        unit = f" {r['unit']}" if r["unit"] else ""
        lines.append(
            f"| {r['scenario']} | {r['metric']} | {fmt(r['ours'])}{unit if r['ours'] is not None else ''} | "
            f"{fmt(r['reference'])}{unit if r['reference'] is not None else ''} | {fmt(r['ratio'])} | "
            f"{r['target'] or '(info)'} | {({True: 'yes', False: '**no**', None: '-'})[r['met']]} | "
            f"{r['notes'].replace('|', '/')} |"
        )
    if result["errors"]:
        lines += ["", "## Scenarios that failed to run", ""]
        lines += [f"- {k}: `{v.strip().splitlines()[-1]}`" for k, v in result["errors"].items()]
    if result.get("profiles"):
        lines += ["", "## Profiles of missed targets", ""]
        lines += [f"- scenario {k}: `{v}`" for k, v in result["profiles"].items()]
    lines += ["", "## Invariants at the end of the run", ""]
    lines += [
        f"- {'ok' if c['violations'] == 0 else 'VIOLATED'}: {c['name']} ({c['violations']} violations)"
        for c in result["invariants"]
    ]
    lines += [
        "",
        "References: 1 = the same write-off as one SQL statement from raw psycopg2, same clients; "
        "2 = the same service load spread over many campaigns; 3 = one COPY of the very rows the "
        "issuance wrote (deleted and vacuumed first); 4 = the equivalent GROUP BY from raw psycopg2; "
        "5 = a plain Django view returning the same JSON (tests/bench/views.py); 6 = the same write-off "
        "load with nothing else running. Details per scenario (latencies, outcomes) are in latest.json.",
        "",
    ]
    return "\n".join(lines)


SETTLE_TIMEOUT_S = 180


def settle(log, *, timeout: float = SETTLE_TIMEOUT_S) -> float:
    """Wait until no autovacuum worker runs in this database (at most ``timeout`` s); the
    seconds waited. An earlier scenario's writes (a million coupons, 600,000 ledger lines)
    set autovacuum going on their tables; a scenario measured meanwhile shares the cores
    with it, and its alternating sides do not see the same share."""
    from django.db import connection

    t0 = time.monotonic()
    tables = ""
    while time.monotonic() - t0 < timeout:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT string_agg(DISTINCT regexp_replace(query, '^autovacuum: ', ''), '; ') "
                "FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND datname = current_database()"
            )
            running = cursor.fetchone()[0]
        if not running:
            break
        tables = running
        time.sleep(1)
    waited = time.monotonic() - t0
    if tables:
        log(f"   (waited {waited:.1f} s for autovacuum: {tables[:200]})")
    return waited


def run_profiles(ctx, rows: list[dict], out: Path, log, *, every: bool = False) -> dict[str, str]:
    """Profile every scenario with a missed target (or every one run, ``every``);
    {scenario number: profile file}."""
    from . import profiles

    missed = sorted({r["scenario"].split()[0] for r in rows if every or r["met"] is False})
    makers = {
        "1": profiles.profile_writeoff,
        "6": profiles.profile_writeoff,
        "2": profiles.profile_service,
        "4": lambda: profiles.profile_report(ctx.cache["report_merchant"]),
        "5": lambda: profiles.profile_list(ctx.cache["list_key"]),
    }
    done: dict[str, str] = {}
    for number in missed:
        if number not in makers:
            continue
        log(f"== profiling scenario {number}")
        try:
            with profiles.unthrottled():
                text = makers[number]()
            path = profiles.write(out, int(number), text)
            done[number] = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
        except Exception:
            log(traceback.format_exc())
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", dest="size", action="store_const", const="quick", help="small sizes (default)"
    )
    size.add_argument("--full", dest="size", action="store_const", const="full", help="the issue's sizes")
    size.add_argument("--tiny", dest="size", action="store_const", const="tiny", help="smoke-test sizes")
    parser.add_argument("--only", help="scenario numbers, e.g. 1 or 1,5")
    parser.add_argument(
        "--fresh", action="store_true", help="empty the business tables first (bench DB only)"
    )
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="where latest.json and latest.md go")
    parser.add_argument(
        "--profile", action="store_true", help="profile each scenario that missed its target (profile-N.txt)"
    )
    parser.add_argument("--profile-all", action="store_true", help="profile each scenario run, met or not")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.bench.settings")
    import django

    django.setup()
    from . import invariants, scenarios
    from .sizes import PRESETS

    sizes = PRESETS[args.size or "quick"]
    wanted = sorted({int(x) for x in args.only.split(",")}) if args.only else sorted(scenarios.SCENARIOS)

    def log(msg: str) -> None:
        print(msg, flush=True)

    started, t0 = scenarios.now_iso(), time.monotonic()
    if args.fresh:
        fresh(log)
    info = machine()
    log(
        f"bench: {sizes.name} sizes, scenarios {wanted}, "
        f"database {django.db.connection.settings_dict['NAME']}"
    )
    ctx = scenarios.Context(sizes=sizes, log=log)
    rows, errors = [], {}
    for number in wanted:
        settle(log)
        log(f"== scenario {number}: {scenarios.SCENARIOS[number].__name__}")
        s0 = time.monotonic()
        try:
            rows += [asdict(r) for r in scenarios.SCENARIOS[number](ctx)]
        except Exception:
            errors[str(number)] = traceback.format_exc()
            log(errors[str(number)])
            rows.append(
                asdict(
                    scenarios.Row(str(number), "FAILED TO RUN (see errors)", None, None, "", notes="error")
                )
                | {"met": False}
            )
        log(f"   ({time.monotonic() - s0:.1f} s)")
    checks = invariants.check_all()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    profiled = (
        run_profiles(ctx, rows, out, log, every=args.profile_all) if args.profile or args.profile_all else {}
    )
    result = {
        "started_at": started,
        "size": sizes.name,
        "sizes": asdict(sizes),
        "duration_s": time.monotonic() - t0,
        "machine": info,
        "rows": rows,
        "errors": errors,
        "invariants": [asdict(c) | {"ok": c.ok} for c in checks],
        "profiles": profiled,
    }
    print()
    print(table(rows))
    print()
    print("invariants:")
    for c in checks:
        print(f"  {'ok      ' if c.ok else 'VIOLATED'} {c.name}" + ("" if c.ok else f" ({c.violations})"))
    (out / "latest.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (out / "latest.md").write_text(markdown(result))
    print(f"\nwrote {out / 'latest.json'} and {out / 'latest.md'}")
    return 0 if all(c.ok for c in checks) and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
