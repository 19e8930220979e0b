"""django-allauth's side of the console: sign-up creates a merchant with its first admin.

The sign-up form asks for the business's name besides email and password;
``merchant_sign_up`` (merchants' service) makes the merchant and the admin Membership. With
CONSOLE_SIGNUP_REQUIRES_APPROVAL the merchant waits for an operator's approval in /admin/.
This is the console's one write that is not an API operation: nobody is signed in yet, and
the API has no anonymous mutations (docs/decisions.md).
"""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from backend.merchants.services import merchant_sign_up


class ConsoleAccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        return super().get_login_redirect_url(request) or reverse("console:home")

    def is_open_for_signup(self, request) -> bool:
        return settings.CONSOLE_SIGNUP_OPEN


# Sign-ups that continue to an invitation link join an existing merchant (backend.team).
INVITATION_PATH = "/invitations/"


class SignupForm(forms.Form):
    """allauth calls ``signup`` after it created the user (ACCOUNT_SIGNUP_FORM_CLASS).

    A person signing up from an invitation link (``next`` is the link) joins that merchant
    when they accept it: the business name may stay empty and no merchant is made then."""

    merchant_name = forms.CharField(
        label=_("Business name"),
        max_length=200,
        required=False,
        help_text=_("Your shop or brand, as other merchants will see it."),
    )

    def joining(self) -> bool:
        return str(self.data.get("next") or "").startswith(INVITATION_PATH)

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("merchant_name") or "").strip() and not self.joining():
            self.add_error(
                "merchant_name", forms.ValidationError(_("This field is required."), code="required")
            )
        return cleaned

    def signup(self, request, user) -> None:
        if not (self.cleaned_data.get("merchant_name") or "").strip() and self.joining():
            return  # a member-to-be: the invitation makes the membership
        merchant_sign_up(
            user=user,
            name=self.cleaned_data["merchant_name"],
            requires_approval=settings.CONSOLE_SIGNUP_REQUIRES_APPROVAL,
        )
