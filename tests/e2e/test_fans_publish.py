"""The publisher's CRM: externalRef on fans, couponPublish, delivery links and the codes CSV."""

from __future__ import annotations

import csv
import io

import pytest

from backend.api import ids
from backend.audience.models import PoolMembership
from backend.coupons.models import Coupon
from tests.factories import (
    CouponFactory,
    FanPoolFactory,
    MerchantFactory,
    PlacementFactory,
    active_campaign,
    make_api_key,
    new_phone,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def crm(api, operation):
    publisher = MerchantFactory(name="Mochi Cartoon")
    pool = FanPoolFactory(merchant=publisher)
    placement = PlacementFactory(campaign=active_campaign(name="5 off any dessert"), pool=pool, quota=2)
    key = make_api_key(publisher)
    phones = [new_phone(), new_phone(), new_phone()]
    fans = [
        {"phone": phone, "consentedAt": "2026-11-01T10:00:00+08:00", "externalRef": f"crm-{i}"}
        for i, phone in enumerate(phones)
    ]
    added = api.execute(
        operation("audience_pool_fans_add"), {"poolId": ids.encode("FanPool", pool.pk), "fans": fans}, key=key
    ).ok()["poolFansAdd"]
    assert added["errors"] == [] and added["added"] == 3
    return placement, key, phones


def publish(api, operation, key, placement, **recipient):
    variables = {"input": {"placementId": ids.encode("Placement", placement.pk), **recipient}}
    return api.execute(operation("fans_coupon_publish"), variables, key=key).ok()["couponPublish"]


def test_external_refs_are_kept_per_membership_and_shown_to_the_owner(api, operation, crm):
    placement, key, _ = crm
    assert sorted(PoolMembership.objects.values_list("external_ref", flat=True)) == [
        "crm-0",
        "crm-1",
        "crm-2",
    ]
    members = api.execute(
        operation("audience_pool_members"), {"poolId": ids.encode("FanPool", placement.pool_id)}, key=key
    ).ok()["poolMembers"]
    assert sorted(edge["node"]["externalRef"] for edge in members["edges"]) == ["crm-0", "crm-1", "crm-2"]
    stranger = api.execute(
        operation("audience_pool_members"),
        {"poolId": ids.encode("FanPool", placement.pool_id)},
        key=make_api_key(MerchantFactory()),
    )
    assert not (stranger.data or {}).get("poolMembers", {}).get("edges")


def test_coupon_publish_by_external_ref_is_idempotent_and_the_link_opens_the_coupon(
    api, operation, client, crm
):
    placement, key, _ = crm
    first = publish(api, operation, key, placement, externalRef="crm-0")
    assert first["errors"] == [] and first["coupon"]["created"] is True
    again = publish(api, operation, key, placement, externalRef="crm-0")
    assert again["coupon"]["created"] is False and again["coupon"]["code"] == first["coupon"]["code"]
    assert again["coupon"]["link"] == first["coupon"]["link"]
    placement.refresh_from_db()
    assert placement.issued_count == 1

    path = first["coupon"]["link"].split("127.0.0.1:8000", 1)[1]
    page = client.get(path)
    assert page.status_code == 200 and first["coupon"]["code"] in page.content.decode()
    assert client.get(path.replace("-", "-0", 1)).status_code == 404  # a forged token


def test_coupon_publish_by_phone_quota_and_refusals(api, operation, crm):
    placement, key, phones = crm
    assert publish(api, operation, key, placement, phone=phones[1])["coupon"]["created"] is True
    assert publish(api, operation, key, placement, externalRef="crm-2")["coupon"]["created"] is True
    full = publish(api, operation, key, placement, externalRef="crm-0")
    assert [e["code"] for e in full["errors"]] == ["QUOTA_EXHAUSTED"]
    unknown = publish(api, operation, key, placement, externalRef="nobody")
    assert [e["code"] for e in unknown["errors"]] == ["FAN_NOT_IN_POOL"]
    both = publish(api, operation, key, placement, externalRef="crm-0", phone=phones[0])
    assert [e["code"] for e in both["errors"]] == ["ONE_RECIPIENT"]
    stranger = publish(api, operation, make_api_key(MerchantFactory()), placement, externalRef="crm-0")
    assert [e["code"] for e in stranger["errors"]] == ["NOT_FOUND"]
    issuer = publish(api, operation, make_api_key(placement.issuer), placement, externalRef="crm-0")
    assert [e["code"] for e in issuer["errors"]] == ["ONLY_PUBLISHER"]
    assert Coupon.objects.count() == 2


def test_codes_csv_carries_the_delivery_link_and_the_external_ref(api, operation, client, crm):
    placement, key, _ = crm
    published = publish(api, operation, key, placement, externalRef="crm-1")["coupon"]
    bulk = CouponFactory(placement=placement)  # pre-issued, no external ref
    response = client.get(
        f"/coupons/placements/{ids.encode('Placement', placement.pk)}/codes.csv",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_code = {row["code"]: row for row in rows}
    assert by_code[published["code"]]["external_ref"] == "crm-1"
    assert by_code[published["code"]]["link"] == published["link"]
    assert by_code[bulk.code]["external_ref"] == "" and "/d/" in by_code[bulk.code]["link"]
    page = client.get(by_code[bulk.code]["link"].split("127.0.0.1:8000", 1)[1])
    assert bulk.code in page.content.decode()
