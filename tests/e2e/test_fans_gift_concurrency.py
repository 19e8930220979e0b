"""20 tills writing off one gifted coupon at once: exactly one write-off verifies."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter

import pytest
import requests
from django.core.servers.basehttp import WSGIServer

from backend.audience.identity import phone_identity
from backend.fans import services
from backend.redemptions.models import Redemption
from tests.client import terminal_headers
from tests.conftest import load_operation
from tests.factories import ClaimLinkFactory, PlacementFactory, make_terminal, new_phone, pos_setup

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
WSGIServer.request_queue_size = 128


@pytest.fixture(autouse=True)
def _no_abuse_limits(settings):
    settings.POS_MAX_WRITEOFFS_PER_MINUTE = 10_000
    settings.POS_MAX_REJECTIONS = 10_000


def test_twenty_concurrent_writeoffs_of_a_gifted_coupon_verify_once(live_server):
    setup = pos_setup(coupons=0)
    link = ClaimLinkFactory(placement=PlacementFactory(campaign=setup.campaign))
    giver = services.claim_coupon(claim_link=link, identity=phone_identity(new_phone()), consent=True)
    gift = services.gift_create(wallet=giver.wallet, coupon=giver.coupon)
    friend = services.gift_accept(gift=gift, identity=phone_identity(new_phone()))
    tills = [make_terminal(setup.store, name=f"till {i}") for i in range(20)]
    query = load_operation("pos_redeem_coupon")
    barrier = threading.Barrier(len(tills))
    statuses: list[str] = []
    lock = threading.Lock()

    def till(terminal, secret) -> None:
        variables = {
            "code": friend.coupon.code,  # the friend's own code (the giver's is gone)
            "orderAmount": 3000,
            "currency": setup.campaign.currency,
            "idempotencyKey": uuid.uuid4().hex,
        }
        body = json.dumps({"query": query, "variables": variables}).encode()
        headers = {"Content-Type": "application/json", **terminal_headers(terminal.uid, secret, body)}
        barrier.wait()
        answer = requests.post(f"{live_server.url}/graphql/", data=body, headers=headers, timeout=60).json()
        with lock:
            statuses.append(answer["data"]["redeemCoupon"]["redemption"]["status"])

    threads = [threading.Thread(target=till, args=pair) for pair in tills]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert Counter(statuses)["VERIFIED"] == 1 and len(statuses) == 20
    assert Redemption.objects.filter(coupon=giver.coupon, status="verified").count() == 1
