"""Issuance jobs: a publisher issues an accepted placement's coupons and watches the job.

The list and each job's page poll themselves (htmx, the same view answering with its
partial) while a job is pending or running, and stop once every job shown has finished.
"""

from __future__ import annotations

from django import forms
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _

from backend.console.access import console_page
from backend.console.forms import add_api_errors
from backend.console.nav import NavItem
from backend.console.operations import ApiError, payload_errors, run_operation
from backend.console.screens import PUBLISHER, Screen

PAGE_SIZE = 50
POLL_SECONDS = 1
UNFINISHED = ("PENDING", "RUNNING")
WRITERS = ("admin", "brand")


class IssuanceStartForm(forms.Form):
    placement_id = forms.ChoiceField(label=_("Placement"))

    def __init__(self, *args, placements: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["placement_id"].choices = [
            (p["id"], f"{offer_name(p)} · {p['issuerName']} → {p['poolName']}") for p in placements
        ]


def offer_name(placement: dict) -> str:
    """The campaign's name as either party sees it (a publisher sees the offer, not the campaign)."""
    return (placement.get("offer") or placement.get("campaign") or {}).get("name", "")


def percent(job: dict) -> int:
    """Whole percent issued; a finished job with nothing to issue is 100 %."""
    if job["total"]:
        return min(100, job["issued"] * 100 // job["total"])
    return 100 if job["status"] == "SUCCEEDED" else 0


def _with_progress(job: dict) -> dict:
    return {**job, "percent": percent(job), "unfinished": job["status"] in UNFINISHED}


def _accepted_placements(request) -> list[dict]:
    """The placements this member's merchant publishes and may issue (accepted ones)."""
    placements = run_operation(
        request, "campaigns_placements", {"side": "PUBLISHER", "status": "ACCEPTED", "first": 100}
    ).data["placements"]
    return [edge["node"] for edge in placements["edges"]]


def _placement_names(request) -> dict[str, str]:
    placements = run_operation(request, "campaigns_placements", {"first": 100}).data["placements"]
    return {e["node"]["id"]: offer_name(e["node"]) for e in placements["edges"]}


@console_page
def job_list(request):
    jobs = run_operation(
        request, "coupons_issuance_jobs", {"first": PAGE_SIZE, "after": request.GET.get("after") or None}
    ).data["issuanceJobs"]
    rows = [_with_progress(edge["node"]) for edge in jobs["edges"]]
    names = _placement_names(request) if rows else {}
    for row in rows:
        row["campaign_name"] = names.get(row["placementId"], "")
    context = {
        "jobs": jobs,
        "rows": rows,
        "polling": any(row["unfinished"] for row in rows),
        "poll_seconds": POLL_SECONDS,
    }
    if request.headers.get("HX-Request"):
        return render(request, "console/issuance/_jobs.html", context)
    form = None
    if request.caller.role in WRITERS:
        form = IssuanceStartForm(placements=_accepted_placements(request))
    return render(request, "console/issuance/list.html", {**context, "form": form})


@console_page(roles=WRITERS)
def job_start(request):
    placements = _accepted_placements(request)
    form = IssuanceStartForm(request.POST or None, placements=placements)
    if request.method == "POST" and form.is_valid():
        payload = run_operation(
            request, "coupons_issuance_start", {"input": {"placementId": form.cleaned_data["placement_id"]}}
        ).data["issuanceStart"]
        errors = payload_errors(payload)
        if not errors:
            return redirect("console:issuance-job", id=payload["job"]["id"])
        add_api_errors(form, errors)
    return render(request, "console/issuance/start.html", {"form": form}, status=400 if form.errors else 200)


@console_page
def job_detail(request, id):
    job = run_operation(request, "coupons_issuance_job", {"id": id}).data["issuanceJob"]
    if job is None:
        raise ApiError("NOT_FOUND", "Issuance job not found.")
    context = {"job": _with_progress(job), "poll_seconds": POLL_SECONDS}
    if request.headers.get("HX-Request"):
        return render(request, "console/issuance/_progress.html", context)
    names = _placement_names(request)
    context["campaign_name"] = names.get(job["placementId"], "")
    return render(request, "console/issuance/detail.html", context)


urlpatterns = [
    path("issuance/", job_list, name="issuance"),
    path("issuance/start/", job_start, name="issuance-start"),
    path("issuance/<gid:id>/", job_detail, name="issuance-job"),
]
SCREENS = [
    Screen("issuance", "/console/issuance/", merchant=PUBLISHER),
    Screen("issuance-job", "/console/issuance/", merchant=PUBLISHER, follow="#job-rows tbody a"),
]
NAV = [
    NavItem(
        label=_("Issuance"),
        url_name="console:issuance",
        order=40,
        active_for=("console:issuance-start", "console:issuance-job"),
    )
]
