"""Campaigns: the issuer's campaigns with live counters (htmx polls the same view)."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext_lazy as _

from backend.console.access import console_page
from backend.console.nav import NavItem
from backend.console.operations import run_operation

STATUSES = ("DRAFT", "ACTIVE", "PAUSED", "ENDED")
PAGE_SIZE = 50
POLL_SECONDS = 5


@console_page
def campaign_list(request):
    status = request.GET.get("status", "").upper()
    variables = {"first": PAGE_SIZE, "after": request.GET.get("after") or None}
    if status in STATUSES:
        variables["status"] = status
    campaigns = run_operation(request, "campaigns_list", variables).data["campaigns"]
    context = {
        "campaigns": campaigns,
        "rows": [edge["node"] for edge in campaigns["edges"]],
        "status": status if status in STATUSES else "",
        "statuses": STATUSES,
        "poll_seconds": POLL_SECONDS,
    }
    if request.headers.get("HX-Request"):
        return render(request, "console/campaigns/_rows.html", context)
    return render(request, "console/campaigns/list.html", context)


urlpatterns = [path("campaigns/", campaign_list, name="campaigns")]
NAV = [NavItem(label=_("Campaigns"), url_name="console:campaigns", order=10)]
