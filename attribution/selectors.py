"""Reads of attribution, always scoped by the caller's merchant first."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from backend.merchants.models import Merchant

from . import reconcile as reconciliation
from .models import ReportExport
from .reports import Dimension, Report, ReportFilters, build_report, period_bounds


def report_for(*, merchant: Merchant, dimension: Dimension, filters: ReportFilters) -> Report:
    """The report over the records ``merchant`` may see: its campaigns, and placements in its pools."""
    return build_report(merchant=merchant, dimension=dimension, filters=filters)


def export_for(*, merchant: Merchant, export_id: int) -> ReportExport | None:
    return ReportExport.objects.filter(merchant=merchant, pk=export_id).first()


def exports_for(*, merchant: Merchant) -> QuerySet[ReportExport]:
    """The merchant's report exports, newest first."""
    return ReportExport.objects.filter(merchant=merchant).order_by("-created_at", "-pk")


def reconcile_for(
    *, merchant: Merchant, date_from: dt.date, date_to: dt.date
) -> reconciliation.ReconcileResult:
    """Reconcile the issuer ``merchant``'s write-offs over inclusive days in its time zone."""
    start, end = period_bounds(merchant, date_from, date_to)
    return reconciliation.reconcile(merchant=merchant, start=start, end=end)
