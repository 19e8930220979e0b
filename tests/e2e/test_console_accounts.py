"""People over HTTP: self-serve sign-up, email verification, approval, password reset, MFA."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from backend.merchants.models import Membership
from tests.factories import MerchantFactory, make_member

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough passphrase 7"


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    # allauth keeps its rate limits in the cache (Redis), across tests and runs.
    settings.ACCOUNT_RATE_LIMITS = False


def sign_up(client, email="owner@dessert.example", name="Dessert Lab 甜品实验室"):
    return client.post(
        "/accounts/signup/",
        {"email": email, "password1": PASSWORD, "password2": PASSWORD, "merchant_name": name},
    )


def confirmation_link(message) -> str:
    return re.search(r"https?://[^\s]+/accounts/confirm-email/[^\s]+/", message.body).group(0)


def test_sign_up_creates_a_merchant_with_its_first_admin_after_the_email_is_verified(client):
    response = sign_up(client)
    assert response.status_code == 302 and response.url == "/accounts/confirm-email/"
    membership = Membership.objects.select_related("merchant", "user").get(
        user__email="owner@dessert.example"
    )
    assert membership.role == "admin" and membership.merchant.name == "Dessert Lab 甜品实验室"
    assert membership.merchant.is_approved

    # Not signed in until the email is verified.
    assert client.get("/console/").status_code == 302
    (message,) = mail.outbox
    link = confirmation_link(message)
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200  # a page with a button, not a GET that confirms
    confirmed = client.post("/" + path)
    assert confirmed.status_code == 302
    # Signed in; an admin must set up TOTP before any page.
    assert client.get("/console/").url == "/console/mfa-required/"


def test_sign_up_can_wait_for_the_operators_approval(
    client, settings, admin_client, django_capture_on_commit_callbacks
):
    settings.CONSOLE_SIGNUP_REQUIRES_APPROVAL = True
    sign_up(client, email="wait@example.com", name="Waiting Tea")
    membership = Membership.objects.select_related("merchant").get(user__email="wait@example.com")
    assert not membership.merchant.is_approved
    client.force_login(membership.user)
    page = client.get("/console/")
    assert page.status_code == 403 and "Waiting for approval" in page.content.decode()

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/merchants/merchant/",
            {"action": "approve", "_selected_action": [membership.merchant.pk]},
        )
    membership.merchant.refresh_from_db()
    assert membership.merchant.is_approved
    assert client.get("/console/").status_code == 302  # on to TOTP set-up: the pages are open
    (approved,) = mail.outbox
    assert approved.to == ["wait@example.com"] and "Waiting Tea is approved" in approved.subject


def test_sign_up_without_a_business_name_is_refused(client):
    response = sign_up(client, name="")
    assert response.status_code == 200 and not Membership.objects.exists()


def test_sign_up_can_be_closed(client, settings):
    settings.CONSOLE_SIGNUP_OPEN = False
    response = sign_up(client)
    assert not Membership.objects.exists()
    assert response.status_code == 200 and "closed" in response.content.decode().lower()


def test_password_reset_by_email(client):
    member = make_member(MerchantFactory(), "brand")
    client.post("/accounts/password/reset/", {"email": member.email})
    (message,) = mail.outbox
    link = re.search(r"https?://[^\s]+/accounts/password/reset/key/[^\s]+/", message.body).group(0)
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    form_page = client.get(path, follow=True)
    action = form_page.redirect_chain[-1][0] if form_page.redirect_chain else path
    new = "another long passphrase 8"
    done = client.post(action, {"password1": new, "password2": new})
    assert done.status_code == 302
    assert (
        client.login(username=member.email, password=new)
        or client.post("/accounts/login/", {"login": member.email, "password": new}).status_code == 302
    )


def test_sign_in_asks_the_totp_code_of_admins(client):
    member = make_member(MerchantFactory(), "admin")
    response = client.post("/accounts/login/", {"login": member.email, "password": member.password})
    assert response.status_code == 302 and response.url == "/accounts/2fa/authenticate/"
    assert client.get("/console/").status_code == 302  # not signed in before the code
    done = client.post("/accounts/2fa/authenticate/", {"code": member.totp_code()})
    assert done.status_code == 302
    assert client.get("/console/").status_code == 200


def test_a_brand_member_is_not_asked_for_totp(client):
    member = make_member(MerchantFactory(), "brand")
    response = client.post("/accounts/login/", {"login": member.email, "password": member.password})
    assert response.status_code == 302 and response.url == "/console/"


def test_posts_without_csrf_are_refused(client):
    from django.test import Client

    member = make_member(MerchantFactory(), "brand")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member.user)
    assert strict.post("/console/switch/", {"merchant": member.merchant.pk}).status_code == 403
    assert (
        Client(enforce_csrf_checks=True)
        .post("/accounts/login/", {"login": member.email, "password": member.password})
        .status_code
        == 403
    )
