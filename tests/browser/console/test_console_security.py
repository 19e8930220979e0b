"""The console's doors, tried in a real browser: roles, other merchants' ids, CSRF, expired
sessions, and the second factor where the role needs it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from backend.api import ids
from backend.audience.models import FanImport
from backend.audit.models import AuditEntry
from backend.campaigns.models import Campaign
from backend.coupons.models import IssuanceJob
from backend.team.models import Invitation
from billing.models import BillingPeriod, Invoice
from tests.browser.console.conftest import sign_in
from tests.factories import (
    CampaignFactory,
    MerchantFactory,
    PlacementFactory,
    active_campaign,
    pool_with_fans,
)


def gid_in_url(type_name: str, pk: int) -> str:
    """The API's id as the console writes it in a URL (URL-safe base64, the gid converter)."""
    return ids.encode(type_name, pk).replace("+", "-").replace("/", "_")


pytestmark = pytest.mark.django_db(transaction=True)


def csrf_token(page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")


def test_finance_finds_no_create_control_and_a_forged_post_is_forbidden(
    live_server, console_page, member_factory
):
    finance = member_factory("finance")
    draft = CampaignFactory(merchant=finance.merchant, name="Winter draft")
    page = console_page(finance, next_path="/console/campaigns/")
    page.get_by_role("heading", name="Campaigns").wait_for()
    assert page.get_by_role("rowheader", name="Winter draft").is_visible()
    create = re.compile(r"(create|new) campaign", re.I)
    assert page.get_by_role("link", name=create).count() == 0
    assert page.get_by_role("button", name=create).count() == 0
    assert page.get_by_role("button", name=re.compile("^Activate$")).count() == 0

    # A forged form post with a valid session and CSRF token: the create form, and a move
    # whose page has no role guard at all, so the API itself answers.
    token = csrf_token(page)
    headers = {"Referer": f"{live_server.url}/console/campaigns/", "X-CSRFToken": token}
    forged = page.request.post(
        f"{live_server.url}/console/campaigns/new/",
        form={
            "csrfmiddlewaretoken": token,
            "name": "Forged",
            "benefit_kind": "AMOUNT_OFF",
            "amount_off": "5",
            "currency": "CNY",
            "fee_per_redemption": "1.20",
            "publisher_share_bps": "50",
            "valid_days_after_issue": "30",
        },
        headers=headers,
    )
    assert forged.status == 403 and 'data-code="FORBIDDEN"' in forged.text()
    activate = page.request.post(
        f"{live_server.url}/console/campaigns/{gid_in_url('Campaign', draft.pk)}/activate/",
        form={"csrfmiddlewaretoken": token},
        headers=headers,
    )
    assert activate.status == 403 and 'data-code="FORBIDDEN"' in activate.text()
    assert not Campaign.objects.filter(name="Forged").exists()
    assert Campaign.objects.get(pk=draft.pk).status == "draft"
    assert not AuditEntry.objects.exists()


def test_another_merchants_ids_are_not_found(live_server, console_page, member_factory):
    mine = member_factory("admin")
    theirs = MerchantFactory(name="Bean There")
    campaign = active_campaign(merchant=theirs, name="Their secret offer")
    pool = pool_with_fans(1, merchant=theirs)
    placement = PlacementFactory(campaign=campaign, pool=pool)
    job = IssuanceJob.objects.create(placement=placement, requested_by=theirs, status="succeeded")
    fan_import = FanImport.objects.create(merchant=theirs, pool=pool, file_path="", status="succeeded")
    period = BillingPeriod.objects.create(issuer=theirs, period_start=dt.date(2026, 10, 1), status="closed")
    invoice = Invoice.objects.create(
        billing_period=period,
        issuer=theirs,
        period_start=period.period_start,
        currency="CNY",
        amount=120,
        line_count=1,
        status="paid",
        key=f"theirs-{theirs.pk}",
    )
    page = console_page(mine)
    for path in (
        f"/console/invoices/{gid_in_url('BillingInvoice', invoice.pk)}/",
        f"/console/issuance/{gid_in_url('IssuanceJob', job.pk)}/",
        f"/console/imports/{gid_in_url('FanImport', fan_import.pk)}/",
    ):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 404, path
        assert page.locator('[data-code="NOT_FOUND"]').count() >= 1, path
        assert "Bean There" not in page.content() and "Their secret offer" not in page.content()
    # a write with their id: the API answers NOT_FOUND and nothing moves
    page.goto(f"{live_server.url}/console/placements/")
    token = csrf_token(page)
    page.request.post(
        f"{live_server.url}/console/campaigns/{gid_in_url('Campaign', campaign.pk)}/pause/",
        form={"csrfmiddlewaretoken": token},
        headers={"Referer": f"{live_server.url}/console/campaigns/"},
    )
    assert Campaign.objects.get(pk=campaign.pk).status == "active"
    page.goto(f"{live_server.url}/console/activity/?target={ids.encode('Campaign', campaign.pk)}")
    assert page.locator("tr[data-operation]").count() == 0


def test_posts_without_csrf_are_refused(live_server, console_page, member_factory):
    admin = member_factory("admin")
    page = console_page(admin, next_path="/console/team/")
    for path, form in (
        ("/console/team/", {"action": "invite", "email": "mallory@example.com", "role": "ADMIN"}),
        ("/console/switch/", {"merchant": str(admin.merchant.pk)}),
        ("/accounts/logout/", {}),
    ):
        response = page.request.post(f"{live_server.url}{path}", form=form)
        assert response.status == 403, path
    assert not Invitation.objects.exists()
    page.reload()
    assert page.get_by_role("heading", name="Team").is_visible()  # still signed in


def test_an_expired_session_returns_to_sign_in(live_server, console_page, member_factory):
    member = member_factory("brand")
    page = console_page(member, next_path="/console/campaigns/")
    Session.objects.update(expire_date=timezone.now() - timezone.timedelta(seconds=1))
    page.goto(f"{live_server.url}/console/campaigns/")
    page.wait_for_url(re.compile(r"/accounts/login/\?next=/console/campaigns/"))
    assert page.get_by_role("heading", name="Sign In").is_visible()


def test_mfa_is_asked_where_the_role_needs_it(live_server, new_context, member_factory):
    finance = member_factory("finance")
    page = new_context().new_page()
    page.goto(f"{live_server.url}/console/")
    page.get_by_label(re.compile("^Email")).fill(finance.email)
    page.get_by_label(re.compile("^Password")).fill(finance.password)
    page.get_by_role("button", name=re.compile("^Sign In$")).click()
    code = page.get_by_label(re.compile("^Code"))
    code.wait_for()
    assert re.search(r"/console/", page.url) is None  # not in before the second factor
    code.fill(finance.totp_code())
    page.get_by_role("button", name=re.compile("^Sign In$")).click()
    page.wait_for_url(re.compile(r"/console/$"))

    admin_without = member_factory("admin", totp=False)
    page = new_context().new_page()
    sign_in(page, live_server, admin_without)
    page.wait_for_url(re.compile(r"/console/mfa-required/"))
    page.goto(f"{live_server.url}/console/team/")
    page.wait_for_url(re.compile(r"/console/mfa-required/"))

    brand = member_factory("brand")
    page = new_context().new_page()
    sign_in(page, live_server, brand)  # no code asked: the brand role does not need one
    assert page.get_by_label(re.compile("^Code")).count() == 0
