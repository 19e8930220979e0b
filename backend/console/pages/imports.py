"""Fan imports: a CSV of consenting fans into one of the merchant's pools, with its progress.

The file goes to ``fanImportCreate`` as text (the API's limit: 1 MiB; larger files go to
``POST /imports/fans/<pool id>``). The list and each import's page poll while it runs.
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
MAX_BYTES = 1024 * 1024
UNFINISHED = ("PENDING", "RUNNING")
WRITERS = ("admin", "brand")


class FanImportForm(forms.Form):
    pool_id = forms.ChoiceField(label=_("Pool"))
    csv = forms.FileField(
        label=_("CSV file"),
        help_text=_("Header: phone, or open_id and platform; consented_at; optionally source. Up to 1 MiB."),
    )

    def __init__(self, *args, pools: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pool_id"].choices = [(p["id"], p["name"]) for p in pools]

    def clean_csv(self) -> str:
        upload = self.cleaned_data["csv"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 1 MiB."), code="TOO_LARGE")
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError(_("The file is not UTF-8 text."), code="INVALID") from None


def percent(item: dict) -> int:
    if item["totalRows"]:
        return min(100, item["processedRows"] * 100 // item["totalRows"])
    return 100 if item["status"] == "SUCCEEDED" else 0


def _with_progress(item: dict) -> dict:
    return {**item, "percent": percent(item), "unfinished": item["status"] in UNFINISHED}


def _pools(request) -> list[dict]:
    pools = run_operation(request, "audience_fan_pools", {"first": 100}).data["fanPools"]
    return [edge["node"] for edge in pools["edges"]]


@console_page
def import_list(request):
    imports = run_operation(
        request, "audience_fan_imports", {"first": PAGE_SIZE, "after": request.GET.get("after") or None}
    ).data["fanImports"]
    rows = [_with_progress(edge["node"]) for edge in imports["edges"]]
    context = {
        "imports": imports,
        "rows": rows,
        "polling": any(row["unfinished"] for row in rows),
        "poll_seconds": POLL_SECONDS,
    }
    if request.headers.get("HX-Request"):
        return render(request, "console/imports/_imports.html", context)
    form = FanImportForm(pools=_pools(request)) if request.caller.role in WRITERS else None
    return render(request, "console/imports/list.html", {**context, "form": form})


@console_page(roles=WRITERS)
def import_create(request):
    form = FanImportForm(request.POST or None, request.FILES or None, pools=_pools(request))
    if request.method == "POST" and form.is_valid():
        payload = run_operation(
            request,
            "audience_fan_import_create",
            {"poolId": form.cleaned_data["pool_id"], "csv": form.cleaned_data["csv"]},
        ).data["fanImportCreate"]
        errors = payload_errors(payload)
        if not errors:
            return redirect("console:fan-import", id=payload["fanImport"]["id"])
        add_api_errors(form, errors)
    return render(request, "console/imports/create.html", {"form": form}, status=400 if form.errors else 200)


@console_page
def import_detail(request, id):
    item = run_operation(request, "audience_fan_import", {"id": id}).data["fanImport"]
    if item is None:
        raise ApiError("NOT_FOUND", "Fan import not found.")
    context = {"item": _with_progress(item), "poll_seconds": POLL_SECONDS}
    template = (
        "console/imports/_progress.html"
        if request.headers.get("HX-Request")
        else "console/imports/detail.html"
    )
    return render(request, template, context)


urlpatterns = [
    path("imports/", import_list, name="fan-imports"),
    path("imports/new/", import_create, name="fan-import-create"),
    path("imports/<gid:id>/", import_detail, name="fan-import"),
]
SCREENS = [
    Screen("fan-imports", "/console/imports/", merchant=PUBLISHER),
    Screen("fan-import", "/console/imports/", merchant=PUBLISHER, follow="#import-rows tbody a"),
]
NAV = [
    NavItem(
        label=_("Fan imports"),
        url_name="console:fan-imports",
        order=45,
        active_for=("console:fan-import-create", "console:fan-import"),
    )
]
