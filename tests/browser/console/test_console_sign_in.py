"""A member signs in to the console in a real browser and sees their campaigns."""

from __future__ import annotations

import re

import pytest

from tests.browser.console.conftest import sign_in
from tests.browser.screenshots import save_product_screenshot
from tests.factories import CampaignFactory, MerchantFactory, active_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def test_root_signs_in_then_lists_the_campaigns(live_server, new_context, member_factory):
    merchant = MerchantFactory(name="Sweet Spoon 甜勺")
    member = member_factory("brand", merchant=merchant)
    active_campaign(merchant=merchant, name="5 off any dessert", amount_off=500)
    CampaignFactory(merchant=merchant, name="Winter draft")
    CampaignFactory(merchant=MerchantFactory(), name="Someone else's")

    page = new_context().new_page()
    page.goto(live_server.url)
    assert page.get_by_role("heading", name="Sign In").is_visible()
    sign_in(page, live_server, member, next_path="/")
    page.get_by_role("link", name="Campaigns").click()
    page.wait_for_url(re.compile("/console/campaigns/"))

    assert page.get_by_role("heading", name="Campaigns").is_visible()
    assert page.get_by_role("rowheader", name="5 off any dessert").is_visible()
    assert page.get_by_role("rowheader", name="Winter draft").is_visible()
    assert page.get_by_text("Someone else's").count() == 0
    assert page.get_by_role("link", name="Campaigns").get_attribute("aria-current") == "page"
    save_product_screenshot(page, "console-campaigns-en")


def test_admin_answers_the_totp_prompt(live_server, console_page, member_factory):
    member = member_factory("admin")
    page = console_page(member)
    assert page.get_by_role("heading", name=member.merchant.name).is_visible()
