"""Stores and terminals: create a store, add a terminal (its signing secret shown once),
revoke a terminal, deactivate a store. Admins only, as in the API."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from backend.console.access import console_page
from backend.console.forms import add_api_errors
from backend.console.nav import NavItem
from backend.console.operations import payload_errors, run_operation

ADMINS = ("admin",)
PAGE_SIZE = 100


class StoreForm(forms.Form):
    # Blank is let through: the API says what is wrong with it (REQUIRED), in its words.
    name = forms.CharField(label=_("Store name"), required=False)
    address = forms.CharField(label=_("Address"), required=False)


class TerminalForm(forms.Form):
    store_id = forms.ChoiceField(label=_("Store"))
    name = forms.CharField(label=_("Terminal name"), required=False)

    def __init__(self, *args, stores: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store_id"].choices = [(s["id"], s["name"]) for s in stores if s["isActive"]]


def _lists(request) -> tuple[dict, dict]:
    stores = run_operation(request, "merchants_stores", {"first": PAGE_SIZE}).data["stores"]
    terminals = run_operation(request, "merchants_terminals", {"first": PAGE_SIZE}).data["terminals"]
    return stores, terminals


def _page(request, *, store_form=None, terminal_form=None, status=200):
    stores, terminals = _lists(request)
    store_nodes = [e["node"] for e in stores["edges"]]
    context = {
        "stores": stores,
        "store_rows": store_nodes,
        "terminals": terminals,
        "terminal_rows": [e["node"] for e in terminals["edges"]],
        "store_form": store_form or StoreForm(),
        "terminal_form": terminal_form or TerminalForm(stores=store_nodes),
    }
    return render(request, "console/stores/list.html", context, status=status)


@console_page(roles=ADMINS)
def store_list(request):
    return _page(request)


@require_POST
@console_page(roles=ADMINS)
def store_create(request):
    form = StoreForm(request.POST)
    if form.is_valid():
        payload = run_operation(request, "merchants_store_create", {"input": form.cleaned_data}).data[
            "storeCreate"
        ]
        errors = payload_errors(payload)
        if not errors:
            messages.success(request, gettext("Store “%s” created.") % payload["store"]["name"])
            return redirect("console:stores")
        add_api_errors(form, errors)
    return _page(request, store_form=form, status=400)


@require_POST
@console_page(roles=ADMINS)
def store_deactivate(request, id):
    payload = run_operation(request, "merchants_store_update", {"id": id, "input": {"isActive": False}}).data[
        "storeUpdate"
    ]
    _report(request, payload, gettext("Store deactivated: its terminals can no longer write off."))
    return redirect("console:stores")


@never_cache  # the secret is on this page once: no copy in any cache
@require_POST
@console_page(roles=ADMINS)
def terminal_create(request):
    stores, _terminals = _lists(request)
    form = TerminalForm(request.POST, stores=[e["node"] for e in stores["edges"]])
    if form.is_valid():
        payload = run_operation(
            request,
            "merchants_terminal_create",
            {"input": {"storeId": form.cleaned_data["store_id"], "name": form.cleaned_data["name"]}},
        ).data["terminalCreate"]
        errors = payload_errors(payload)
        if not errors:
            return render(
                request,
                "console/stores/secret.html",
                {"terminal": payload["terminal"], "secret": payload["secret"]},
            )
        add_api_errors(form, errors, fields={"storeId": "store_id"})
    return _page(request, terminal_form=form, status=400)


@require_POST
@console_page(roles=ADMINS)
def terminal_revoke(request, id):
    payload = run_operation(request, "merchants_terminal_revoke", {"id": id}).data["terminalRevoke"]
    _report(request, payload, gettext("Terminal revoked: its requests are refused from now on."))
    return redirect("console:stores")


def _report(request, payload: dict, success: str) -> None:
    errors = payload_errors(payload)
    if errors:
        for error in errors:
            messages.error(request, error["message"], extra_tags=f"code-{error['code']}")
    else:
        messages.success(request, success)


urlpatterns = [
    path("stores/", store_list, name="stores"),
    path("stores/new/", store_create, name="store-create"),
    path("stores/<gid:id>/deactivate/", store_deactivate, name="store-deactivate"),
    path("terminals/new/", terminal_create, name="terminal-create"),
    path("terminals/<gid:id>/revoke/", terminal_revoke, name="terminal-revoke"),
]
NAV = [NavItem(label=_("Stores and terminals"), url_name="console:stores", order=50, roles=ADMINS)]
