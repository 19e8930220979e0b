"""Template helpers of the console's job, report and finance pages: the API's timestamps
and states shown in the member's language."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

register = template.Library()


@register.filter
def when(value) -> str:
    """An API DateTime ("2026-12-02T19:20:00+00:00") in the server's time zone, as
    "2026-12-02 19:20" in every language (finance pages compare dates across rows)."""
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return formats.date_format(moment, "Y-m-d H:i")


STATE_LABELS = {
    # jobs, imports and exports
    "PENDING": pgettext_lazy("job", "Waiting"),
    "RUNNING": pgettext_lazy("job", "Running"),
    "SUCCEEDED": pgettext_lazy("job", "Done"),
    "FAILED": pgettext_lazy("job", "Failed"),
    # ledger lines
    "LOCKED": pgettext_lazy("ledger", "Locked"),
    "INVOICED": pgettext_lazy("ledger", "Invoiced"),
    "PAID": pgettext_lazy("ledger", "Paid"),
    "REVERSED": pgettext_lazy("ledger", "Reversed"),
    # invoices
    "DRAFT": pgettext_lazy("invoice", "Draft"),
    "OPEN": pgettext_lazy("invoice", "Open"),
    "PAYMENT_FAILED": pgettext_lazy("invoice", "Payment failed"),
    "SETTLED": pgettext_lazy("invoice", "Settled"),
    "MISMATCH": pgettext_lazy("invoice", "Mismatch"),
    # accounts and postings
    "ISSUER_RECEIVABLE": _("Owed by you (issuer)"),
    "PUBLISHER_PAYABLE": _("Owed to you (publisher)"),
    "PLATFORM_REVENUE": _("Network revenue"),
    "CHARGE": _("Charge"),
    "REVERSAL": _("Reversal"),
    "CREDIT": _("Credit"),
    # roles
    "ADMIN": _("Admin"),
    "BRAND": _("Brand"),
    "FINANCE": _("Finance"),
}


LEDGER_LABELS = {"PENDING": pgettext_lazy("ledger", "Pending")}


@register.filter
def state_label(value, context: str = "") -> str:
    """A state or kind from the API, in the member's language (the code itself if unknown).
    ``state|state_label:"ledger"`` for a ledger line's state."""
    key = str(value).upper()
    if context == "ledger" and key in LEDGER_LABELS:
        return LEDGER_LABELS[key]
    return STATE_LABELS.get(key, value)


@register.filter
def job_status(value) -> str:
    return state_label(value)


@register.filter
def get_item(mapping, key):
    """``{{ labels|get_item:code }}``: a dict's value in a template."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""
