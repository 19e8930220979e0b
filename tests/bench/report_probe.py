"""Runs the campaign-funnel report in a process of its own and reports its time and peak RSS.

    python -m tests.bench.report_probe MERCHANT_ID [REPEATS]

Prints one JSON line. Peak RSS is ru_maxrss of this process (Django, pandas and the report),
so nothing the benchmark runner holds counts against the report's memory.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.bench.settings")
    import django

    django.setup()
    from attribution.reports import Dimension, ReportFilters, build_report
    from backend.merchants.models import Merchant

    merchant = Merchant.objects.get(pk=int(sys.argv[1]))
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    times = []
    report = None
    for _ in range(repeats):
        started = time.perf_counter()
        report = build_report(merchant=merchant, dimension=Dimension.CAMPAIGN, filters=ReportFilters())
        times.append(time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "times_s": times,
        "rows": len(report.rows),
        "redeemed_total": int(report.rows["redeemed"].sum()),
        "peak_rss_mib": peak,
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
