"""API keys: create one (its secret shown once) and revoke one. Admins only, as in the API."""

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
ROLES = (
    ("BRAND", _("Brand: campaigns, placements, fans")),
    ("FINANCE", _("Finance: reports, ledger, invoices")),
    ("ADMIN", _("Admin: everything")),
)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Key name"), required=False, help_text=_("Where it is used, e.g. “CRM sync”.")
    )
    role = forms.ChoiceField(label=_("Role"), choices=ROLES)


def _page(request, *, form=None, status=200):
    keys = run_operation(request, "merchants_api_keys", {"first": PAGE_SIZE}).data["apiKeys"]
    context = {"keys": keys, "rows": [e["node"] for e in keys["edges"]], "form": form or ApiKeyForm()}
    return render(request, "console/keys/list.html", context, status=status)


@console_page(roles=ADMINS)
def key_list(request):
    return _page(request)


@never_cache  # the secret is on this page once: no copy in any cache
@require_POST
@console_page(roles=ADMINS)
def key_create(request):
    form = ApiKeyForm(request.POST)
    if form.is_valid():
        payload = run_operation(request, "merchants_api_key_create", {"input": form.cleaned_data}).data[
            "apiKeyCreate"
        ]
        errors = payload_errors(payload)
        if not errors:
            return render(
                request, "console/keys/secret.html", {"key": payload["apiKey"], "secret": payload["secret"]}
            )
        add_api_errors(form, errors)
    return _page(request, form=form, status=400)


@require_POST
@console_page(roles=ADMINS)
def key_revoke(request, id):
    payload = run_operation(request, "merchants_api_key_revoke", {"id": id}).data["apiKeyRevoke"]
    errors = payload_errors(payload)
    if errors:
        for error in errors:
            messages.error(request, error["message"], extra_tags=f"code-{error['code']}")
    else:
        messages.success(request, gettext("Key revoked: requests with it are refused from now on."))
    return redirect("console:api-keys")


urlpatterns = [
    path("api-keys/", key_list, name="api-keys"),
    path("api-keys/new/", key_create, name="api-key-create"),
    path("api-keys/<gid:id>/revoke/", key_revoke, name="api-key-revoke"),
]
NAV = [NavItem(label=_("API keys"), url_name="console:api-keys", order=60, roles=ADMINS)]
