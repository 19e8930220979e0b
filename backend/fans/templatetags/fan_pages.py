"""Formatting for the fan pages: amounts from minor units (one filter), offers, statuses."""

from __future__ import annotations

import math

from django import template
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from backend.api.currencies import format_minor

register = template.Library()

SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "JPY": "¥", "HKD": "HK$", "GBP": "£"}


@register.filter
def money(amount: int | None, currency: str) -> str:
    """'500', 'CNY' -> '¥5.00'. Integer minor units in, never a float."""
    if amount is None:
        return ""
    text = format_minor(amount, currency)
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{currency} {text}"


@register.simple_tag
def benefit(campaign) -> str:
    kind = campaign.benefit_kind
    if kind == "amount_off":
        return gettext("%(amount)s off") % {"amount": money(campaign.amount_off, campaign.currency)}
    if kind == "percent_off":
        percent = f"{campaign.percent_off_bps / 100:g}"
        if campaign.percent_cap:
            return gettext("%(percent)s%% off, up to %(cap)s") % {
                "percent": percent,
                "cap": money(campaign.percent_cap, campaign.currency),
            }
        return gettext("%(percent)s%% off") % {"percent": percent}
    return gettext("Free %(item)s") % {"item": campaign.free_item_name}


@register.simple_tag
def coupon_state(coupon, viewer_fan_id=None) -> str:
    """The state a fan sees: issued coupons past their end show as expired; a coupon this
    fan gave away shows as given."""
    if viewer_fan_id is not None and coupon.fan_id != viewer_fan_id:
        return "given"
    if coupon.status == "issued" and coupon.valid_until and coupon.valid_until <= timezone.now():
        return "expired"
    return coupon.status


STATE_LABELS = {
    "issued": lambda: gettext("Ready to use"),
    "redeemed": lambda: gettext("Used"),
    "expired": lambda: gettext("Expired"),
    "revoked": lambda: gettext("Revoked"),
    "given": lambda: gettext("Given to a friend"),
}


@register.filter
def state_label(state: str) -> str:
    return STATE_LABELS.get(state, lambda: state)()


@register.simple_tag
def time_left(coupon) -> str:
    if not coupon.valid_until:
        return gettext("No end date")
    left = coupon.valid_until - timezone.now()
    if left.total_seconds() <= 0:
        return ""
    days = math.ceil(left.total_seconds() / 86400)
    if left.days >= 1:
        return ngettext("%(count)d day left", "%(count)d days left", days) % {"count": days}
    hours = max(1, int(left.total_seconds() // 3600))
    return ngettext("%(count)d hour left", "%(count)d hours left", hours) % {"count": hours}
