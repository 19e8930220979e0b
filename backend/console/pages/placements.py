"""Placements: the issuer's outbox and the publisher's inbox (accept, decline), and the
auto-accept rules of the member's pools."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from backend.console.access import console_page
from backend.console.forms import PercentField
from backend.console.nav import NavItem
from backend.console.operations import payload_errors, run_operation
from backend.console.responses import redirect_back

PAGE_SIZE = 50
SIDES = {"inbox": "PUBLISHER", "outbox": "ISSUER"}
STATUSES = ("PROPOSED", "ACCEPTED", "DECLINED", "ENDED")
WRITERS = ("admin", "brand")


class AutoAcceptForm(forms.Form):
    auto_accept_min_share_bps = PercentField(
        label=_("Accept at once when the share is at least (%)"), help_text=_("Empty: never at once.")
    )
    auto_accept_max_quota = forms.IntegerField(
        label=_("... and the quota at most"), required=False, help_text=_("Empty: any quota.")
    )


@console_page
def placements(request):
    box = request.GET.get("box", "inbox")
    box = box if box in SIDES else "inbox"
    status = request.GET.get("status", "").upper()
    variables = {"side": SIDES[box], "first": PAGE_SIZE, "after": request.GET.get("after") or None}
    if status in STATUSES:
        variables["status"] = status
    found = run_operation(request, "campaigns_placements", variables).data["placements"]
    waiting = run_operation(
        request, "campaigns_placements", {"side": "PUBLISHER", "status": "PROPOSED", "first": 1}
    )
    pools = []
    if box == "inbox":
        pools = [
            e["node"]
            for e in run_operation(request, "audience_fan_pools", {"first": 50}).data["fanPools"]["edges"]
        ]
    return render(
        request,
        "console/placements/list.html",
        {
            "box": box,
            "status": status if status in STATUSES else "",
            "statuses": STATUSES,
            "placements": found,
            "rows": [e["node"] for e in found["edges"]],
            "waiting": waiting.data["placements"]["totalCount"],
            "pools": pools,
            "can_decide": request.caller.role in WRITERS,
        },
    )


DECISIONS = {
    "accept": ("campaigns_placement_accept", "placementAccept", _("Accepted: %(campaign)s from %(issuer)s.")),
    "decline": (
        "campaigns_placement_decline",
        "placementDecline",
        _("Declined: %(campaign)s from %(issuer)s."),
    ),
}


@require_POST
@console_page
def decide(request, placement_id: str, decision: str):
    operation, field, done = DECISIONS[decision]
    payload = run_operation(request, operation, {"id": placement_id}).data[field]
    errors = payload_errors(payload)
    for error in errors:
        messages.error(request, f"{error['message']} ({error['code']})")
    if not errors:
        placement = payload["placement"]
        messages.success(
            request, done % {"campaign": placement["offer"]["name"], "issuer": placement["issuerName"]}
        )
    return redirect_back(request, "console:placements")


@require_POST
@console_page(roles=WRITERS)
def auto_accept(request, pool_id: str):
    form = AutoAcceptForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect_back(request, "console:placements")
    rule = {
        "autoAcceptMinShareBps": form.cleaned_data["auto_accept_min_share_bps"],
        "autoAcceptMaxQuota": form.cleaned_data["auto_accept_max_quota"],
    }
    payload = run_operation(request, "audience_fan_pool_update", {"id": pool_id, "input": rule}).data[
        "fanPoolUpdate"
    ]
    errors = payload_errors(payload)
    for error in errors:
        messages.error(request, f"{error['message']} ({error['code']})")
    if not errors:
        messages.success(
            request, _("Auto-accept rule of %(pool)s saved.") % {"pool": payload["fanPool"]["name"]}
        )
    return redirect_back(request, "console:placements")


urlpatterns = [
    path("placements/", placements, name="placements"),
    *[
        path(f"placements/<gid:placement_id>/{d}/", decide, {"decision": d}, name=f"placement-{d}")
        for d in DECISIONS
    ],
    path("pools/<gid:pool_id>/auto-accept/", auto_accept, name="pool-auto-accept"),
]
NAV = [NavItem(label=_("Placements"), url_name="console:placements", order=30)]
