"""Peak memory and time of the record-level write-off export (billing.writeoff_export).

    python bench/writeoff_export_memory.py generate N     # N write-offs of one issuer (attribution.bench_data)
    python bench/writeoff_export_memory.py export MERCHANT_ID

``export`` runs the export job's writer (CSV, XLSX, Parquet) in this process and prints its
peak RSS and time; run it for two sizes to see that memory does not grow with the rows.
Use a database of its own (never the test database).
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

import django  # noqa: E402

django.setup()


def main() -> None:
    command, value = sys.argv[1], int(sys.argv[2])
    if command == "generate":
        from attribution.bench_data import generate

        network = generate(value, issuers=1, publishers=2, campaigns_per_issuer=2, fans=10_000)
        print("issuer", network.issuers[0].pk, "records", network.records)
        return
    from attribution.exports import RECORD_SOURCES, write_record_files
    from attribution.models import ReportExport
    from backend.merchants.models import Merchant

    merchant = Merchant.objects.get(pk=value)
    export = ReportExport.objects.create(merchant=merchant, dimension="writeoffs", params={})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    rows = write_record_files(export, RECORD_SOURCES["writeoffs"], merchant)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"rows={rows} seconds={seconds:.1f} peak_rss_mib={peak / 1024:.0f} rss_before_mib={before / 1024:.0f}"
    )
    from django.conf import settings

    for fmt, path in sorted(export.files.items()):
        print(fmt, (Path(settings.MEDIA_ROOT) / path).stat().st_size // 2**20, "MiB")


if __name__ == "__main__":
    main()
