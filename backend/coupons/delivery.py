"""Delivery links: a bearer link per coupon that opens the coupon's page (/d/<token>/).

The token is the coupon id with an HMAC of it (no row per coupon: a million pre-issued
coupons have a million links at no cost). It is as secret as the code it shows.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.urls import reverse


def _mac(coupon_id: int) -> str:
    key = f"coupon-delivery:{settings.SECRET_KEY}".encode()
    return hmac.new(key, str(coupon_id).encode(), hashlib.sha256).hexdigest()[:24]


def delivery_token(coupon_id: int) -> str:
    return f"{coupon_id}-{_mac(coupon_id)}"


def coupon_id_of(token: str) -> int | None:
    """The coupon id named by a delivery token, or None if it was not made by us."""
    raw_id, _, mac = (token or "").partition("-")
    if not (raw_id.isascii() and raw_id.isdigit() and mac.isascii()):  # "²" is a digit to isdigit()
        return None
    if not hmac.compare_digest(mac, _mac(int(raw_id))):
        return None
    return int(raw_id)


def delivery_url(coupon_id: int) -> str:
    return settings.FANS_PUBLIC_URL.rstrip("/") + reverse(
        "fans:coupon-delivery", kwargs={"token": delivery_token(coupon_id)}
    )
