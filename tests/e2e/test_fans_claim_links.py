"""The publisher's claim links over the API: create, list, disable, posters; tenant-checked."""

from __future__ import annotations

import pytest

from backend.api import ids
from backend.fans.models import ClaimLink
from tests.factories import MerchantFactory, PlacementFactory, active_campaign, make_api_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def placement():
    return PlacementFactory(campaign=active_campaign(name="5 off any dessert"), pool__merchant__name="Mochi")


def create(api, operation, key, placement_gid, channel="wechat-group"):
    return api.execute(
        operation("fans_claim_link_create"),
        {"input": {"placementId": placement_gid, "channel": channel}},
        key=key,
    ).ok()["claimLinkCreate"]


def test_publisher_creates_lists_and_disables_claim_links(api, operation, client, placement):
    key = make_api_key(placement.publisher)
    gid = ids.encode("Placement", placement.pk)
    payload = create(api, operation, key, gid, "Counter-Poster")
    assert payload["errors"] == []
    link = payload["claimLink"]
    assert link["channel"] == "counter-poster" and link["isActive"] and link["claimCount"] == 0
    token = ClaimLink.objects.get().token
    assert link["url"].endswith(f"/c/{token}/")
    assert client.get(f"/c/{token}/").status_code == 200

    listed = api.execute(operation("fans_claim_links"), {"placementId": gid}, key=key).ok()["claimLinks"]
    assert [item["id"] for item in listed] == [link["id"]]

    disabled = api.execute(operation("fans_claim_link_disable"), {"id": link["id"]}, key=key).ok()
    assert disabled["claimLinkDisable"]["claimLink"]["isActive"] is False
    page = client.get(f"/c/{token}/")
    assert "no longer available" in page.content.decode()


def test_bad_channel_and_the_issuer_are_refused_as_data(api, operation, placement):
    gid = ids.encode("Placement", placement.pk)
    bad = create(api, operation, make_api_key(placement.publisher), gid, "has spaces!")
    assert [e["code"] for e in bad["errors"]] == ["INVALID_CHANNEL"]
    issuer = create(api, operation, make_api_key(placement.issuer), gid)
    assert [e["code"] for e in issuer["errors"]] == ["ONLY_PUBLISHER"]
    assert not ClaimLink.objects.exists()


def test_another_merchant_sees_nothing(api, operation, client, placement):
    key = make_api_key(placement.publisher)
    gid = ids.encode("Placement", placement.pk)
    link = create(api, operation, key, gid)["claimLink"]
    stranger = make_api_key(MerchantFactory())

    assert [e["code"] for e in create(api, operation, stranger, gid)["errors"]] == ["NOT_FOUND"]
    assert (
        api.execute(operation("fans_claim_links"), {"placementId": gid}, key=stranger).ok()["claimLinks"]
        == []
    )
    refused = api.execute(operation("fans_claim_link_disable"), {"id": link["id"]}, key=stranger).ok()
    assert [e["code"] for e in refused["claimLinkDisable"]["errors"]] == ["NOT_FOUND"]
    pk = ids.decode("ClaimLink", link["id"])
    assert (
        client.get(f"/fans/claim-links/{pk}/poster.png", HTTP_AUTHORIZATION=f"Bearer {stranger}").status_code
        == 404
    )
    assert client.get(f"/fans/claim-links/{pk}/poster.png").status_code == 401


def test_posters_are_a_png_and_an_svg_holding_the_offer(api, operation, client, placement):
    key = make_api_key(placement.publisher)
    link = create(api, operation, key, ids.encode("Placement", placement.pk))["claimLink"]
    png = client.get(link["posterPngUrl"], HTTP_AUTHORIZATION=f"Bearer {key}")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG") and len(png.content) > 5000
    svg = client.get(link["posterSvgUrl"], HTTP_AUTHORIZATION=f"Bearer {key}")
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    body = svg.content.decode()
    assert "5 off any dessert" in body and "#wechat-group" in body and "<path d=" in body


def test_claim_funnel_by_channel_and_sharer_for_issuer_and_publisher_only(api, operation, placement):
    from backend.audience.identity import phone_identity
    from backend.coupons.models import Coupon
    from backend.fans import services
    from tests.factories import ClaimLinkFactory, new_phone

    group = ClaimLinkFactory(placement=placement, channel="wechat-group")
    poster = ClaimLinkFactory(placement=placement, channel="counter-poster")
    sharer = services.claim_coupon(claim_link=group, identity=phone_identity(new_phone()), consent=True)
    services.claim_coupon(claim_link=poster, identity=phone_identity(new_phone()), consent=True)
    share = services.share_link_for(wallet=sharer.wallet, coupon=sharer.coupon)
    friend = services.claim_coupon(claim_link=share, identity=phone_identity(new_phone()), consent=True)
    Coupon.objects.filter(pk=friend.coupon.pk).update(status="redeemed")

    gid = ids.encode("Placement", placement.pk)
    for merchant in (placement.issuer, placement.publisher):
        key = make_api_key(merchant)
        by_channel = api.execute(
            operation("fans_claim_funnel"), {"placementId": gid, "dimension": "CHANNEL"}, key=key
        ).ok()["claimFunnel"]
        assert (
            by_channel["issued"],
            by_channel["claimed"],
            by_channel["shared"],
            by_channel["redeemed"],
        ) == (3, 3, 1, 1)
        assert {r["key"]: (r["claimed"], r["redeemed"]) for r in by_channel["rows"]} == {
            "wechat-group": (1, 0),
            "counter-poster": (1, 0),
            "share": (1, 1),
        }
        by_sharer = api.execute(
            operation("fans_claim_funnel"), {"placementId": gid, "dimension": "SHARER"}, key=key
        ).ok()["claimFunnel"]
        assert by_sharer["rows"] == [
            {"key": ids.encode("Fan", sharer.coupon.fan_id), "claimed": 1, "redeemed": 1}
        ]
    stranger = api.execute(
        operation("fans_claim_funnel"),
        {"placementId": gid, "dimension": "CHANNEL"},
        key=make_api_key(MerchantFactory()),
    ).ok()
    assert stranger["claimFunnel"] is None
