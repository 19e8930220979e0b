"""Activity: the merchant's audit trail (who changed what), filtered and paged.

Admins only; one documented operation, ``audit_trail``. The filter form is a GET form: the
URL is the filter, so a filtered page can be shared and reloaded; htmx swaps the rows.
"""

from __future__ import annotations

import datetime as dt
import json

from django import forms
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backend.console.access import console_page
from backend.console.nav import NavItem
from backend.console.operations import run_operation

ADMIN_ONLY = ("admin",)
PAGE_SIZE = 25
ACTOR_CHOICES = [
    ("", _("Anyone")),
    ("MEMBER", _("Members")),
    ("API_KEY", _("API keys")),
    ("STAFF", _("Network staff")),
]


class ActivityFilterForm(forms.Form):
    operation = forms.CharField(
        label=_("Operation"),
        required=False,
        max_length=100,
        help_text=_("A mutation name, e.g. apiKeyRevoke"),
    )
    actor = forms.ChoiceField(label=_("Who"), choices=ACTOR_CHOICES, required=False)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    target = forms.CharField(label=_("Object id"), required=False, max_length=200)


def _day_start(day: dt.date) -> str:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone()).isoformat()


def _filter_of(form: ActivityFilterForm) -> dict:
    data = form.cleaned_data if form.is_valid() else {}
    out: dict = {}
    if data.get("operation"):
        out["operations"] = [data["operation"].strip()]
    if data.get("actor"):
        out["actorKind"] = data["actor"]
    if data.get("since"):
        out["since"] = _day_start(data["since"])
    if data.get("until"):
        out["until"] = _day_start(data["until"] + dt.timedelta(days=1))  # the whole day
    if data.get("target"):
        out["targetId"] = data["target"].strip()
    return out


@console_page(roles=ADMIN_ONLY)
def activity(request):
    form = ActivityFilterForm(request.GET or None)
    variables = {"first": PAGE_SIZE, "after": request.GET.get("after") or None, "filter": _filter_of(form)}
    trail = run_operation(request, "audit_trail", variables).data["auditTrail"]
    rows = []
    for edge in trail["edges"]:
        node = dict(edge["node"])
        summary = json.loads(node["input"]) if isinstance(node["input"], str) else node["input"]
        node["when"] = node["createdAt"][:19].replace("T", " ")
        node["input_text"] = json.dumps(summary, ensure_ascii=False, sort_keys=True)
        rows.append(node)
    query = request.GET.copy()
    query.pop("after", None)
    reset_query = query.urlencode()
    if trail["pageInfo"]["hasNextPage"]:
        query["after"] = trail["pageInfo"]["endCursor"]
    context = {
        "form": form,
        "rows": rows,
        "total": trail["totalCount"],
        "next_query": query.urlencode() if trail["pageInfo"]["hasNextPage"] else None,
        "first_page": not request.GET.get("after"),
        "reset_query": reset_query,
    }
    if request.headers.get("HX-Request"):
        return render(request, "console/activity/_rows.html", context)
    return render(request, "console/activity/activity.html", context)


urlpatterns = [path("activity/", activity, name="activity")]
NAV = [NavItem(label=_("Activity"), url_name="console:activity", order=95, roles=ADMIN_ONLY)]
