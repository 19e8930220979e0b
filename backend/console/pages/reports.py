"""Reports: write-offs, discount and fees by day, publisher, store or campaign, as a chart
(Chart.js, vendored) over the same rows as the table; exports with progress and download.

One operation per page (``attributionReport``); exports are ``reportExportCreate`` and the
``reportExports`` list, which polls while an export is being written.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from backend.console.access import console_page
from backend.console.nav import NavItem
from backend.console.operations import payload_errors, run_operation
from backend.console.screens import Screen

READERS = ("brand", "finance")
DIMENSIONS = {
    "DAY": _("By day"),
    "PUBLISHER": _("By publisher"),
    "STORE": _("By store"),
    "CAMPAIGN": _("By campaign"),
}
DEFAULT_DAYS = 30
POLL_SECONDS = 1
UNFINISHED = ("PENDING", "RUNNING")
EXPORTS_PAGE_SIZE = 20


class ReportFilterForm(forms.Form):
    dimension = forms.ChoiceField(choices=list(DIMENSIONS.items()), required=False)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if not data.get("dimension"):
            data["dimension"] = "DAY"
        return data


def default_range(time_zone: str) -> tuple[dt.date, dt.date]:
    """The last 30 days, in the merchant's time zone (the report's days are the merchant's)."""
    today = timezone.localdate(timezone=zoneinfo.ZoneInfo(time_zone))
    return today - dt.timedelta(days=DEFAULT_DAYS - 1), today


def _filter_form(request, params) -> ReportFilterForm:
    me = run_operation(request, "merchants_me").data["me"]
    start, end = default_range(me["timezone"])
    data = {"dimension": "DAY", "date_from": start.isoformat(), "date_to": end.isoformat()}
    data.update({k: v for k, v in params.items() if k in ("dimension", "date_from", "date_to")})
    return ReportFilterForm(data)


def _api_filter(cleaned: dict) -> dict:
    api = {}
    if cleaned.get("date_from"):
        api["dateFrom"] = cleaned["date_from"].isoformat()
    if cleaned.get("date_to"):
        api["dateTo"] = cleaned["date_to"].isoformat()
    return api


def chart_data(dimension: str, rows: list[dict]) -> dict:
    """What the chart draws: write-offs (not voided) per row, labelled as the table is."""
    currencies = {row["currency"] for row in rows}
    labels = []
    for row in rows:
        label = row["label"] or row["key"]
        labels.append(f"{label} ({row['currency']})" if len(currencies) > 1 else label)
    return {
        "type": "line" if dimension == "DAY" else "bar",
        "horizontal": dimension != "DAY",
        "labels": labels,
        "values": [row["redeemed"] for row in rows],
        "seriesLabel": str(_("Write-offs")),
    }


@console_page(roles=READERS)
def report(request):
    form = _filter_form(request, request.GET)
    report_data, errors = None, []
    dimension = "DAY"
    if form.is_valid():
        dimension = form.cleaned_data["dimension"]
        result = run_operation(
            request,
            "attribution_report",
            {"dimension": dimension, "filter": _api_filter(form.cleaned_data)},
            check=False,
        )
        if result.errors:
            if any(e["code"] in ("UNAUTHENTICATED", "FORBIDDEN") for e in result.errors):
                result.raise_for_errors()
            errors = result.errors  # a filter the API refused: shown above the report
        else:
            report_data = result.data["attributionReport"]
    rows = report_data["rows"] if report_data else []
    context = {
        "form": form,
        "dimension": dimension,
        "dimensions": DIMENSIONS,
        "report": report_data,
        "rows": rows,
        "totals": report_data["totals"] if report_data else [],
        "api_errors": errors,
        "chart": chart_data(dimension, rows),
        "query": request.GET.urlencode(),
    }
    return render(request, "console/reports/report.html", context)


@require_POST
@console_page(roles=READERS)
def export_create(request):
    form = _filter_form(request, request.POST)
    if form.is_valid():
        payload = run_operation(
            request,
            "reports_export_create",
            {"dimension": form.cleaned_data["dimension"], "filter": _api_filter(form.cleaned_data)},
        ).data["reportExportCreate"]
        errors = payload_errors(payload)
        if not errors:
            messages.success(request, gettext("Export queued: its files appear below when written."))
            return redirect("console:report-exports")
        for error in errors:
            messages.error(request, error["message"], extra_tags=f"code-{error['code']}")
    return redirect("console:reports")


@console_page(roles=READERS)
def export_list(request):
    exports = run_operation(
        request, "reports_exports", {"first": EXPORTS_PAGE_SIZE, "after": request.GET.get("after") or None}
    ).data["reportExports"]
    rows = [{**e["node"], "unfinished": e["node"]["status"] in UNFINISHED} for e in exports["edges"]]
    context = {
        "exports": exports,
        "rows": rows,
        "polling": any(row["unfinished"] for row in rows),
        "poll_seconds": POLL_SECONDS,
        "dimensions": DIMENSIONS,
    }
    if request.headers.get("HX-Request"):
        return render(request, "console/reports/_exports.html", context)
    return render(request, "console/reports/exports.html", context)


urlpatterns = [
    path("reports/", report, name="reports"),
    path("reports/exports/", export_list, name="report-exports"),
    path("reports/exports/new/", export_create, name="report-export-create"),
]
SCREENS = [
    Screen("reports", "/console/reports/", role="finance"),
    Screen("reports-by-campaign", "/console/reports/?dimension=CAMPAIGN", role="finance"),
    Screen("report-exports", "/console/reports/exports/", role="finance"),
]
NAV = [
    NavItem(label=_("Reports"), url_name="console:reports", order=70, roles=READERS),
    NavItem(label=_("Exports"), url_name="console:report-exports", order=72, roles=READERS),
]
