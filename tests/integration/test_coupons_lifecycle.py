"""Coupon expiry and revocation: at the till, in the reports, in batches, without blocking."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from django.db import connection, connections
from django.utils import timezone

from backend.api import ids
from backend.coupons import lifecycle
from backend.coupons.models import Coupon
from backend.outbox.models import OutboxEvent
from tests.factories import MerchantFactory, make_api_key, pos_setup
from tests.factories.campaigns import PlacementFactory

pytestmark = pytest.mark.django_db

PAST = dict(valid_until=timezone.now() - dt.timedelta(minutes=1))


def till(api, operation, setup, code):
    variables = {"code": code, "orderAmount": 3000, "currency": "CNY", "idempotencyKey": uuid.uuid4().hex}
    return api.execute(operation("pos_redeem_coupon"), variables, terminal=setup.signing).ok()["redeemCoupon"]


def counts(api, operation, key, campaign):
    data = api.execute(
        operation("campaigns_coupon_counts"), {"id": ids.encode("Campaign", campaign.pk)}, key=key
    )
    return data.ok()["campaign"]


def test_expiry_in_batches_then_the_till_and_the_report(api, operation):
    setup = pos_setup(coupons=0)
    expired = [setup.coupon(**PAST) for _ in range(5)]
    fresh = setup.coupon(valid_until=timezone.now() + dt.timedelta(days=1))
    assert lifecycle.expire_batch(limit=2) == 2
    assert lifecycle.expire_coupons(limit=2) == 3
    assert lifecycle.expire_coupons() == 0
    assert {c.status for c in Coupon.objects.filter(pk__in=[c.pk for c in expired])} == {"expired"}
    assert Coupon.objects.get(pk=fresh.pk).status == "issued"

    answer = till(api, operation, setup, expired[0].code)
    assert answer["redemption"]["reasonCode"] == "EXPIRED"
    assert till(api, operation, setup, fresh.code)["redemption"]["status"] == "VERIFIED"

    key = make_api_key(setup.merchant)
    report = counts(api, operation, key, setup.campaign)["couponCounts"]
    assert report == {"issued": 0, "claimed": None, "redeemed": 1, "expired": 5, "revoked": 0}
    # a list loads the counts with its rows (one subquery per row, no query per row): the same numbers
    listed = api.execute(
        "{ campaigns(first: 5) { edges { node { couponCounts { issued claimed redeemed expired revoked } } } }"
        " placements(first: 5) { edges { node { couponCounts { redeemed expired } } } } }",
        key=key,
    ).ok()
    assert [e["node"]["couponCounts"] for e in listed["campaigns"]["edges"]] == [report]
    assert [e["node"]["couponCounts"] for e in listed["placements"]["edges"]] == [
        {"redeemed": 1, "expired": 5}
    ]
    events = OutboxEvent.objects.filter(topic="coupons.expired")
    assert sum(e.payload["webhook"]["recipients"][0]["data"]["count"] for e in events) == 5


@pytest.mark.django_db(transaction=True)
def test_expiry_skips_a_coupon_a_write_off_holds_and_never_waits_for_it():
    setup = pos_setup(coupons=0)
    held, other = setup.coupon(**PAST), setup.coupon(**PAST)
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute("SELECT id FROM coupons_coupon WHERE id = %s FOR UPDATE", [held.pk])
                locked.set()
                release.wait(10)
                cursor.execute("ROLLBACK")
        finally:
            connections["default"].close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(10)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '2s'")  # would raise if expiry waited on the lock
    assert lifecycle.expire_coupons() == 1
    release.set()
    thread.join()
    assert Coupon.objects.get(pk=other.pk).status == "expired"
    assert Coupon.objects.get(pk=held.pk).status == "issued"
    assert lifecycle.expire_coupons() == 1
    assert Coupon.objects.get(pk=held.pk).status == "expired"


def test_revoke_one_a_placement_and_a_campaign(api, operation):
    setup = pos_setup(coupons=3)
    key = make_api_key(setup.merchant)
    second = PlacementFactory(campaign=setup.campaign)
    from tests.factories.campaigns import CouponFactory

    theirs = [CouponFactory(placement=second, campaign=setup.campaign) for _ in range(2)]
    used = setup.coupons[0]
    assert till(api, operation, setup, used.code)["redemption"]["status"] == "VERIFIED"

    def revoke(**variables):
        return api.execute(operation("coupons_revoke"), variables, key=key).ok()["couponsRevoke"]

    one = revoke(code=setup.coupons[1].code, reason="leaked")
    assert one == {"revokedCount": 1, "errors": []}
    assert till(api, operation, setup, setup.coupons[1].code)["redemption"]["reasonCode"] == "COUPON_REVOKED"
    again = revoke(code=used.code)
    assert [e["code"] for e in again["errors"]] == ["INVALID_STATE"]

    placement = revoke(placementId=ids.encode("Placement", setup.placement.pk))
    assert placement["revokedCount"] == 1  # coupons[2]; the redeemed one stays redeemed
    assert Coupon.objects.get(pk=used.pk).status == "redeemed"
    assert {c.status for c in Coupon.objects.filter(pk__in=[c.pk for c in theirs])} == {"issued"}

    campaign = revoke(campaignId=ids.encode("Campaign", setup.campaign.pk))
    assert campaign["revokedCount"] == 2
    report = counts(api, operation, key, setup.campaign)
    assert report["couponCounts"] == {"issued": 0, "claimed": None, "redeemed": 1, "expired": 0, "revoked": 4}
    per_placement = {p["id"]: p["couponCounts"]["revoked"] for p in report["placements"]}
    assert per_placement == {
        ids.encode("Placement", setup.placement.pk): 2,
        ids.encode("Placement", second.pk): 2,
    }
    assert OutboxEvent.objects.filter(topic="coupons.revoked").count() == 3


def test_another_merchant_cannot_revoke(api, operation):
    setup = pos_setup(coupons=1)
    other_key = make_api_key(MerchantFactory())
    for variables in (
        {"code": setup.coupons[0].code},
        {"placementId": ids.encode("Placement", setup.placement.pk)},
        {"campaignId": ids.encode("Campaign", setup.campaign.pk)},
    ):
        data = api.execute(operation("coupons_revoke"), variables, key=other_key).ok()["couponsRevoke"]
        assert [e["code"] for e in data["errors"]] == ["NOT_FOUND"]
    assert Coupon.objects.get().status == "issued"
    both = api.execute(
        operation("coupons_revoke"),
        {"code": setup.coupons[0].code, "campaignId": ids.encode("Campaign", setup.campaign.pk)},
        key=make_api_key(setup.merchant),
    ).ok()["couponsRevoke"]
    assert [e["code"] for e in both["errors"]] == ["INVALID"]
