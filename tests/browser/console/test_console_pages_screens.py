"""Every console-core page renders in both languages in Chromium (with product screenshots:
SAVE_SCREENSHOTS=1 writes them to docs/screenshots/)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backend.campaigns.models import Placement
from tests.browser.screenshots import save_product_screenshot
from tests.factories import (
    CampaignFactory,
    FanPoolFactory,
    MerchantFactory,
    PlacementFactory,
    active_campaign,
)

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = [
    ("home", "/console/", {"en": "Sweet Spoon Desserts", "zh": "Sweet Spoon Desserts"}),
    ("campaigns", "/console/campaigns/", {"en": "Campaigns", "zh": "营销活动"}),
    ("campaign-create", "/console/campaigns/new/", {"en": "New campaign", "zh": "新建活动"}),
    ("directory", "/console/directory/", {"en": "Network directory", "zh": "网络目录"}),
    ("placements", "/console/placements/", {"en": "Placements", "zh": "投放"}),
]


def scene(member_factory):
    issuer = MerchantFactory(name="Sweet Spoon Desserts")
    member = member_factory("brand", merchant=issuer)
    live = active_campaign(merchant=issuer, name="5 off any dessert", budget_cap=100_000, max_redemptions=500)
    live.slots.filter(pk=live.slots.order_by("slot").first().pk).update(redeemed_count=3, spent_amount=360)
    CampaignFactory(merchant=issuer, name="Winter hot chocolate")
    publisher = MerchantFactory(name="Mochi Cartoon")
    FanPoolFactory(merchant=publisher, name="Mochi Fans", is_listed=True, categories=["cartoon", "family"])
    FanPoolFactory(
        merchant=MerchantFactory(name="Bean There Coffee"),
        name="Coffee lovers",
        is_listed=True,
        categories=["coffee"],
    )
    own_pool = FanPoolFactory(merchant=issuer, name="Sweet Spoon members", auto_accept_min_share_bps=4000)
    incoming = active_campaign(merchant=publisher, name="Mochi plush 20% off")
    PlacementFactory(
        campaign=incoming, pool=own_pool, status=Placement.Status.PROPOSED, decided_at=None, quota=300
    )
    return member


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_renders(live_server, console_page, new_context, member_factory, lang):
    member = scene(member_factory)
    locale = "en-US" if lang == "en" else "zh-CN"
    signed_out = new_context(locale=locale).new_page()
    for name, path in [("sign-in", "/accounts/login/"), ("sign-up", "/accounts/signup/")]:
        signed_out.goto(f"{live_server.url}{path}")
        save_product_screenshot(signed_out, f"console-{name}-{lang}")
    page = console_page(member, locale=locale)
    problems = []  # CSP refusals and script errors: the pages must work under their policy
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    for name, path, heading in PAGES:
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_role("heading", level=1).first).to_contain_text(heading[lang])
        save_product_screenshot(page, f"console-{name}-{lang}")
    assert problems == []
