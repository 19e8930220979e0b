"""The signed-in person as the API's caller: their Membership in the active merchant.

One person may belong to several merchants; the active one is kept in the session
(``SESSION_KEY``) and switched with :func:`switch_merchant`. The member's role is the
Caller's role, so the API's permission checks (backend.api.permissions) work unchanged.
"""

from __future__ import annotations

from django.http import HttpRequest

from backend.api.callers import Caller
from backend.merchants.selectors import memberships_of

SESSION_KEY = "console_merchant_id"
_MISSING = object()


def memberships(request: HttpRequest) -> list:
    """The signed-in person's memberships, merchants joined (one query per request)."""
    cached = getattr(request, "_console_memberships", _MISSING)
    if cached is _MISSING:
        user = getattr(request, "user", None)
        cached = list(memberships_of(user=user)) if user is not None and user.is_authenticated else []
        request._console_memberships = cached
    return cached


def active_membership(request: HttpRequest):
    """The membership of the merchant chosen in the session, else the first one; None if none."""
    rows = memberships(request)
    if not rows:
        return None
    chosen = request.session.get(SESSION_KEY)
    for membership in rows:
        if membership.merchant_id == chosen:
            return membership
    return rows[0]


def member_caller(request: HttpRequest) -> Caller | None:
    """The Caller the API sees for this request's member, None when not signed in or no member."""
    cached = getattr(request, "_console_caller", _MISSING)
    if cached is _MISSING:
        membership = active_membership(request)
        cached = (
            None
            if membership is None
            else Caller(
                merchant=membership.merchant, role=membership.role, user=request.user, membership=membership
            )
        )
        request._console_caller = cached
    return cached


def switch_merchant(request: HttpRequest, merchant_id: int) -> bool:
    """Makes ``merchant_id`` the active merchant if the person is a member of it."""
    if not any(m.merchant_id == merchant_id for m in memberships(request)):
        return False
    request.session[SESSION_KEY] = merchant_id
    for attr in ("_console_caller",):
        if hasattr(request, attr):
            delattr(request, attr)
    return True
