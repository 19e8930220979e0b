"""Template helpers of the console: amounts (one filter, shared with the fan pages), form
fields with the API's error codes, the active nav entry, and API ids in URLs."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from backend.fans.templatetags.fan_pages import money as _money

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    """'500', 'CNY' -> '¥5.00': integer minor units in (the API's Money), never a float."""
    return _money(amount, currency)


@register.filter
def basis_points(value) -> str:
    """1500 -> '15%' (shares and percentages are basis points in the API)."""
    if value is None:
        return ""
    whole, rest = divmod(int(value), 100)
    return f"{whole}%" if rest == 0 else f"{whole}.{rest:02d}".rstrip("0") + "%"


@register.filter
def nav_is_active(item, view_name) -> bool:
    return item.is_active(view_name)


@register.inclusion_tag("console/_field.html")
def field(bound_field, **attrs):
    """A labelled form field with its errors, each with the API's code as data-code."""
    return {"field": bound_field, "errors": bound_field.errors.as_data(), "attrs": attrs}


@register.inclusion_tag("console/_form_errors.html")
def form_errors(form):
    return {"errors": form.non_field_errors().as_data()}


# With a context: "Accepted" alone is the till's "write-off accepted" (核销成功).
STATUS_LABELS = {
    "DRAFT": pgettext_lazy("status", "Draft"),
    "ACTIVE": pgettext_lazy("status", "Active"),
    "PAUSED": pgettext_lazy("status", "Paused"),
    "ENDED": pgettext_lazy("status", "Ended"),
    "PROPOSED": pgettext_lazy("status", "Proposed"),
    "ACCEPTED": pgettext_lazy("status", "Accepted"),
    "DECLINED": pgettext_lazy("status", "Declined"),
}


@register.filter
def status_label(value: str) -> str:
    return STATUS_LABELS.get(str(value).upper(), value)


ROLE_LABELS = {"admin": _("Admin"), "brand": _("Brand"), "finance": _("Finance")}


@register.filter
def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)
