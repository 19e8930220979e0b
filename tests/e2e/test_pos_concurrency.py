"""Real concurrent tills over HTTP against PostgreSQL: exactly once, caps exact, one write per key."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter

import pytest
import requests
from django.core.servers.basehttp import WSGIServer

from backend.campaigns.models import CampaignSlot
from backend.coupons.models import Coupon
from backend.outbox.models import OutboxEvent
from backend.redemptions.models import Redemption
from tests.client import terminal_headers
from tests.conftest import load_operation
from tests.factories import make_terminal, pos_setup

pytestmark = pytest.mark.slow

# Django's test server listens with a backlog of 10; fifty tills connecting at once would
# be reset by the kernel before reaching it. Set before the (session) live server starts.
WSGIServer.request_queue_size = 128

REDEEM = load_operation("pos_redeem_coupon")


@pytest.fixture(autouse=True)
def _no_abuse_limits(settings):
    settings.POS_MAX_WRITEOFFS_PER_MINUTE = 10_000
    settings.POS_MAX_REJECTIONS = 10_000


def fire(base_url: str, requests_to_send: list[tuple[tuple[str, str], dict, int | None]]) -> list[dict]:
    """Send every (signing, variables, timestamp) at once, one thread and connection each."""
    barrier = threading.Barrier(len(requests_to_send))
    answers: list[dict | None] = [None] * len(requests_to_send)

    def send(i: int) -> None:
        signing, variables, timestamp = requests_to_send[i]
        body = json.dumps({"query": REDEEM, "variables": variables}).encode()
        headers = {"Content-Type": "application/json", **terminal_headers(*signing, body, timestamp)}
        with requests.Session() as session:
            barrier.wait(timeout=30)
            response = session.post(f"{base_url}/graphql/", data=body, headers=headers, timeout=120)
        answers[i] = {"status": response.status_code, "text": response.text, "json": response.json()}

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests_to_send))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(a is not None and a["status"] == 200 for a in answers), [a and a["status"] for a in answers]
    return answers


def variables(code: str, amount: int = 3000, key: str | None = None) -> dict:
    return {"code": code, "orderAmount": amount, "currency": "CNY", "idempotencyKey": key or uuid.uuid4().hex}


def statuses(answers: list[dict]) -> Counter:
    return Counter(a["json"]["data"]["redeemCoupon"]["redemption"]["status"] for a in answers)


def slot_totals(campaign) -> tuple[int, int]:
    slots = CampaignSlot.objects.filter(campaign=campaign)
    return sum(s.redeemed_count for s in slots), sum(s.spent_amount for s in slots)


def tills(setup, n: int) -> list[tuple[str, str]]:
    signings = [setup.signing]
    for _ in range(n - 1):
        terminal, secret = make_terminal(setup.store)
        signings.append((terminal.uid, secret))
    return signings


def test_fifty_tills_one_code_exactly_one_write_off(live_server, transactional_db):
    setup = pos_setup()
    signings = tills(setup, 5)
    code = setup.coupons[0].code
    answers = fire(live_server.url, [(signings[i % 5], variables(code), None) for i in range(50)])
    assert statuses(answers) == {"VERIFIED": 1, "REJECTED": 49}
    reasons = Counter(a["json"]["data"]["redeemCoupon"]["redemption"]["reasonCode"] for a in answers)
    assert reasons == {None: 1, "ALREADY_REDEEMED": 49}
    assert Redemption.objects.filter(status="verified").count() == 1
    assert Redemption.objects.count() == 50
    assert slot_totals(setup.campaign) == (1, 620)
    assert OutboxEvent.objects.count() == 1


def test_max_redemptions_hold_under_load(live_server, transactional_db):
    setup = pos_setup(coupons=40, max_redemptions=10)
    signings = tills(setup, 4)
    answers = fire(
        live_server.url, [(signings[i % 4], variables(c.code), None) for i, c in enumerate(setup.coupons)]
    )
    assert statuses(answers) == {"VERIFIED": 10, "REJECTED": 30}
    assert {
        a["json"]["data"]["redeemCoupon"]["redemption"]["reasonCode"]
        for a in answers
        if a["json"]["data"]["redeemCoupon"]["redemption"]["status"] == "REJECTED"
    } == {"BUDGET_EXHAUSTED"}
    assert slot_totals(setup.campaign)[0] == 10
    assert Coupon.objects.filter(campaign=setup.campaign, status="redeemed").count() == 10
    assert OutboxEvent.objects.count() == 10


def test_the_budget_holds_to_the_cent_under_load(live_server, transactional_db):
    # percent off 10 % of varied orders + fee 120: costs differ, the cap must still hold exactly
    setup = pos_setup(
        coupons=40, benefit_kind="percent_off", amount_off=None, percent_off_bps=1000, budget_cap=9_999
    )
    signings = tills(setup, 4)
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
    # every rejection was for the budget, and none of them could still have fitted
    rejected_costs = [
        a * 1000 // 10_000 + 120
        for a, answer in zip(amounts, answers, strict=True)
        if answer["json"]["data"]["redeemCoupon"]["redemption"]["status"] == "REJECTED"
    ]
    assert rejected_costs and all(spent + cost > 9_999 for cost in rejected_costs)


def test_concurrent_duplicates_of_one_key_write_once_and_answer_alike(live_server, transactional_db):
    setup = pos_setup()
    same = variables(setup.coupons[0].code, key="till-7-txn-1")
    now = int(time.time())
    # one till retrying: the same body, each send signed at another second (not a replay)
    answers = fire(live_server.url, [(setup.signing, same, now - i) for i in range(20)])
    bodies = {a["text"] for a in answers}
    assert len(bodies) == 1, bodies
    assert answers[0]["json"]["data"]["redeemCoupon"]["redemption"]["status"] == "VERIFIED"
    assert Redemption.objects.count() == 1
    assert OutboxEvent.objects.count() == 1
    assert slot_totals(setup.campaign) == (1, 620)
