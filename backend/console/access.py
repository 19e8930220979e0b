"""Who may open a console page: a signed-in member of an approved merchant, with MFA set up
where their role requires it. ``@console_page`` guards every page view (docs/console.md)."""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render

from .members import active_membership, member_caller


def mfa_required_for(role: str | None) -> bool:
    return role in settings.CONSOLE_MFA_REQUIRED_ROLES


def has_totp(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def console_page(view=None, *, roles: tuple[str, ...] | None = None):
    """Guards a page: sign-in, a membership, an approved merchant, TOTP for admin/finance.

    Sets ``request.caller`` (the member as the API's Caller). ``roles`` only hides a page
    from roles that could do nothing on it; the API still decides every read and write.
    """

    def decorate(func):
        @functools.wraps(func)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = active_membership(request)
            if membership is None:
                return render(request, "console/no_membership.html", status=403)
            if not membership.merchant.is_approved:
                return render(request, "console/awaiting_approval.html", status=403)
            if mfa_required_for(membership.role) and not has_totp(request.user):
                return redirect("console:mfa-required")
            caller = member_caller(request)
            if roles is not None and caller.role not in roles and caller.role != "admin":
                return render(request, "console/error.html", {"error": _forbidden()}, status=403)
            request.caller = caller
            return func(request, *args, **kwargs)

        wrapper.console_page = True
        return wrapper

    return decorate(view) if view is not None else decorate


def _forbidden():
    from .operations import ApiError

    return ApiError("FORBIDDEN", "Your role may not do this.")
