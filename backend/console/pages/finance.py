"""Finance: the ledger (balances and lines), invoices with their Stripe page and PDF, and the
publisher statement. Finance members (and admins), as in the API."""

from __future__ import annotations

import re

from django import forms
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backend.console.access import console_page
from backend.console.nav import NavItem
from backend.console.operations import ApiError, run_operation
from backend.console.screens import PUBLISHER, Screen

FINANCE = ("finance",)
PAGE_SIZE = 50
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
STATES = ("PENDING", "LOCKED", "INVOICED", "PAID", "REVERSED")
ACCOUNTS = ("ISSUER_RECEIVABLE", "PUBLISHER_PAYABLE")


class LedgerFilterForm(forms.Form):
    period = forms.RegexField(
        label=_("Month"), regex=PERIOD, required=False, widget=forms.TextInput(attrs={"type": "month"})
    )
    state = forms.ChoiceField(label=_("State"), required=False)
    account = forms.ChoiceField(label=_("Account"), required=False)

    def __init__(self, *args, **kwargs):
        from backend.console.templatetags.console_pages import state_label

        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("", _("All")), *((s, state_label(s)) for s in STATES)]
        self.fields["account"].choices = [("", _("All")), *((a, state_label(a)) for a in ACCOUNTS)]


def this_month() -> str:
    return timezone.localdate().strftime("%Y-%m")


@console_page(roles=FINANCE)
def ledger(request):
    form = LedgerFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    period = filters.get("period") or None
    variables = {
        "first": PAGE_SIZE,
        "after": request.GET.get("after") or None,
        "period": period,
        "state": filters.get("state") or None,
        "account": filters.get("account") or None,
    }
    lines = run_operation(request, "billing_ledger_lines", variables).data["ledgerLines"]
    balances = run_operation(request, "billing_ledger_balances", {"period": period}).data["ledgerBalances"]
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "form": form,
        "lines": lines,
        "rows": [e["node"] for e in lines["edges"]],
        "balances": balances,
        "period": period,
        "query": query.urlencode(),
    }
    return render(request, "console/finance/ledger.html", context)


@console_page(roles=FINANCE)
def invoice_list(request):
    invoices = run_operation(
        request, "billing_invoices", {"first": PAGE_SIZE, "after": request.GET.get("after") or None}
    ).data["billingInvoices"]
    context = {"invoices": invoices, "rows": [e["node"] for e in invoices["edges"]]}
    return render(request, "console/finance/invoices.html", context)


@console_page(roles=FINANCE)
def invoice_detail(request, id):
    invoice = run_operation(request, "billing_invoice", {"id": id}).data["billingInvoice"]
    if invoice is None:
        raise ApiError("NOT_FOUND", "Invoice not found.")
    lines = run_operation(request, "billing_ledger_lines", {"invoiceId": id, "first": PAGE_SIZE}).data[
        "ledgerLines"
    ]
    context = {"invoice": invoice, "lines": lines, "rows": [e["node"] for e in lines["edges"]]}
    return render(request, "console/finance/invoice.html", context)


@console_page(roles=FINANCE)
def statement(request):
    period = request.GET.get("period") or this_month()
    if not PERIOD.match(period):
        period = this_month()
    data = run_operation(request, "billing_publisher_statement", {"period": period}).data[
        "publisherStatement"
    ]
    return render(request, "console/finance/statement.html", {"statement": data, "period": period})


urlpatterns = [
    path("ledger/", ledger, name="ledger"),
    path("invoices/", invoice_list, name="invoices"),
    path("invoices/<gid:id>/", invoice_detail, name="invoice"),
    path("statement/", statement, name="statement"),
]
SCREENS = [
    Screen("invoice", "/console/invoices/", role="finance", follow="tbody a"),
    Screen("statement", "/console/statement/", role="finance", merchant=PUBLISHER),
]
NAV = [
    NavItem(label=_("Ledger"), url_name="console:ledger", order=80, roles=FINANCE),
    NavItem(
        label=_("Invoices"),
        url_name="console:invoices",
        order=85,
        roles=FINANCE,
        active_for=("console:invoice",),
    ),
    NavItem(label=_("Publisher statement"), url_name="console:statement", order=87, roles=FINANCE),
]
