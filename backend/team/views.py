"""The invitation link: /invitations/<token>/. The invitee signs in (or signs up) with the
invited address and accepts; then the console opens on the merchant they joined.

A plain view over the team's services, like the fan pages: the invitee is not yet a member,
so there is no member Caller to run an API operation as.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from backend.api.errors import ServiceError

from . import selectors, services
from .models import Invitation

# backend.console.members.SESSION_KEY: the merchant the console shows (the team app sits
# below the console and may not import it; a test checks the two agree).
CONSOLE_MERCHANT_SESSION_KEY = "console_merchant_id"


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    found = selectors.invitation_by_token(token=token)
    if found is None:
        return render(request, "team/invitation.html", {"unknown": True}, status=404)
    status = found.status_at(timezone.now())
    signed_in = request.user.is_authenticated
    email_matches = signed_in and (request.user.email or "").strip().lower() == found.email
    error = None
    if request.method == "POST":
        if not signed_in:
            return redirect(f"/accounts/login/?next={request.path}")
        try:
            services.invitation_accept(token=token, user=request.user)
        except ServiceError as exc:
            error = exc.errors[0]
        else:
            request.session[CONSOLE_MERCHANT_SESSION_KEY] = found.merchant_id
            return redirect("/console/")
    context = {
        "invitation": found,
        "merchant_name": found.merchant.name,
        "open": status == Invitation.Status.OPEN,
        "status": status,
        "signed_in": signed_in,
        "email_matches": email_matches,
        "error": error,
        "next": request.path,
    }
    return render(request, "team/invitation.html", context, status=400 if error else 200)
