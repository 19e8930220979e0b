"""The network directory: listed pools of every merchant (filter by category), and proposing
one of the issuer's active campaigns into a pool."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _

from backend.console.access import console_page
from backend.console.forms import PercentField, add_api_errors
from backend.console.nav import NavItem
from backend.console.operations import run_operation

PAGE_SIZE = 50
WRITERS = ("admin", "brand")


@console_page
def directory(request):
    category = request.GET.get("category", "").strip()
    variables = {"first": PAGE_SIZE, "after": request.GET.get("after") or None, "category": category or None}
    pools = run_operation(request, "audience_pool_directory", variables).data["poolDirectory"]
    rows = [edge["node"] for edge in pools["edges"]]
    categories = sorted({c for row in rows for c in row["categories"]} | ({category} if category else set()))
    return render(
        request,
        "console/directory/list.html",
        {
            "pools": pools,
            "rows": rows,
            "category": category,
            "categories": categories,
            "can_propose": request.caller.role in WRITERS,
        },
    )


class ProposeForm(forms.Form):
    campaign_id = forms.ChoiceField(label=_("Campaign"))
    quota = forms.IntegerField(label=_("Coupons to issue (quota)"), required=False)
    publisher_share_bps = PercentField(
        label=_("Publisher's share of the fee (%)"), help_text=_("Empty: the campaign's own share.")
    )

    def __init__(self, *args, campaigns, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign_id"].choices = [(c["id"], c["name"]) for c in campaigns]


@console_page(roles=WRITERS)
def propose(request, pool_id: str):
    pool = run_operation(request, "audience_directory_pool", {"id": pool_id}).data["directoryPool"]
    campaigns = run_operation(request, "campaigns_list", {"status": "ACTIVE", "first": 100}).data["campaigns"]
    form = ProposeForm(request.POST or None, campaigns=[e["node"] for e in campaigns["edges"]])
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        placement_input = {"campaignId": data["campaign_id"], "poolId": pool_id, "quota": data["quota"]}
        if data["publisher_share_bps"] is not None:
            placement_input["publisherShareBps"] = data["publisher_share_bps"]
        payload = run_operation(request, "campaigns_placement_propose", {"input": placement_input}).data[
            "placementPropose"
        ]
        if not payload["errors"]:
            placement = payload["placement"]
            if placement["status"] == "ACCEPTED":
                messages.success(
                    request, _("Proposed to %(pool)s and accepted at once.") % {"pool": pool["name"]}
                )
            else:
                messages.success(request, _("Proposed to %(pool)s.") % {"pool": pool["name"]})
            return redirect("console:placements")
        add_api_errors(form, payload["errors"])
    return render(
        request,
        "console/directory/propose.html",
        {"form": form, "pool": pool, "has_campaigns": bool(campaigns["edges"])},
        status=400 if form.errors else 200,
    )


urlpatterns = [
    path("directory/", directory, name="directory"),
    path("directory/<gid:pool_id>/propose/", propose, name="directory-propose"),
]
NAV = [
    NavItem(
        label=_("Network directory"),
        url_name="console:directory",
        order=20,
        active_for=("console:directory-propose",),
    )
]
