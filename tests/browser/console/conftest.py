"""Console browser tests: a desktop window, and a member signed in through the real sign-in page.

    def test_something(live_server, console_page, member_factory):
        member = member_factory("brand")                  # a Member of a new merchant
        page = console_page(member)                       # signed in, on /console/
        page.get_by_role("link", name="Campaigns").click()

``sign_in(page, live_server, member)`` does the same on a page you opened yourself (a second
person: ``new_context``). Admin and finance members get TOTP set up by ``make_member``; the
sign-in answers allauth's code prompt with the code computed from their secret.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import _keep_failure_screenshots
from tests.factories import MerchantFactory, make_member

DESKTOP = {"width": 1280, "height": 860}


@pytest.fixture
def new_context(browser, request):
    """Like the fan pages' `new_context`, with a desktop window: the console is worked at a desk."""
    contexts = []

    def _open(*, locale: str = "en-US"):
        context = browser.new_context(
            locale=locale,
            extra_http_headers={"Accept-Language": locale},
            viewport=DESKTOP,
            device_scale_factor=1,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield _open
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for index, context in enumerate(contexts):
        if failed:
            _keep_failure_screenshots(context, request.node.nodeid, index)
        context.close()


@pytest.fixture
def member_factory(transactional_db):
    """member_factory("finance", merchant=m) -> a Member (a new merchant unless given)."""

    def _make(role: str = "brand", *, merchant=None, **kwargs):
        return make_member(merchant or MerchantFactory(), role, **kwargs)

    return _make


def sign_in(page, live_server, member, *, next_path: str = "/console/") -> None:
    """Signs ``member`` in through the sign-in page (and the TOTP prompt when they have one)."""
    page.goto(f"{live_server.url}{next_path}")
    page.get_by_label(re.compile("^(Email|电子邮件|邮箱)")).fill(member.email)
    page.get_by_label(re.compile("^(Password|密码)[:：]?$")).fill(member.password)
    page.get_by_role("button", name=re.compile("^(Sign In|登录)$")).click()
    if member.totp_secret:
        code = page.get_by_label(re.compile("^(Code|代码|验证码)"))
        code.fill(member.totp_code())
        page.get_by_role("button", name=re.compile("^(Sign In|登录)$")).click()
    page.wait_for_url(re.compile(re.escape(live_server.url) + r"/console/"))


@pytest.fixture
def console_page(new_context, live_server, locale):
    """console_page(member) -> a Playwright page signed in as ``member``, on the console home."""

    def _open(member, *, next_path: str = "/console/", locale: str = locale):
        page = new_context(locale=locale).new_page()
        sign_in(page, live_server, member, next_path=next_path)
        return page

    return _open
