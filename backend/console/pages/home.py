"""Home: today's write-offs, discount given and fees, the budget burn of active campaigns,
and the placements waiting for an answer."""

from __future__ import annotations

import zoneinfo

from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backend.console.access import console_page
from backend.console.nav import NavItem
from backend.console.operations import run_operation


def _today(tz_name: str) -> str:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(tz_name)).date().isoformat()


@console_page
def home(request):
    me = run_operation(request, "merchants_me").data["me"]
    today = _today(me["timezone"])
    report = run_operation(
        request,
        "attribution_report",
        {"dimension": "CAMPAIGN", "filter": {"dateFrom": today, "dateTo": today, "side": "ISSUER"}},
    ).data["attributionReport"]
    active = run_operation(request, "campaigns_list", {"status": "ACTIVE", "first": 20}).data["campaigns"]
    burn = []
    for edge in active["edges"]:
        c = edge["node"]
        percent = min(100, round(100 * c["spentAmount"] / c["budgetCap"])) if c["budgetCap"] else None
        burn.append({**c, "burnPercent": percent})
    inbox = run_operation(
        request, "campaigns_placements", {"side": "PUBLISHER", "status": "PROPOSED", "first": 1}
    )
    outbox = run_operation(
        request, "campaigns_placements", {"side": "ISSUER", "status": "PROPOSED", "first": 1}
    )
    return render(
        request,
        "console/home.html",
        {
            "me": me,
            "today": today,
            "totals": report["totals"],
            "burn": burn,
            "active_count": active["totalCount"],
            "inbox_waiting": inbox.data["placements"]["totalCount"],
            "outbox_waiting": outbox.data["placements"]["totalCount"],
        },
    )


urlpatterns = [path("", home, name="home")]
NAV = [NavItem(label=_("Home"), url_name="console:home", order=0)]
