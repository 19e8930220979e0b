"""How big each scenario runs: tiny (the test suite), quick (a laptop, a minute or two), full."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    name: str
    clients: tuple[int, int]  # load-generator processes x threads for the HTTP/SQL write-off loads
    warmup: int  # untimed items per client before each measurement
    writeoff_ops: int  # 1: timed write-offs per side ...
    writeoff_seconds: float | None  # 1: ... or this many seconds per side, whichever comes first
    service_clients: tuple[int, int]  # 2: processes x threads calling the service
    hot_ops: int  # 2: write-off attempts per side
    issuance: int  # 3: coupons issued into one placement
    worker_concurrency: int  # 3, 6: Celery worker processes
    report_records: int  # 4: attribution records
    report_campaigns: int  # 4
    report_repeats: int  # 4: best of N
    list_rows: int  # 5: rows per page
    list_requests: int  # 5: timed requests per side
    list_clients: tuple[int, int]  # 5
    concurrent_issuance: int  # 6: coupons issued while the write-offs run
    concurrent_seconds: float  # 6: seconds of load per phase
    concurrent_codes_per_client: int  # 6: enough codes for the phase's duration


TINY = Sizes(
    name="tiny",
    clients=(2, 2),
    warmup=2,
    writeoff_ops=40,
    writeoff_seconds=None,
    service_clients=(2, 2),
    hot_ops=60,
    issuance=3000,
    worker_concurrency=1,
    report_records=3000,
    report_campaigns=4,
    report_repeats=1,
    list_rows=100,
    list_requests=16,
    list_clients=(1, 2),
    concurrent_issuance=20_000,
    concurrent_seconds=1.0,
    concurrent_codes_per_client=300,
)

QUICK = Sizes(
    name="quick",
    clients=(2, 8),
    warmup=10,
    writeoff_ops=4000,
    writeoff_seconds=30.0,
    service_clients=(4, 4),
    hot_ops=3000,
    issuance=100_000,
    worker_concurrency=2,
    report_records=300_000,
    report_campaigns=20,
    report_repeats=2,
    list_rows=100,
    list_requests=400,
    list_clients=(2, 2),
    concurrent_issuance=300_000,
    concurrent_seconds=6.0,
    concurrent_codes_per_client=800,
)

FULL = Sizes(
    name="full",
    clients=(2, 8),
    warmup=20,
    writeoff_ops=30_000,
    writeoff_seconds=60.0,
    service_clients=(4, 4),
    hot_ops=6_000,
    issuance=1_000_000,
    worker_concurrency=2,
    report_records=10_000_000,
    report_campaigns=50,
    report_repeats=2,
    list_rows=100,
    list_requests=2000,
    list_clients=(2, 2),
    concurrent_issuance=1_000_000,
    concurrent_seconds=20.0,
    concurrent_codes_per_client=1000,
)

PRESETS = {s.name: s for s in (TINY, QUICK, FULL)}
