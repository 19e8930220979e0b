"""A member signs in to the console in a real browser and sees their campaigns."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

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
    expect(page.get_by_role("heading", name="Sign In")).to_be_visible()
    sign_in(page, live_server, member, next_path="/")
    page.get_by_role("link", name="Campaigns").click()
    page.wait_for_url(re.compile("/console/campaigns/"))

    expect(page.get_by_role("heading", name="Campaigns")).to_be_visible()
    expect(page.get_by_role("rowheader", name="5 off any dessert")).to_be_visible()
    expect(page.get_by_role("rowheader", name="Winter draft")).to_be_visible()
    assert page.get_by_text("Someone else's").count() == 0
    assert page.get_by_role("link", name="Campaigns").get_attribute("aria-current") == "page"
    save_product_screenshot(page, "console-campaigns-en")


def test_admin_answers_the_totp_prompt(live_server, console_page, member_factory):
    member = member_factory("admin")
    page = console_page(member)
    expect(page.get_by_role("heading", name=member.merchant.name)).to_be_visible()


@pytest.mark.parametrize("locale", ["zh-CN"])
def test_the_console_in_chinese(live_server, console_page, member_factory):
    merchant = MerchantFactory(name="甜勺甜品")
    member = member_factory("brand", merchant=merchant)
    active_campaign(merchant=merchant, name="甜品立减5元", amount_off=500)
    page = console_page(member, next_path="/console/campaigns/")
    expect(page.get_by_role("heading", name="营销活动")).to_be_visible()
    expect(page.get_by_role("columnheader", name="每次核销服务费")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="甜品立减5元").get_by_text("进行中")).to_be_visible()
    save_product_screenshot(page, "console-campaigns-zh")


def test_the_language_switch(live_server, console_page, member_factory):
    page = console_page(member_factory("brand"), next_path="/console/campaigns/")
    page.get_by_role("button", name="简体中文").click()
    expect(page.get_by_role("heading", name="营销活动")).to_be_visible()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Campaigns")).to_be_visible()


def test_the_campaign_list_counters_update_by_themselves(live_server, console_page, member_factory):
    member = member_factory("brand")
    campaign = active_campaign(merchant=member.merchant, name="Live counters", max_redemptions=100)
    page = console_page(member, next_path="/console/campaigns/")
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Live counters"))
    expect(row.locator("[data-counter=redeemed]")).to_have_text("0 / 100")
    slot = campaign.slots.order_by("slot").first()
    campaign.slots.filter(pk=slot.pk).update(redeemed_count=2, spent_amount=240)
    # htmx polls the same view every few seconds and swaps the rows in: no reload.
    expect(row.locator("[data-counter=redeemed]")).to_have_text("2 / 100", timeout=15_000)
    expect(row.locator("[data-counter=spent]")).to_have_text("¥2.40")
