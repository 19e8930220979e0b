"""Team: members (change a role, remove) and invitations (invite by email, revoke).

Admins only; every read and write is a documented team_* operation, so a page refusal and
an API refusal are the same code. Forms post back to this view; an htmx post gets the
``_team.html`` partial, a plain post a redirect (or the page with the form's errors).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _

from backend.console.access import console_page
from backend.console.forms import add_api_errors
from backend.console.nav import NavItem
from backend.console.operations import payload_errors, run_operation

ADMIN_ONLY = ("admin",)
ROLE_CHOICES = [("ADMIN", _("Admin")), ("BRAND", _("Brand")), ("FINANCE", _("Finance"))]
PAGE_SIZE = 100


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES, initial="BRAND")


class RoleForm(forms.Form):
    id = forms.CharField(widget=forms.HiddenInput, max_length=200)
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES)


class IdForm(forms.Form):
    id = forms.CharField(widget=forms.HiddenInput, max_length=200)


def _context(request, invite_form=None, row_errors=None):
    members = run_operation(request, "team_members", {"first": PAGE_SIZE}).data["members"]
    invitations = run_operation(request, "team_invitations", {"first": PAGE_SIZE}).data["invitations"]
    return {
        "members": [edge["node"] for edge in members["edges"]],
        "member_count": members["totalCount"],
        "invitations": [edge["node"] for edge in invitations["edges"]],
        "invite_form": invite_form or InviteForm(),
        "role_choices": ROLE_CHOICES,
        "row_errors": row_errors or {},
    }


def _post(request):
    """Runs the posted action; returns (invite form with errors or None, {row id: errors})."""
    action = request.POST.get("action")
    if action == "invite":
        form = InviteForm(request.POST)
        if not form.is_valid():
            return form, {}
        payload = run_operation(request, "team_member_invite", {"input": dict(form.cleaned_data)}).data[
            "memberInvite"
        ]
        errors = payload_errors(payload)
        if errors:
            add_api_errors(form, errors)
            return form, {}
        messages.success(
            request, _("Invitation sent to %(email)s.") % {"email": payload["invitation"]["email"]}
        )
        return None, {}
    forms_by_action = {
        "role": (RoleForm, "team_member_role_change", "memberRoleChange", _("Role changed.")),
        "remove": (IdForm, "team_member_remove", "memberRemove", _("Member removed.")),
        "revoke": (IdForm, "team_invitation_revoke", "invitationRevoke", _("Invitation revoked.")),
    }
    if action not in forms_by_action:
        return None, {}
    form_class, operation, field, done = forms_by_action[action]
    form = form_class(request.POST)
    if not form.is_valid():
        return None, {request.POST.get("id", ""): [{"code": "INVALID", "message": str(_("Check the form."))}]}
    payload = run_operation(request, operation, dict(form.cleaned_data)).data[field]
    errors = payload_errors(payload)
    if errors:
        return None, {form.cleaned_data["id"]: errors}
    messages.success(request, done)
    return None, {}


@console_page(roles=ADMIN_ONLY)
def team(request):
    invite_form, row_errors = None, {}
    if request.method == "POST":
        invite_form, row_errors = _post(request)
        if invite_form is None and not row_errors and not request.headers.get("HX-Request"):
            return redirect("console:team")
    context = _context(request, invite_form, row_errors)
    status = 400 if (invite_form is not None and invite_form.errors) or row_errors else 200
    if request.headers.get("HX-Request"):
        context["htmx"] = True
        return render(request, "console/team/_team.html", context, status=status)
    return render(request, "console/team/team.html", context, status=status)


urlpatterns = [path("team/", team, name="team")]
NAV = [NavItem(label=_("Team"), url_name="console:team", order=90, roles=ADMIN_ONLY)]
