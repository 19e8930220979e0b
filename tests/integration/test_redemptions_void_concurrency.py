"""Voids and write-offs of one campaign at the same time, on real PostgreSQL connections.

The void takes its rows in the write-off's order (coupon, fan usage, slot, redemption), so
they cannot deadlock each other; if PostgreSQL still picks a victim, it is run again.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from backend.api.errors import ServiceError
from backend.campaigns import budget
from backend.campaigns.models import CampaignFanUsage, CampaignSlot
from backend.coupons.models import Coupon
from backend.redemptions import services
from backend.redemptions.models import Redemption
from tests.factories import make_terminal, pos_setup, redeem


def _run_together(calls) -> list:
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = calls[i]()
        except ServiceError as exc:
            results[i] = exc.errors[0].code
        except Exception as exc:  # a deadlock or anything else: the test fails on it
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_voids_and_write_offs_of_one_campaign(settings):
    settings.POS_MAX_WRITEOFFS_PER_MINUTE = 10**6
    # caps that leave no spare slot: write-offs then take every slot (the rebalance) while voids give back
    setup = pos_setup(coupons=24, per_fan_limit=20, max_redemptions=24)
    # one fan on several coupons (other ordinals): voids and write-offs also meet on its usage row
    fan_id = setup.coupons[0].fan_id
    for i, coupon in enumerate(setup.coupons[1:8], start=1):
        Coupon.objects.filter(pk=coupon.pk).update(fan_id=fan_id, ordinal=100 + i)
    tills = [setup.terminal] + [make_terminal(setup.store)[0] for _ in range(3)]
    first = [redeem(setup, c.code, terminal=tills[i % 4]) for i, c in enumerate(setup.coupons[:12])]
    assert {r.status for r in first} == {"verified"}

    calls = []
    for i, r in enumerate(first):  # every write-off voided twice at once, by two tills
        for j in range(2):
            calls.append(
                lambda r=r, t=tills[(i + j) % 4]: services.void_redemption(terminal=t, redemption_id=r.pk)
            )
    for i, coupon in enumerate(setup.coupons[12:]):  # and new write-offs of the same campaign
        calls.append(lambda c=coupon, t=tills[i % 4]: redeem(setup, c.code, terminal=t))
    results = _run_together(calls)
    assert [r for r in results if isinstance(r, Exception)] == []
    voids, writeoffs = results[: 2 * len(first)], results[2 * len(first) :]
    for a, b in zip(voids[::2], voids[1::2], strict=True):
        assert Counter(x if isinstance(x, str) else x.status for x in (a, b)) == {
            "voided": 1,
            "ALREADY_VOIDED": 1,
        }
    assert [w.reason_code for w in writeoffs if w.status != "verified"] == []
    # the counters agree with the rows: slots and the fan's usage count exactly the live write-offs
    live = Redemption.objects.filter(campaign=setup.campaign, status="verified")
    assert live.count() == len(writeoffs)
    slots = CampaignSlot.objects.filter(campaign=setup.campaign)
    assert sum(s.redeemed_count for s in slots) == live.count()
    assert sum(s.spent_amount for s in slots) == sum(r.discount_amount + r.fee_amount for r in live)
    assert (
        CampaignFanUsage.objects.get(campaign=setup.campaign, fan_id=fan_id).used
        == live.filter(coupon__fan_id=fan_id).count()
    )


@pytest.mark.django_db
def test_a_void_whose_slot_cannot_give_back_changes_nothing():
    setup = pos_setup(coupons=1)
    redemption = redeem(setup)
    CampaignSlot.objects.filter(campaign=setup.campaign, slot=redemption.slot).update(redeemed_count=0)
    with pytest.raises(budget.SlotMismatch):
        services.void_redemption(terminal=setup.terminal, redemption_id=redemption.pk)
    redemption.refresh_from_db()
    assert redemption.status == "verified"
    assert CampaignFanUsage.objects.get(campaign=setup.campaign).used == 1
