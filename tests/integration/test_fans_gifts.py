"""Gifting (转赠): once, only unused coupons, with an audit trail; attribution stays put."""

from __future__ import annotations

import pytest

from backend.api.errors import ServiceError
from backend.audience.identity import phone_identity
from backend.coupons import codes
from backend.coupons.delivery import delivery_token
from backend.coupons.models import Coupon
from backend.fans import services
from backend.fans.models import Gift
from tests.factories import ClaimLinkFactory, PlacementFactory, active_campaign, new_phone

pytestmark = pytest.mark.django_db


def claimed(**campaign_kwargs):
    link = ClaimLinkFactory(placement=PlacementFactory(campaign=active_campaign(**campaign_kwargs)))
    return link, services.claim_coupon(claim_link=link, identity=phone_identity(new_phone()), consent=True)


def code_of(exc_info) -> str:
    return exc_info.value.errors[0].code


def test_a_gift_moves_the_coupon_once_and_keeps_the_trail_and_the_placement():
    _, giver = claimed()
    gift = services.gift_create(wallet=giver.wallet, coupon=giver.coupon)
    assert services.gift_create(wallet=giver.wallet, coupon=giver.coupon).pk == gift.pk  # the same link

    friend = services.gift_accept(gift=gift, identity=phone_identity(new_phone()))
    friend.coupon.refresh_from_db()
    assert friend.coupon.pk == giver.coupon.pk and friend.coupon.fan_id == friend.wallet.fan_id
    assert friend.coupon.placement_id == giver.coupon.placement_id  # attribution stays
    trail = Gift.objects.get()
    assert (trail.giver_id, trail.receiver_id) == (giver.coupon.fan_id, friend.coupon.fan_id)
    assert trail.accepted_at is not None

    with pytest.raises(ServiceError) as exc_info:
        services.gift_accept(gift=gift, identity=phone_identity(new_phone()))
    assert code_of(exc_info) == "GIFT_UNAVAILABLE"
    with pytest.raises(ServiceError) as exc_info:  # the friend cannot give it on
        services.gift_create(wallet=friend.wallet, coupon=friend.coupon)
    assert code_of(exc_info) == "GIFT_UNAVAILABLE"


def test_a_campaign_may_forbid_gifting_and_used_coupons_cannot_be_given():
    _, held = claimed(allow_gifting=False)
    with pytest.raises(ServiceError) as exc_info:
        services.gift_create(wallet=held.wallet, coupon=held.coupon)
    assert code_of(exc_info) == "GIFT_UNAVAILABLE"

    _, used = claimed()
    gift = services.gift_create(wallet=used.wallet, coupon=used.coupon)
    type(used.coupon).objects.filter(pk=used.coupon.pk).update(status="redeemed")
    with pytest.raises(ServiceError) as exc_info:
        services.gift_accept(gift=gift, identity=phone_identity(new_phone()))
    assert code_of(exc_info) == "GIFT_UNAVAILABLE"


def test_the_giver_cannot_accept_and_a_holder_of_the_offer_is_refused():
    link, giver = claimed()
    gift = services.gift_create(wallet=giver.wallet, coupon=giver.coupon)
    own = giver.coupon.fan
    with pytest.raises(ServiceError) as exc_info:
        services.gift_accept(
            gift=gift, identity=type(phone_identity(new_phone()))(fan_key=own.fan_key, kind=own.kind)
        )
    assert code_of(exc_info) == "OWN_SHARE"
    holder = phone_identity(new_phone())
    services.claim_coupon(claim_link=link, identity=holder, consent=True)
    with pytest.raises(ServiceError) as exc_info:
        services.gift_accept(gift=gift, identity=holder)
    assert code_of(exc_info) == "ALREADY_HOLDS"
    assert Gift.objects.get().accepted_at is None


def test_the_friend_gets_a_new_code_the_giver_can_no_longer_use_nor_see_by_its_delivery_link(client):
    _, giver = claimed()
    old_code = giver.coupon.code
    delivery = delivery_token(giver.coupon.pk)
    assert client.get(f"/d/{delivery}/").status_code == 200
    gift = services.gift_create(wallet=giver.wallet, coupon=giver.coupon)

    friend = services.gift_accept(gift=gift, identity=phone_identity(new_phone()))

    assert friend.coupon.code != old_code and codes.is_well_formed(friend.coupon.code)
    assert Coupon.objects.get(pk=giver.coupon.pk).code == friend.coupon.code
    assert not Coupon.objects.filter(code=old_code).exists()  # the till answers UNKNOWN_CODE
    assert client.get(f"/d/{delivery}/").status_code == 404
    assert client.get(f"/d/{delivery}/qr.svg").status_code == 404


@pytest.mark.parametrize("token", ["%00", "%C2%B2-x", "1-%C3%A9", "%F0%9F%8E%81"])
def test_a_malformed_token_is_not_found_never_a_server_error(client, token):
    for page in ("c", "s", "g", "w", "d"):
        assert client.get(f"/{page}/{token}/").status_code == 404
