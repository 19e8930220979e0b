"""Delivery to the publisher: GraphQL export, CSV download and QR images, each tenant-checked;
and the whole journey over a real socket with issuance on a real Celery worker."""

from __future__ import annotations

import csv
import io

import pytest
import requests

from backend.api import ids
from backend.campaigns.models import Placement
from backend.coupons.models import Coupon, IssuanceJob
from tests.conftest import wait_for
from tests.factories import (
    CouponFactory,
    MerchantFactory,
    PlacementFactory,
    active_campaign,
    make_api_key,
    pool_with_fans,
)


def _csv_url(placement_id: str) -> str:
    return f"/coupons/placements/{placement_id}/codes.csv"


def _qr_url(code: str) -> str:
    return f"/coupons/codes/{code}/qr.png"


def _auth(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.fixture
def delivered(db):
    publisher = MerchantFactory(name="Mochi Cartoon")
    pool = pool_with_fans(4, merchant=publisher)
    placement = PlacementFactory(campaign=active_campaign(valid_days_after_issue=30), pool=pool)
    coupons = [CouponFactory(placement=placement, fan=m.fan) for m in pool.memberships.order_by("id")]
    return placement, coupons


def _csv_rows(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


class TestCsv:
    def test_the_publisher_downloads_every_code(self, client, delivered):
        placement, coupons = delivered
        key = make_api_key(placement.publisher, "brand")
        response = client.get(_csv_url(ids.encode("Placement", placement.pk)), **_auth(key))
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        rows = _csv_rows(response)
        assert [r["code"] for r in rows] == [c.code for c in coupons]
        assert [r["fan_key"] for r in rows] == [c.fan.fan_key for c in coupons]
        assert rows[0]["fan_id"] == ids.encode("Fan", coupons[0].fan_id)

    def test_large_export_streams_in_batches(self, client, delivered, monkeypatch):
        from backend.coupons import views

        monkeypatch.setattr(views, "EXPORT_BATCH", 3)
        placement, coupons = delivered
        response = client.get(
            _csv_url(ids.encode("Placement", placement.pk)), **_auth(make_api_key(placement.publisher))
        )
        assert len(_csv_rows(response)) == len(coupons) == 4

    @pytest.mark.parametrize("who", ["issuer", "outsider"])
    def test_anyone_but_the_publisher_gets_404(self, client, delivered, who):
        placement, _ = delivered
        merchant = placement.issuer if who == "issuer" else MerchantFactory()
        response = client.get(
            _csv_url(ids.encode("Placement", placement.pk)), **_auth(make_api_key(merchant))
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"

    def test_authentication_is_required(self, client, delivered):
        placement, _ = delivered
        url = _csv_url(ids.encode("Placement", placement.pk))
        assert client.get(url).status_code == 401
        assert client.get(url, HTTP_AUTHORIZATION="Bearer cn_nope_nope").status_code == 401
        revoked = make_api_key(placement.publisher, revoked=True)
        assert client.get(url, **_auth(revoked)).status_code == 401
        assert client.post(url, **_auth(make_api_key(placement.publisher))).status_code == 405

    def test_bad_ids_are_404(self, client, delivered):
        placement, _ = delivered
        key = make_api_key(placement.publisher)
        for bad in (
            "nonsense",
            ids.encode("Campaign", placement.campaign_id),
            ids.encode("Placement", 10**9),
        ):
            assert client.get(_csv_url(bad), **_auth(key)).status_code == 404


class TestQr:
    def test_the_publisher_gets_a_png(self, client, delivered):
        placement, coupons = delivered
        key = make_api_key(placement.publisher, "brand")
        response = client.get(_qr_url(coupons[0].code), **_auth(key))
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
        # Crockford input rules: lower case is the same code.
        assert client.get(_qr_url(coupons[0].code.lower()), **_auth(key)).status_code == 200

    @pytest.mark.parametrize("who", ["issuer", "outsider"])
    def test_anyone_but_the_publisher_gets_404(self, client, delivered, who):
        placement, coupons = delivered
        merchant = placement.issuer if who == "issuer" else MerchantFactory()
        response = client.get(_qr_url(coupons[0].code), **_auth(make_api_key(merchant)))
        assert response.status_code == 404

    def test_unknown_malformed_and_unauthenticated(self, client, delivered):
        placement, coupons = delivered
        key = make_api_key(placement.publisher)
        assert client.get(_qr_url("NOT-A-CODE"), **_auth(key)).status_code == 404
        assert client.get(_qr_url(coupons[0].code)).status_code == 401


def test_graphql_export_paginates_and_shows_no_pii(api, operation, delivered):
    placement, coupons = delivered
    key = make_api_key(placement.publisher, "brand")
    pid = ids.encode("Placement", placement.pk)
    seen, after = [], None
    while True:
        page = api.execute(
            operation("coupons_placement_coupons"), {"placementId": pid, "first": 3, "after": after}, key=key
        ).ok()["placementCoupons"]
        assert page["totalCount"] == 4
        seen += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [n["code"] for n in seen] == [c.code for c in coupons]
    assert seen[0]["qrUrl"] == _qr_url(coupons[0].code)
    assert set(seen[0]) == {
        "code",
        "fanId",
        "fanKey",
        "ordinal",
        "status",
        "issuedAt",
        "validFrom",
        "validUntil",
        "qrUrl",
    }


def test_a_finance_key_reads_no_redeemable_codes(api, operation, client, delivered):
    placement, coupons = delivered
    key = make_api_key(placement.publisher, "finance")
    pid = ids.encode("Placement", placement.pk)
    r = api.execute(operation("coupons_placement_coupons"), {"placementId": pid, "first": 3}, key=key)
    assert r.error_codes == ["FORBIDDEN"]
    for url in (_csv_url(pid), _qr_url(coupons[0].code)):
        response = client.get(url, **_auth(key))
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "FORBIDDEN"


def test_end_to_end_issue_on_a_real_worker_and_export(live_api, operation, celery_worker_process):
    """Issuer creates and activates, proposes; publisher accepts, issues on the worker, exports."""
    issuer, publisher = MerchantFactory(name="Sweet Spoon"), MerchantFactory(name="Mochi Cartoon")
    issuer_key, publisher_key = make_api_key(issuer, "brand"), make_api_key(publisher, "brand")
    pool = pool_with_fans(60, merchant=publisher)
    quota = 45

    created = live_api.execute(
        operation("campaigns_create"),
        {
            "input": {
                "name": "5 off any dessert",
                "benefitKind": "AMOUNT_OFF",
                "amountOff": 500,
                "currency": "CNY",
                "validDaysAfterIssue": 30,
                "feePerRedemption": 120,
                "publisherShareBps": 5000,
            }
        },
        key=issuer_key,
    ).ok()["campaignCreate"]
    cid = created["campaign"]["id"]
    assert (
        live_api.execute(operation("campaigns_activate"), {"id": cid}, key=issuer_key).ok()[
            "campaignActivate"
        ]["errors"]
        == []
    )
    proposed = live_api.execute(
        operation("campaigns_placement_propose"),
        {"input": {"campaignId": cid, "poolId": ids.encode("FanPool", pool.pk), "quota": quota}},
        key=issuer_key,
    ).ok()["placementPropose"]
    pid = proposed["placement"]["id"]
    accepted = live_api.execute(operation("campaigns_placement_accept"), {"id": pid}, key=publisher_key).ok()
    assert accepted["placementAccept"]["placement"]["status"] == "ACCEPTED"

    started = live_api.execute(
        operation("coupons_issuance_start"), {"input": {"placementId": pid}}, key=publisher_key
    ).ok()["issuanceStart"]
    assert started["errors"] == []
    job_id = started["job"]["id"]

    def finished():
        job = live_api.execute(operation("coupons_issuance_job"), {"id": job_id}, key=publisher_key).ok()
        job = job["issuanceJob"]
        return job if job["status"] in ("SUCCEEDED", "FAILED") else None

    job = wait_for(finished, timeout=60, interval=0.3)
    assert (job["status"], job["total"], job["issued"]) == ("SUCCEEDED", quota, quota)
    # The issuer follows progress as counts only.
    as_issuer = live_api.execute(operation("coupons_issuance_job"), {"id": job_id}, key=issuer_key).ok()
    assert as_issuer["issuanceJob"]["issued"] == quota

    exported, after = [], None
    while True:
        page = live_api.execute(
            operation("coupons_placement_coupons"),
            {"placementId": pid, "first": 20, "after": after},
            key=publisher_key,
        ).ok()["placementCoupons"]
        exported += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert (
        len(exported) == quota == len({n["code"] for n in exported}) == len({n["fanKey"] for n in exported})
    )
    pool_keys = set(pool.memberships.values_list("fan__fan_key", flat=True))
    assert {n["fanKey"] for n in exported} <= pool_keys

    url = f"{live_api.base_url}/coupons/placements/{pid}/codes.csv"
    response = requests.get(url, headers={"Authorization": f"Bearer {publisher_key}"}, timeout=30)
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted(r["code"] for r in rows) == sorted(n["code"] for n in exported)
    denied = requests.get(url, headers={"Authorization": f"Bearer {issuer_key}"}, timeout=30)
    assert denied.status_code == 404

    placement = Placement.objects.get(pk=ids.decode("Placement", pid))
    assert placement.issued_count == quota == Coupon.objects.filter(placement=placement).count()
    assert IssuanceJob.objects.get().chunks_done == IssuanceJob.objects.get().chunk_count
