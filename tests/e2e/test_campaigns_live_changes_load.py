"""Live changes under a real concurrent write-off load over HTTP: the caps stay exact and
the benchmark's invariants hold; a daily cap holds to the unit and to the cent."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from backend.api import ids
from backend.campaigns.models import Placement
from backend.coupons.models import Coupon
from backend.redemptions.models import Redemption
from tests.bench import invariants
from tests.client import ApiClient
from tests.conftest import load_operation
from tests.e2e.test_pos_concurrency import fire, statuses, tills, variables
from tests.factories import clear_of_midnight, make_api_key, pos_setup

pytestmark = pytest.mark.slow

LIVE_CHANGE = load_operation("campaigns_live_change")


@pytest.fixture(autouse=True)
def _no_abuse_limits(settings):
    settings.POS_MAX_WRITEOFFS_PER_MINUTE = 10_000
    settings.POS_MAX_REJECTIONS = 10_000


def assert_invariants():
    # The factories create coupons without counting them on the placement, as issuance does.
    for placement in Placement.objects.all():
        Placement.objects.filter(pk=placement.pk).update(
            issued_count=Coupon.objects.filter(placement=placement).count()
        )
    broken = [r for r in invariants.check_all() if not r.ok]
    assert broken == []


def reasons(answers) -> Counter:
    return Counter(a["json"]["data"]["redeemCoupon"]["redemption"]["reasonCode"] for a in answers)


def test_a_budget_raise_during_a_write_off_load_keeps_the_caps_exact(live_server, transactional_db):
    setup = pos_setup(coupons=60, max_redemptions=10, budget_cap=10 * 620)
    key = make_api_key(setup.merchant)
    signings = tills(setup, 4)
    first_wave = [(signings[i % 4], variables(c.code), None) for i, c in enumerate(setup.coupons[:30])]
    raised: dict = {}

    def raise_caps():
        client = ApiClient(base_url=live_server.url)
        raised.update(
            client.execute(
                LIVE_CHANGE,
                {
                    "id": ids.encode("Campaign", setup.campaign.pk),
                    "input": {"maxRedemptions": 25, "budgetCap": 30 * 620},
                },
                key=key,
            ).ok()["campaignLiveChange"]
        )

    changer = threading.Thread(target=raise_caps)
    changer.start()  # races the first wave
    answers = fire(live_server.url, first_wave)
    changer.join()
    assert raised["errors"] == []
    assert_invariants()
    verified = Redemption.objects.filter(campaign=setup.campaign, status="verified").count()
    assert 10 <= verified <= 25
    assert set(reasons(answers)) <= {None, "BUDGET_EXHAUSTED"}

    # A second wave takes exactly what is left: the raised cap holds to the unit.
    second = fire(
        live_server.url,
        [(signings[i % 4], variables(c.code), None) for i, c in enumerate(setup.coupons[30:])],
    )
    assert Redemption.objects.filter(campaign=setup.campaign, status="verified").count() == 25
    assert statuses(answers)["VERIFIED"] + statuses(second)["VERIFIED"] == 25
    assert_invariants()


def test_a_daily_cap_holds_to_the_unit_under_load(live_server, transactional_db):
    setup = pos_setup(coupons=30)
    setup.campaign.daily_redemption_cap = 7
    setup.campaign.save(update_fields=["daily_redemption_cap"])
    clear_of_midnight(setup)  # one local day for the whole burst
    signings = tills(setup, 5)
    answers = fire(
        live_server.url, [(signings[i % 5], variables(c.code), None) for i, c in enumerate(setup.coupons)]
    )
    assert statuses(answers) == {"VERIFIED": 7, "REJECTED": 23}
    assert reasons(answers) == {None: 7, "DAILY_CAP_REACHED": 23}
    assert_invariants()


def test_a_daily_spend_cap_holds_to_the_cent_under_load(live_server, transactional_db):
    setup = pos_setup(coupons=40, benefit_kind="percent_off", amount_off=None, percent_off_bps=1000)
    setup.campaign.daily_spend_cap = 4_321
    setup.campaign.save(update_fields=["daily_spend_cap"])
    clear_of_midnight(setup)  # one local day for the whole burst
    signings = tills(setup, 4)
    amounts = [1000 + 137 * i for i in range(40)]
    answers = fire(
        live_server.url,
        [(signings[i % 4], variables(c.code, amounts[i]), None) for i, c in enumerate(setup.coupons)],
    )
    verified = Redemption.objects.filter(campaign=setup.campaign, status="verified")
    spent = sum(r.discount_amount + r.fee_amount for r in verified)
    assert 0 < spent <= 4_321
    rejected = [
        a * 1000 // 10_000 + 120
        for a, answer in zip(amounts, answers, strict=True)
        if answer["json"]["data"]["redeemCoupon"]["redemption"]["status"] == "REJECTED"
    ]
    assert rejected and all(spent + cost > 4_321 for cost in rejected)  # none could still have fitted
    assert set(reasons(answers)) == {None, "DAILY_CAP_REACHED"}
    assert_invariants()


def test_revoking_a_campaign_during_a_write_off_load_leaves_each_coupon_one_way(
    live_server, transactional_db
):
    setup = pos_setup(coupons=40)
    key = make_api_key(setup.merchant)
    signings = tills(setup, 4)
    revoked: dict = {}

    def revoke():
        client = ApiClient(base_url=live_server.url)
        revoked.update(
            client.execute(
                load_operation("coupons_revoke"),
                {"campaignId": ids.encode("Campaign", setup.campaign.pk)},
                key=key,
            ).ok()["couponsRevoke"]
        )

    revoker = threading.Thread(target=revoke)
    revoker.start()
    answers = fire(
        live_server.url, [(signings[i % 4], variables(c.code), None) for i, c in enumerate(setup.coupons)]
    )
    revoker.join()
    assert revoked["errors"] == []
    by_code = {a["json"]["data"]["redeemCoupon"]["redemption"]["code"]: a for a in answers}
    states = Counter()
    for coupon in Coupon.objects.filter(campaign=setup.campaign):
        answer = by_code[coupon.code]["json"]["data"]["redeemCoupon"]["redemption"]
        states[coupon.status] += 1
        if coupon.status == "redeemed":
            assert answer["status"] == "VERIFIED"
        else:
            assert coupon.status == "revoked" and answer["reasonCode"] == "COUPON_REVOKED"
    assert states["redeemed"] + states["revoked"] == 40 and revoked["revokedCount"] == states["revoked"]
    assert_invariants()
