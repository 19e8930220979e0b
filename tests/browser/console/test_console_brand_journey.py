"""A brand's first hour, in real Chromium: sign up, verify the email from the test outbox, set up
TOTP, create and activate a campaign, and propose it to the demo publisher's pool."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core import mail
from playwright.sync_api import expect

from backend.audience import demo as audience_demo
from backend.campaigns.models import Campaign, Placement
from backend.merchants.demo import seed_demo_network
from tests.browser.screenshots import save_product_screenshot
from tests.factories import fresh_totp_code

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a long enough passphrase 7"


def label(*names: str) -> re.Pattern:
    return re.compile("^(" + "|".join(re.escape(n) for n in names) + ")[:：]?$")


def test_a_brand_signs_up_verifies_sets_up_totp_launches_and_proposes(live_server, new_context):
    seed_demo_network()
    audience_demo.seed()  # Mochi Cartoon's listed pool "Mochi Fans"
    page = new_context().new_page()
    # Unique per run: allauth rate-limits verification mails per address (in Redis, across runs).
    email = f"owner-{uuid.uuid4().hex[:8]}@dessert-lab.example"

    # Sign up: the merchant and its first admin.
    page.goto(f"{live_server.url}/accounts/signup/")
    page.get_by_label(label("Email")).fill(email)
    page.get_by_label(label("Password")).fill(PASSWORD)
    page.get_by_label(label("Password (again)")).fill(PASSWORD)
    page.get_by_label(label("Business name")).fill("Dessert Lab 甜品实验室")
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()

    # The verification mail, from the test outbox.
    (message,) = [m for m in mail.outbox if email in m.to]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", message.body).group(0)
    page.goto(live_server.url + "/" + link.split("://", 1)[1].split("/", 1)[1])
    page.get_by_role("button", name="Confirm").click()

    # An admin must set up an authenticator app before any page.
    page.wait_for_url(re.compile("/console/mfa-required/"))
    page.get_by_role("link", name="Set up an authenticator app").click()
    # Signed in by the confirmation link, not a password: allauth asks for it before MFA changes.
    expect(page.get_by_role("heading", name="Confirm Access")).to_be_visible()
    page.get_by_label(label("Password")).fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    secret = page.get_by_label("Authenticator secret").input_value()
    page.get_by_label(label("Authenticator code")).fill(fresh_totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    page.wait_for_url(re.compile("/accounts/2fa/"))
    page.goto(f"{live_server.url}/console/")
    expect(page.get_by_role("heading", name="Dessert Lab 甜品实验室")).to_be_visible()

    # Create a campaign: the API's validation shows next to its field, with its code.
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label(label("Amount off")).fill("5.00")
    page.get_by_label(label("Fee per write-off")).fill("1.20")
    page.get_by_label(label("Publisher's share of the fee (%)")).fill("50")
    page.get_by_label(label("Valid for (days after issue)")).fill("30")
    page.get_by_role("button", name="Create campaign").click()
    name_error = page.locator(".field", has=page.get_by_label(label("Name"))).locator("[data-code]")
    assert name_error.get_attribute("data-code") == "REQUIRED"
    page.get_by_label(label("Name")).fill("5 off any dessert")
    page.get_by_role("button", name="Create campaign").click()
    page.wait_for_url(re.compile("/console/campaigns/$"))
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="5 off any dessert"))
    expect(row.get_by_text("Draft")).to_be_visible()
    row.get_by_role("button", name="Activate: 5 off any dessert").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="5 off any dessert"))
    expect(row.get_by_text("Active", exact=True)).to_be_visible()
    save_product_screenshot(page, "console-campaigns-en")

    # Propose it to the demo publisher.
    page.get_by_role("link", name="Network directory").click()
    page.get_by_label(label("Category")).fill("cartoon")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Propose a placement to Mochi Fans").click()
    page.get_by_label(label("Campaign")).select_option(label="5 off any dessert")
    page.get_by_label(label("Coupons to issue (quota)")).fill("100")
    page.get_by_role("button", name="Propose").click()
    page.wait_for_url(re.compile("/console/placements/"))
    expect(page.get_by_role("status").get_by_text("Proposed to Mochi Fans")).to_be_visible()

    campaign = Campaign.objects.get(name="5 off any dessert")
    assert campaign.status == "active" and campaign.merchant.name == "Dessert Lab 甜品实验室"
    placement = Placement.objects.get(campaign=campaign)
    assert placement.publisher.slug == "mochi-cartoon" and placement.quota == 100
    assert placement.status == "proposed"
