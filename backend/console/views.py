"""The console's own views that are not pages of the product: the root, the merchant switch,
and the "set up two-factor first" stop."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from .access import has_totp, mfa_required_for
from .members import active_membership, switch_merchant
from .responses import redirect_back


def root(request):
    """`/`: the console for a signed-in person, else sign-in."""
    if request.user.is_authenticated:
        return redirect("console:home")
    return redirect("account_login")


@require_POST
@login_required
def switch(request):
    try:
        merchant_id = int(request.POST.get("merchant", ""))
    except ValueError:
        return HttpResponseBadRequest("merchant")
    if not switch_merchant(request, merchant_id):
        return render(request, "console/no_membership.html", status=404)
    return redirect_back(request, "console:home")


@login_required
def mfa_required(request):
    """Admins and finance members set up an authenticator app before any page."""
    membership = active_membership(request)
    if membership is None or not mfa_required_for(membership.role) or has_totp(request.user):
        return redirect("console:home")
    return render(request, "console/mfa_required.html", {"membership": membership})
