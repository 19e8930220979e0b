"""Report exports: CSV, XLSX and Parquet written chunk by chunk, a PNG chart, expiring links.

The files are written from the report's aggregated chunks (a server-side cursor), so
memory stays flat however many groups a report has. A download link is a signed token
(TimestampSigner) naming the export and the format; it expires after
``settings.EXPORT_LINK_TTL_SECONDS``.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.core import signing
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from openpyxl import Workbook

from backend.api.spreadsheets import safe_frame, safe_row

from .models import ReportExport
from .reports import ROW_COLUMNS, Dimension, ReportFilters, build_report, encode_key, report_chunks

FORMATS = ("csv", "xlsx", "parquet", "png")
CONTENT_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
    "png": "image/png",
}
EXPORT_COLUMNS = ["is_total", *ROW_COLUMNS]
_SCHEMA = pa.schema(
    [
        ("is_total", pa.bool_()),
        ("key", pa.string()),
        ("label", pa.string()),
        ("currency", pa.string()),
        ("issued", pa.int64()),
        ("redeemed", pa.int64()),
        ("redemption_rate", pa.float64()),
        ("voided", pa.int64()),
        ("attributed", pa.int64()),
        ("gmv", pa.int64()),
        ("discount", pa.int64()),
        ("fees", pa.int64()),
        ("cost_per_redemption", pa.int64()),
        ("median_seconds_to_redeem", pa.float64()),
        ("new_customers", pa.int64()),
        ("new_customer_share", pa.float64()),
    ]
)
_SALT = "attribution.export"
# Aggregated rows fetched (and written) per chunk: memory stays flat however large the report.
CHUNK_ROWS = 5000


def export_dir(export: ReportExport) -> Path:
    return Path(settings.MEDIA_ROOT) / "exports" / str(export.pk)


def _for_files(chunk: pd.DataFrame, dimension: Dimension) -> pd.DataFrame:
    out = chunk.copy()
    out["is_total"] = out["is_total"] == 1
    out["key"] = [encode_key(dimension, k) for k in out["key"]]
    return out[EXPORT_COLUMNS]


def _cell(value):
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


@dataclass(frozen=True)
class RecordSource:
    """Record-level rows for an export (one per write-off): ``chunks(merchant=, filters=,
    chunk_size=)`` yields lists of tuples in ``schema``'s column order. Registered by the app
    that owns the data (billing: ``writeoffs``), since attribution may not import it."""

    schema: pa.Schema
    chunks: Callable[..., Iterator[list[tuple]]]


RECORD_SOURCES: dict[str, RecordSource] = {}
XLSX_MAX_ROWS = 1_048_575  # a sheet's rows after the header; more rows continue on a new sheet
RECORD_FORMATS = ("csv", "xlsx", "parquet")


def write_record_files(export: ReportExport, source: RecordSource, merchant) -> int:
    """Stream record-level rows into CSV, XLSX and Parquet, one chunk at a time: memory stays
    flat whatever the number of rows (XLSX rolls over to a new sheet every ~1M rows)."""
    filters = ReportFilters.from_json(export.params)
    folder = export_dir(export)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {fmt: folder / f"{export.dimension}.{fmt}" for fmt in RECORD_FORMATS}
    columns = source.schema.names
    workbook = Workbook(write_only=True)
    sheet, sheet_rows, sheets = None, XLSX_MAX_ROWS, 0
    rows = 0
    with (
        paths["csv"].open("w", newline="", encoding="utf-8") as csv_file,
        pq.ParquetWriter(paths["parquet"], source.schema) as parquet,
    ):
        writer = csv.writer(csv_file)
        writer.writerow(columns)
        for chunk in source.chunks(merchant=merchant, filters=filters, chunk_size=CHUNK_ROWS):
            writer.writerows(chunk)
            parquet.write_table(
                pa.Table.from_arrays(
                    [
                        pa.array(list(col), type=f.type)
                        for col, f in zip(zip(*chunk, strict=True), source.schema, strict=True)
                    ],
                    schema=source.schema,
                )
            )
            for record in chunk:
                if sheet_rows >= XLSX_MAX_ROWS:
                    sheets += 1
                    sheet = workbook.create_sheet(
                        export.dimension if sheets == 1 else f"{export.dimension}-{sheets}"
                    )
                    sheet.append(columns)
                    sheet_rows = 0
                sheet.append(list(record))
                sheet_rows += 1
            rows += len(chunk)
    if sheet is None:
        workbook.create_sheet(export.dimension).append(columns)
    workbook.save(paths["xlsx"])
    export.files = {fmt: str(path.relative_to(settings.MEDIA_ROOT)) for fmt, path in paths.items()}
    return rows


def write_files(export: ReportExport) -> int:
    """Write every format of ``export``; return the number of report rows (totals excluded)."""
    from backend.merchants.models import Merchant

    merchant = Merchant.objects.get(pk=export.merchant_id)
    if export.dimension in RECORD_SOURCES:
        return write_record_files(export, RECORD_SOURCES[export.dimension], merchant)
    dimension = Dimension(export.dimension)
    filters = ReportFilters.from_json(export.params)
    folder = export_dir(export)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {fmt: folder / f"attribution-{dimension}.{fmt}" for fmt in FORMATS}

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("report")
    sheet.append(EXPORT_COLUMNS)
    rows = 0
    with (
        paths["csv"].open("w", newline="", encoding="utf-8") as csv_file,
        pq.ParquetWriter(paths["parquet"], _SCHEMA) as parquet,
    ):
        writer = csv.writer(csv_file)
        writer.writerow(EXPORT_COLUMNS)
        for chunk in report_chunks(
            merchant=merchant, dimension=dimension, filters=filters, chunk_size=CHUNK_ROWS
        ):
            frame = _for_files(chunk, dimension)
            rows += int((~frame["is_total"]).sum())
            # Parquet keeps the values as they are (typed data, not a spreadsheet); CSV and
            # XLSX cells that a spreadsheet would run as formulas are neutralised.
            parquet.write_table(pa.Table.from_pandas(frame, schema=_SCHEMA, preserve_index=False))
            frame = safe_frame(frame)
            frame.to_csv(csv_file, header=False, index=False)
            for record in frame.itertuples(index=False, name=None):
                sheet.append(safe_row(_cell(v) for v in record))
    workbook.save(paths["xlsx"])
    write_chart(merchant=merchant, filters=filters, path=paths["png"])
    export.files = {fmt: str(path.relative_to(settings.MEDIA_ROOT)) for fmt, path in paths.items()}
    return rows


def write_chart(*, merchant, filters: ReportFilters, path: Path) -> None:
    """Redemptions (bars) and fees (line) per day in the merchant's time zone, as a PNG."""
    per_day = build_report(merchant=merchant, dimension=Dimension.DAY, filters=filters).rows
    # The Agg canvas directly (no pyplot): no display, no global state shared between tasks.
    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    left = fig.subplots()
    redeemed = per_day.groupby("key")["redeemed"].sum()
    days = [str(d) for d in redeemed.index]
    left.bar(days, redeemed.astype(int).tolist(), color="#4C72B0", label="redemptions")
    left.set_ylabel("redemptions")
    right = left.twinx()
    # Fees are not summed across currencies: one line per currency.
    fees = per_day.pivot_table(index="key", columns="currency", values="fees", aggfunc="sum", fill_value=0)
    for currency in fees.columns:
        right.plot(
            days,
            fees[currency].reindex(redeemed.index, fill_value=0).astype(int).tolist(),
            marker="o",
            label=f"fees ({currency})",
        )
    right.set_ylabel("fees (minor units)")
    if len(fees.columns):
        right.legend(loc="upper left")
    left.set_title("Redemptions and fees per day")
    left.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    fig.savefig(path, format="png")


@dataclass(frozen=True)
class DownloadLink:
    format: str
    token: str
    expires_at: dt.datetime


def download_token(export: ReportExport, fmt: str) -> DownloadLink:
    from django.utils import timezone

    token = signing.TimestampSigner(salt=_SALT).sign(f"{export.pk}:{fmt}")
    expires_at = timezone.now() + dt.timedelta(seconds=settings.EXPORT_LINK_TTL_SECONDS)
    return DownloadLink(format=fmt, token=token, expires_at=expires_at)


class LinkExpired(Exception):
    pass


class LinkInvalid(Exception):
    pass


def read_token(token: str) -> tuple[int, str]:
    """(export id, format) named by a valid, unexpired token; raises LinkExpired/LinkInvalid."""
    try:
        value = signing.TimestampSigner(salt=_SALT).unsign(token, max_age=settings.EXPORT_LINK_TTL_SECONDS)
    except signing.SignatureExpired as exc:
        raise LinkExpired from exc
    except signing.BadSignature as exc:
        raise LinkInvalid from exc
    raw_id, _, fmt = value.partition(":")
    if not raw_id.isdigit() or fmt not in FORMATS:
        raise LinkInvalid
    return int(raw_id), fmt
