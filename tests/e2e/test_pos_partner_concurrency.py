"""Partner tills and the issuer's own tills writing off one campaign at once, over HTTP
against PostgreSQL: one write-off per coupon, the caps exact, reimbursements only at partners."""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.servers.basehttp import WSGIServer

from backend.coupons.models import Coupon
from backend.outbox.models import OutboxEvent
from backend.redemptions.models import Redemption
from tests.e2e.test_pos_concurrency import fire, slot_totals, statuses, variables
from tests.factories import make_terminal, partner_till, pos_setup

pytestmark = pytest.mark.slow

WSGIServer.request_queue_size = 128


@pytest.fixture(autouse=True)
def _no_abuse_limits(settings):
    settings.POS_MAX_WRITEOFFS_PER_MINUTE = 10_000
    settings.POS_MAX_REJECTIONS = 10_000


def mixed_tills(setup, partners: int = 2, own: int = 2) -> list[tuple[str, str]]:
    signings = [setup.signing]
    for _ in range(own - 1):
        terminal, secret = make_terminal(setup.store)
        signings.append((terminal.uid, secret))
    for _ in range(partners):
        signings.append(partner_till(setup, max_reimbursement=400, handling_fee=30).signing)
    return signings


def test_one_code_at_partner_and_own_tills_is_written_off_once(live_server, transactional_db):
    setup = pos_setup()
    signings = mixed_tills(setup)
    code = setup.coupons[0].code
    answers = fire(live_server.url, [(signings[i % 4], variables(code), None) for i in range(40)])
    assert statuses(answers) == {"VERIFIED": 1, "REJECTED": 39}
    reasons = Counter(a["json"]["data"]["redeemCoupon"]["redemption"]["reasonCode"] for a in answers)
    assert reasons == {None: 1, "ALREADY_REDEEMED": 39}
    assert Redemption.objects.filter(status="verified").count() == 1
    assert slot_totals(setup.campaign) == (1, 620)
    assert OutboxEvent.objects.count() == 1


def test_max_redemptions_and_budget_hold_across_partner_and_own_tills(live_server, transactional_db):
    # 40 coupons, 10 allowed: whoever's till, exactly 10 pass and the budget is exact
    setup = pos_setup(coupons=40, max_redemptions=10, budget_cap=20 * 620)
    signings = mixed_tills(setup)
    answers = fire(
        live_server.url, [(signings[i % 4], variables(c.code), None) for i, c in enumerate(setup.coupons)]
    )
    assert statuses(answers) == {"VERIFIED": 10, "REJECTED": 30}
    verified = Redemption.objects.filter(campaign=setup.campaign, status="verified")
    assert slot_totals(setup.campaign) == (10, 10 * 620)
    assert Coupon.objects.filter(campaign=setup.campaign, status="redeemed").count() == 10
    assert OutboxEvent.objects.count() == 10
    at_partners = verified.exclude(merchant=setup.merchant)
    at_own = verified.filter(merchant=setup.merchant)
    assert at_partners.count() + at_own.count() == 10
    assert all((r.reimbursement_amount, r.handling_fee_amount) == (400, 30) for r in at_partners)
    assert all(r.partnership_id is not None for r in at_partners)
    assert all((r.reimbursement_amount, r.handling_fee_amount, r.partnership_id) == (0, 0, None) for r in at_own)


def test_the_budget_holds_to_the_cent_across_partner_and_own_tills(live_server, transactional_db):
    setup = pos_setup(
        coupons=40, benefit_kind="percent_off", amount_off=None, percent_off_bps=1000, budget_cap=9_999
    )
    signings = mixed_tills(setup)
    amounts = [1000 + 137 * i for i in range(40)]
    answers = fire(
        live_server.url,
        [(signings[i % 4], variables(c.code, amounts[i]), None) for i, c in enumerate(setup.coupons)],
    )
    verified = Redemption.objects.filter(campaign=setup.campaign, status="verified")
    spent = sum(r.discount_amount + r.fee_amount for r in verified)
    assert 0 < spent <= 9_999
    assert slot_totals(setup.campaign) == (verified.count(), spent)
    assert statuses(answers)["VERIFIED"] == verified.count()
    for r in verified.exclude(merchant=setup.merchant):  # percent off: min(discount, 400) reimbursed
        assert r.reimbursement_amount == min(r.discount_amount, 400)
