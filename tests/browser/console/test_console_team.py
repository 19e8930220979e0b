"""The team in a real browser: an admin invites, the invitee follows the emailed link, signs
up, verifies, accepts and sees the merchant; the activity page shows who did it."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from django.core import mail

from tests.browser.screenshots import save_product_screenshot
from tests.factories import MerchantFactory

LINK = re.compile(r"https?://[^\s]+/invitations/[A-Za-z0-9_-]+/")
CONFIRM = re.compile(r"https?://[^\s/]+(/accounts/confirm-email/[^\s]+)")


def _mailed_link(address: str, pattern: re.Pattern) -> re.Match:
    """The link ``pattern`` finds in the newest email to ``address`` that has one (the server
    thread sends it while the browser follows the redirect: wait a little)."""
    deadline = time.monotonic() + 10
    while True:
        for message in reversed([m for m in mail.outbox if address in m.to]):
            found = pattern.search(message.body)
            if found:
                return found
        if time.monotonic() > deadline:
            bodies = [m.body for m in mail.outbox]
            raise AssertionError(f"no email to {address} with {pattern.pattern}: {bodies}")
        time.sleep(0.1)


def test_admin_invites_and_the_invitee_joins(
    live_server, console_page, member_factory, new_context, mailoutbox
):
    merchant = MerchantFactory(name="Sweet Spoon")
    # a new address each run: allauth's rate limits (in the Redis cache) outlive a test
    grace = f"grace-{uuid.uuid4().hex[:8]}@example.com"
    admin = member_factory("admin", merchant=merchant, email="alice@example.com")
    page = console_page(admin, next_path="/console/team/")
    page.get_by_label(re.compile(r"^Email address")).fill(grace)
    page.get_by_label(re.compile(r"^Role[:：]?$")).select_option("BRAND")
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_role("cell", name=grace, exact=True).wait_for()
    assert page.locator('[data-status="OPEN"]').count() == 1

    link = _mailed_link(grace, LINK).group(0)
    invitee = new_context().new_page()
    invitee.goto(link)
    assert invitee.get_by_role("heading", name="Join Sweet Spoon").is_visible()
    invitee.get_by_role("link", name="Create an account").click()
    invitee.get_by_label(re.compile("^Email")).fill(grace)
    invitee.get_by_label(re.compile("^Password[:：]?$")).fill("a long passphrase 4 grace")
    invitee.get_by_label(re.compile("^Password \\(again\\)")).fill("a long passphrase 4 grace")
    invitee.get_by_role("button", name=re.compile("^Sign Up$")).click()
    # allauth writes https links outside DEBUG; the test server speaks http
    confirm = _mailed_link(grace, CONFIRM).group(1)
    invitee.goto(f"{live_server.url}{confirm}")
    invitee.get_by_role("button", name=re.compile("^Confirm$")).click()
    invitee.goto(link)
    invitee.get_by_role("button", name="Accept the invitation").click()
    invitee.wait_for_url(re.compile(r"/console/$"))
    assert "Sweet Spoon" in invitee.locator("#merchant-switch").inner_text()

    page.reload()
    assert page.locator('[data-status="ACCEPTED"]').count() == 1
    page.get_by_role("link", name="Activity").click()
    row = page.locator('tr[data-operation="memberInvite"]')
    assert row.count() == 1 and "alice@example.com" in row.inner_text()


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_screenshots_of_team_and_activity(live_server, console_page, member_factory, locale, mailoutbox):
    merchant = MerchantFactory(name="Sweet Spoon")
    admin = member_factory("admin", merchant=merchant, email="alice@example.com")
    member_factory("finance", merchant=merchant, email="fin@example.com")
    member_factory("brand", merchant=merchant, email="brand@example.com")
    page = console_page(admin, next_path="/console/team/", locale=locale)
    page.locator('input[name="email"]').fill("grace@example.com")
    page.locator('form [type="submit"]').nth(-1).wait_for()
    page.locator('select[name="role"]').last.select_option("FINANCE")
    page.locator('input[name="email"]').press("Enter")
    page.locator('[data-status="OPEN"]').wait_for()
    page.locator("#role-3").select_option("FINANCE")  # brand@example.com becomes finance
    page.locator("#role-3").locator("xpath=..").locator('[type="submit"]').click()
    page.wait_for_function("document.querySelector('#role-3').value === 'FINANCE'")
    suffix = "en" if locale == "en-US" else "zh"
    save_product_screenshot(page, f"console-team-{suffix}")
    page.goto(f"{live_server.url}/console/activity/")
    page.locator('tr[data-operation="memberInvite"]').wait_for()
    save_product_screenshot(page, f"console-activity-{suffix}")
