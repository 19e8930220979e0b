"""CSV imports of fans into a pool: upload (store + enqueue) and the chunked, resumable run.

The run reads the file with pandas in chunks. Each chunk is hashed outside the database,
then merged and its counters recorded in ONE transaction that first checks, under a row
lock, that the import's ``processed_rows`` is still where this chunk starts. So a
redelivered or concurrent run skips chunks already applied and nothing is counted twice;
every data row ends as added, duplicate or bad (total = added + duplicates + bad).
The uploaded file holds raw identifiers, so it is deleted as soon as the import finishes.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from backend.api.errors import CommonErrorCode, ServiceError

from . import identity
from .consent import InvalidConsent, parse_consent_time
from .errors import AudienceErrorCode
from .members import Candidate, merge_members
from .models import FanImport, FanPool

logger = logging.getLogger(__name__)

CHUNK_ROWS = 5000
MAX_FILE_BYTES = 200 * 1024 * 1024
BAD_ROWS_DETAIL_MAX = 1000  # details kept per import; bad_count counts them all
DEFAULT_SOURCE = "csv"
SOURCE_MAX = 40
IMPORT_DIR = "fan-imports"
STALLED_AFTER = dt.timedelta(minutes=5)
_BAD_LINE = "\x00bad-line"

# Accepted header spellings, compared without case, spaces, '_' or '-'.
COLUMN_ALIASES = {
    "phone": "phone",
    "phonenumber": "phone",
    "mobile": "phone",
    "openid": "open_id",
    "platform": "platform",
    "consentedat": "consented_at",
    "consentat": "consented_at",
    "consenttime": "consented_at",
    "source": "source",
    "externalref": "external_ref",
}


@dataclass(frozen=True)
class BadRow:
    row: int
    field: str | None
    code: str
    reason: str

    def as_json(self) -> dict:
        return {"row": self.row, "field": self.field, "code": self.code, "reason": self.reason}


def _canonical(header: str) -> str:
    return COLUMN_ALIASES.get(re.sub(r"[\s_\-]", "", str(header).strip().lower()), "")


def _read_columns(path: Path) -> list[str]:
    """The file's header, as canonical names ('' for an unknown column); it must have a data row."""
    try:
        head = pd.read_csv(
            path, nrows=0, dtype=str, encoding="utf-8-sig", encoding_errors="replace", engine="python"
        )
    except pd.errors.EmptyDataError:
        raise ServiceError.single(AudienceErrorCode.EMPTY_FILE, "The file is empty.", "file") from None
    except (pd.errors.ParserError, ValueError, csv.Error):
        raise ServiceError.single(
            AudienceErrorCode.UNREADABLE_FILE, "The file is not a CSV file.", "file"
        ) from None
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
        records = csv.reader(f)
        has_rows = next(records, None) is not None and next(records, None) is not None
    if not has_rows:
        raise ServiceError.single(AudienceErrorCode.EMPTY_FILE, "The file has a header but no rows.", "file")
    return [_canonical(h) for h in head.columns]


def _check_columns(columns: list[str]) -> None:
    missing = []
    if "phone" not in columns and "open_id" not in columns:
        missing.append("phone or open_id")
    if "open_id" in columns and "platform" not in columns:
        missing.append("platform")
    if "consented_at" not in columns:
        missing.append("consented_at")
    if missing:
        raise ServiceError.single(
            AudienceErrorCode.MISSING_COLUMNS, f"The header lacks: {', '.join(missing)}.", "file"
        )


def import_path(fan_import: FanImport) -> Path:
    return Path(settings.MEDIA_ROOT) / fan_import.file_path


def fan_import_create(*, merchant, pool: FanPool, chunks: Iterable[bytes]) -> FanImport:
    """Store an uploaded CSV file and enqueue its import after commit.

    The header is checked now (typed errors: EMPTY_FILE, MISSING_COLUMNS, FILE_TOO_LARGE);
    rows are checked by the job, which reports each bad one.
    """
    if pool.merchant_id != merchant.pk:
        raise ServiceError.not_found("poolId", "Fan pool")
    relative = Path(IMPORT_DIR) / str(merchant.pk) / f"{uuid.uuid4().hex}.csv"
    path = Path(settings.MEDIA_ROOT) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    try:
        with path.open("wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    raise ServiceError.single(
                        AudienceErrorCode.FILE_TOO_LARGE, f"At most {MAX_FILE_BYTES // 2**20} MiB.", "file"
                    )
                out.write(chunk)
        if size == 0:
            raise ServiceError.single(AudienceErrorCode.EMPTY_FILE, "The file is empty.", "file")
        _check_columns(_read_columns(path))
        with transaction.atomic():
            fan_import = FanImport.objects.create(merchant=merchant, pool=pool, file_path=str(relative))
            transaction.on_commit(lambda: enqueue_fan_import(fan_import.pk))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    logger.info(
        "fan_import.created", extra={"fan_import_id": fan_import.pk, "pool_id": pool.pk, "bytes": size}
    )
    return fan_import


def enqueue_fan_import(import_id: int) -> None:
    """Publish the job; if the broker is down the import stays pending for the sweeper."""
    from .tasks import run_fan_import

    try:
        run_fan_import.delay(import_id)
    except Exception:  # the broker being down must not fail a committed upload
        logger.warning("fan_import.enqueue_failed", extra={"fan_import_id": import_id}, exc_info=True)


def requeue_stalled(*, older_than: dt.timedelta = STALLED_AFTER) -> int:
    """Enqueue again every import left pending longer than ``older_than``; running twice is harmless."""
    cutoff = timezone.now() - older_than
    stalled = list(
        FanImport.objects.filter(status=FanImport.Status.PENDING, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    for import_id in stalled:
        enqueue_fan_import(import_id)
    return len(stalled)


def _cell(value) -> str:
    return value if isinstance(value, str) else ""


def _parse_row(record: dict, row: int, now) -> Candidate | BadRow:
    """One CSV row as a hashed candidate, or the reason it is bad (never echoing the value)."""
    phone = _cell(record.get("phone"))
    if phone == _BAD_LINE:
        return BadRow(
            row, None, AudienceErrorCode.WRONG_FIELD_COUNT, "The row has more fields than the header."
        )
    open_id = _cell(record.get("open_id"))
    platform = _cell(record.get("platform")) if open_id.strip() else ""
    try:
        fan_identity = identity.identity_of(phone=phone, open_id=open_id, platform=platform)
    except identity.InvalidIdentity as exc:
        return BadRow(row, exc.field, exc.code, str(exc))
    try:
        consented_at = parse_consent_time(_cell(record.get("consented_at")), now=now)
    except InvalidConsent as exc:
        return BadRow(row, "consentedAt", AudienceErrorCode.INVALID_CONSENT_DATE, str(exc))
    source = _cell(record.get("source")).strip() or DEFAULT_SOURCE
    if len(source) > SOURCE_MAX:
        return BadRow(row, "source", CommonErrorCode.TOO_LONG, f"At most {SOURCE_MAX} characters.")
    external_ref = _cell(record.get("external_ref")).strip() or None
    if external_ref is not None and len(external_ref) > 100:
        return BadRow(row, "externalRef", CommonErrorCode.TOO_LONG, "At most 100 characters.")
    return Candidate(
        fan_key=fan_identity.fan_key,
        kind=fan_identity.kind,
        consented_at=consented_at,
        source=source,
        external_ref=external_ref,
    )


def _chunks(path: Path, columns: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    width = len(columns)
    reader = pd.read_csv(
        path,
        dtype=str,
        header=0,
        names=[c or f"_ignored_{i}" for i, c in enumerate(columns)],
        keep_default_na=False,
        na_filter=False,
        skip_blank_lines=False,  # a blank line is a bad row, not a silently missing one
        engine="python",  # the only engine that hands over-long lines to a callable
        on_bad_lines=lambda fields: [_BAD_LINE] + [""] * (width - 1),
        encoding="utf-8-sig",
        encoding_errors="replace",
        chunksize=chunk_rows,
    )
    with reader:
        yield from reader


def _count_rows(path: Path) -> int:
    """A quick estimate for progress; the final total is the rows actually processed."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
        return max(sum(1 for _ in csv.reader(f)) - 1, 0)


def _apply_chunk(*, import_id: int, start: int, frame: pd.DataFrame) -> bool:
    """Merge the chunk's rows not yet applied and record them, exactly once.

    Returns False if the import is no longer running (finished by another run).
    """
    now = timezone.now()
    parsed = [
        _parse_row(record, start + offset + 1, now) for offset, record in enumerate(frame.to_dict("records"))
    ]
    with transaction.atomic():
        fan_import = FanImport.objects.select_for_update().select_related("pool").get(pk=import_id)
        if fan_import.status != FanImport.Status.RUNNING:
            return False
        done = fan_import.processed_rows - start  # rows of this chunk applied by an earlier run
        if done >= len(parsed):
            return True
        if done < 0:
            raise RuntimeError(
                f"fan import {import_id}: rows {fan_import.processed_rows}..{start} were skipped"
            )
        todo = parsed[done:]
        candidates = [p for p in todo if isinstance(p, Candidate)]
        bad = [p for p in todo if isinstance(p, BadRow)]
        merged = merge_members(pool=fan_import.pool, candidates=candidates)
        room = max(BAD_ROWS_DETAIL_MAX - len(fan_import.bad_rows), 0)
        fan_import.bad_rows = [*fan_import.bad_rows, *(b.as_json() for b in bad[:room])]
        fan_import.processed_rows = start + len(parsed)
        fan_import.added = F("added") + merged.added
        fan_import.duplicates = F("duplicates") + merged.duplicates
        fan_import.bad_count = F("bad_count") + len(bad)
        fan_import.save(update_fields=["bad_rows", "processed_rows", "added", "duplicates", "bad_count"])
    return True


def _finish(import_id: int, *, status: str, error: str = "") -> None:
    with transaction.atomic():
        fan_import = FanImport.objects.select_for_update().get(pk=import_id)
        if fan_import.is_finished:
            return
        fan_import.status = status
        fan_import.error = error
        fan_import.finished_at = timezone.now()
        if status == FanImport.Status.SUCCEEDED:
            fan_import.total_rows = fan_import.processed_rows
        fan_import.save(update_fields=["status", "error", "finished_at", "total_rows"])
    import_path(fan_import).unlink(missing_ok=True)
    logger.info(
        "fan_import.finished",
        extra={
            "fan_import_id": import_id,
            "status": status,
            "rows": fan_import.processed_rows,
            "added": fan_import.added,
            "duplicates": fan_import.duplicates,
            "bad": fan_import.bad_count,
        },
    )


def fan_import_run(*, import_id: int, chunk_rows: int = CHUNK_ROWS) -> FanImport | None:
    """Run (or resume) an import. A finished import is left as it is; safe to run twice."""
    claimed = FanImport.objects.filter(
        pk=import_id, status__in=[FanImport.Status.PENDING, FanImport.Status.RUNNING]
    ).update(status=FanImport.Status.RUNNING, started_at=Coalesce(F("started_at"), timezone.now()))
    if not claimed:
        return FanImport.objects.filter(pk=import_id).first()
    fan_import = FanImport.objects.get(pk=import_id)
    path = import_path(fan_import)
    if not path.exists():
        _finish(import_id, status=FanImport.Status.FAILED, error="The uploaded file is no longer available.")
        return FanImport.objects.get(pk=import_id)
    try:
        columns = _read_columns(path)
        _check_columns(columns)
        if fan_import.total_rows == 0:
            FanImport.objects.filter(pk=import_id).update(total_rows=_count_rows(path))
        start = 0
        for frame in _chunks(path, columns, chunk_rows):
            if start + len(frame) > fan_import.processed_rows:  # chunks before it were applied already
                if not _apply_chunk(import_id=import_id, start=start, frame=frame):
                    return FanImport.objects.get(pk=import_id)
            start += len(frame)
    except ServiceError as exc:
        _finish(
            import_id, status=FanImport.Status.FAILED, error=f"{exc.errors[0].code}: {exc.errors[0].message}"
        )
    except (pd.errors.ParserError, UnicodeError, csv.Error) as exc:
        # The parser's message may quote the offending line: keep only its kind.
        _finish(import_id, status=FanImport.Status.FAILED, error=f"UNREADABLE_FILE: {type(exc).__name__}")
    else:
        _finish(import_id, status=FanImport.Status.SUCCEEDED)
    return FanImport.objects.get(pk=import_id)
