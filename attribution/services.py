"""Writes of attribution other than its records (attribution.recording creates those): what
billing marks on a record, and report export jobs."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backend.api.errors import ErrorCollector
from backend.merchants.models import ApiKey, Merchant

from . import exports
from .errors import AttributionErrorCode
from .models import AttributionRecord, ReportExport
from .reports import Dimension, ReportFilters

logger = logging.getLogger(__name__)

def mark_billing(
    *, redemption_ids: list[int], period_start: dt.date | None = None, invoice_id: int | None = None
) -> int:
    """Record on the write-offs' records the month and/or the invoice that bill them (billing
    calls this in its own transaction when it locks charges and when it freezes a month)."""
    changes: dict = {}
    if period_start is not None:
        changes["billing_period"] = period_start
    if invoice_id is not None:
        changes["billing_invoice_id"] = invoice_id
    if not changes or not redemption_ids:
        return 0
    return AttributionRecord.objects.filter(redemption_id__in=redemption_ids).update(**changes)


def credit_record_fee(*, redemption_id: int, amount: int) -> AttributionRecord | None:
    """Record that ``amount`` of the write-off's fee was credited (an upheld dispute), so
    reports show fees net of credits. Idempotent: it sets the credited amount, never adds."""
    with transaction.atomic():
        record = AttributionRecord.objects.filter(redemption_id=redemption_id).first()
        if record is None:  # billing credits only charges, which exist only for records
            return None
        AttributionRecord.objects.filter(pk=record.pk).update(fee_credited=min(amount, record.fee_amount))
        record.refresh_from_db(fields=["fee_credited"])
        return record


def export_create(
    *, merchant: Merchant, requested_by: ApiKey | None, dimension: Dimension, filters: ReportFilters
) -> ReportExport:
    """Queue an export of a report; the files are written by a Celery task after commit."""
    validate_filters(filters)
    with transaction.atomic():
        export = ReportExport.objects.create(
            merchant=merchant, requested_by=requested_by, dimension=str(dimension), params=filters.as_json()
        )
        transaction.on_commit(lambda: _schedule_export(export.pk))
    return export


def _schedule_export(export_id: int) -> None:
    from .tasks import run_report_export

    try:
        run_report_export.delay(export_id)
    except Exception:  # the broker is down: the export stays pending, to be re-driven
        logger.exception("attribution.export_schedule_failed", extra={"export_id": export_id})


# A running export whose worker died is taken over after this long.
EXPORT_STALE_AFTER = dt.timedelta(minutes=30)
# A pending export whose task was lost (broker down at publish) is re-queued after this long.
EXPORT_REQUEUE_AFTER = dt.timedelta(minutes=2)


def export_run(*, export_id: int) -> ReportExport | None:
    """Write the files of a pending (or abandoned running) export.

    Safe to run twice or concurrently: a conditional UPDATE claims the export, so only one
    run writes its files; a finished export is left as it is.
    """
    now = timezone.now()
    claimed = (
        ReportExport.objects.filter(pk=export_id)
        .filter(
            Q(status=ReportExport.Status.PENDING)
            | Q(status=ReportExport.Status.RUNNING, started_at__lt=now - EXPORT_STALE_AFTER)
        )
        .update(status=ReportExport.Status.RUNNING, started_at=now, error="")
    )
    export = ReportExport.objects.filter(pk=export_id).first()
    if not claimed or export is None:
        return export
    try:
        rows = exports.write_files(export)
    except Exception as exc:
        logger.exception("attribution.export_failed", extra={"export_id": export_id})
        export.status = ReportExport.Status.FAILED
        export.error = f"{type(exc).__name__}: the export could not be written."
        export.finished_at = timezone.now()
        export.save(update_fields=["status", "error", "finished_at"])
        return export
    export.status = ReportExport.Status.SUCCEEDED
    export.row_count = rows
    export.finished_at = timezone.now()
    export.save(update_fields=["status", "row_count", "files", "finished_at"])
    return export


def requeue_stalled_exports(*, now: dt.datetime | None = None) -> list[int]:
    """Re-queue exports whose task was lost or whose worker died; their ids."""
    now = now or timezone.now()
    stalled = list(
        ReportExport.objects.filter(
            Q(status=ReportExport.Status.PENDING, created_at__lt=now - EXPORT_REQUEUE_AFTER)
            | Q(status=ReportExport.Status.RUNNING, started_at__lt=now - EXPORT_STALE_AFTER)
        )
        .order_by("id")
        .values_list("id", flat=True)[:100]
    )
    for export_id in stalled:
        _schedule_export(export_id)
    return stalled


def validate_filters(filters: ReportFilters) -> None:
    errors = ErrorCollector()
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        errors.add("date_to", AttributionErrorCode.INVALID_PERIOD, "dateTo is before dateFrom.")
    if filters.currency is not None and not (
        len(filters.currency) == 3 and filters.currency.isascii() and filters.currency.isupper()
    ):
        errors.add("currency", AttributionErrorCode.INVALID_CURRENCY, "Use an ISO 4217 code such as CNY.")
    errors.raise_if_any()
