"""Reads of attribution, always scoped by the caller's merchant first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from backend.merchants.models import Merchant

from . import reconcile as reconciliation
from .models import AttributionRecord, ReportExport
from .reports import Dimension, Report, ReportFilters, build_report, period_bounds


def report_for(*, merchant: Merchant, dimension: Dimension, filters: ReportFilters) -> Report:
    """The report over the records ``merchant`` may see: its campaigns, and placements in its pools."""
    return build_report(merchant=merchant, dimension=dimension, filters=filters)


def export_for(*, merchant: Merchant, export_id: int) -> ReportExport | None:
    return ReportExport.objects.filter(merchant=merchant, pk=export_id).first()


def reconcile_for(
    *, merchant: Merchant, date_from: dt.date, date_to: dt.date
) -> reconciliation.ReconcileResult:
    """Reconcile the issuer ``merchant``'s write-offs over inclusive days in its time zone."""
    start, end = period_bounds(merchant, date_from, date_to)
    return reconciliation.reconcile(merchant=merchant, start=start, end=end)


def record_of(*, redemption_id: int) -> AttributionRecord | None:
    """The attribution record of a write-off, or None (never creates one). Billing reads it
    when attribution announces it (``attribution.recorded``)."""
    return AttributionRecord.objects.filter(redemption_id=redemption_id).first()


def records_of(*, redemption_ids: Sequence[int]) -> dict[int, AttributionRecord]:
    """The records of these write-offs by redemption id (those that exist; none is created)."""
    return {r.redemption_id: r for r in AttributionRecord.objects.filter(redemption_id__in=list(redemption_ids))}
