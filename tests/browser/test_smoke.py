"""Chromium runs here and renders our pages' Chinese text with a real CJK font."""

import pytest

pytestmark = pytest.mark.urls("tests.browser.smoke_urls")


def test_chromium_renders_chinese_text(live_server, page):
    page.goto(f"{live_server.url}/smoke/")

    assert page.get_by_role("heading", name="领取优惠券").is_visible()
    # Without a CJK font every character is the same empty box: two different characters
    # rendering to identical pixels would mean tofu in every screenshot.
    first = page.locator("#a").screenshot()
    second = page.locator("#b").screenshot()
    assert first != second
