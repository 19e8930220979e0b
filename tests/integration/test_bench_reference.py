"""The write-off reference statement does what the service does, so comparing them is fair.

Scenario 1 measures the full stack against one raw SQL statement; that is only a physical
reference if the statement writes what a verified write-off writes: the coupon, the fan's
usage, one unit and the cost from one slot, the Redemption row and its outbox event.
"""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection

from backend.campaigns.models import CampaignFanUsage, CampaignSlot
from backend.coupons.models import Coupon
from backend.merchants.models import Terminal
from backend.outbox.models import OutboxEvent
from backend.redemptions.models import Redemption
from backend.redemptions.services import redeem_coupon
from tests.bench import invariants, sql, world

pytestmark = pytest.mark.django_db


def _raw(code: str, t: world.TerminalCreds):
    statement, _ = sql.writeoff_statement()
    with connection.cursor() as cursor:
        cursor.execute(
            statement,
            {
                "code": code,
                "merchant": t.merchant_id,
                "store": t.store_id,
                "terminal": t.id,
                "order_amount": world.ORDER_AMOUNT,
                "currency": world.CURRENCY,
                "key": uuid.uuid4().hex,
                "fp": uuid.uuid4().hex,
                "response": json.dumps({"redemption": {"status": "VERIFIED"}}),
            },
        )
        return cursor.fetchone()[0]


def _footprint(redemption: Redemption) -> dict:
    coupon = Coupon.objects.get(pk=redemption.coupon_id)
    return {
        "redemption": (
            redemption.status,
            redemption.reason_code,
            redemption.merchant_id,
            redemption.store_id,
            redemption.terminal_id,
            redemption.campaign_id,
            redemption.placement_id,
            redemption.order_amount,
            redemption.discount_amount,
            redemption.fee_amount,
            redemption.currency,
            redemption.slot is not None,
        ),
        "coupon": (coupon.status, coupon.redeemed_at is not None),
        "fan_usage": CampaignFanUsage.objects.get(campaign_id=coupon.campaign_id, fan_id=coupon.fan_id).used,
        "events": list(
            OutboxEvent.objects.filter(payload__redemption_id=redemption.pk).values_list("topic", flat=True)
        ),
    }


def test_raw_statement_writes_what_the_service_writes():
    w = world.build(terminals=1)
    world.add_fans(w, 2)
    [(campaign, placement)] = world.add_campaigns(w, 1, max_redemptions=10, budget_cap=10 * world.COST)
    by_service, by_statement = world.issue_coupons(placement, w.fan_ids)
    t = w.terminals[0]
    terminal = Terminal.objects.select_related("merchant", "store").get(pk=t.id)

    served = redeem_coupon(
        terminal=terminal,
        code=by_service,
        order_amount=world.ORDER_AMOUNT,
        currency=world.CURRENCY,
        idempotency_key=uuid.uuid4().hex,
    )
    raw = Redemption.objects.get(pk=_raw(by_statement, t))

    assert served.status == Redemption.Status.VERIFIED
    assert _footprint(raw) == _footprint(served)
    slots = CampaignSlot.objects.filter(campaign=campaign)
    assert sum(s.redeemed_count for s in slots) == 2
    assert sum(s.spent_amount for s in slots) == 2 * world.COST
    assert all(c.ok for c in invariants.check_all())


def test_raw_statement_claims_a_coupon_once():
    w = world.build(terminals=1)
    world.add_fans(w, 1)
    [(_, placement)] = world.add_campaigns(w, 1)
    [code] = world.issue_coupons(placement, w.fan_ids)
    t = w.terminals[0]
    assert _raw(code, t) is not None
    assert _raw(code, t) is None  # already redeemed: nothing written
    assert Redemption.objects.filter(code=code).count() == 1


def test_invariant_checks_see_a_broken_write_off():
    w = world.build(terminals=1)
    world.add_fans(w, 1)
    [(_, placement)] = world.add_campaigns(w, 1)
    [code] = world.issue_coupons(placement, w.fan_ids)
    redemption = Redemption.objects.get(pk=_raw(code, world.build(terminals=1).terminals[0]))
    OutboxEvent.objects.filter(payload__redemption_id=redemption.pk).delete()
    Coupon.objects.filter(code=code).update(status=Coupon.Status.ISSUED)

    broken = {c.name for c in invariants.check_all() if not c.ok}

    assert "every verified redemption's coupon is redeemed" in broken
    assert "verified or voided redemptions = 'redemption.verified' outbox events (one each)" in broken
