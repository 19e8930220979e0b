"""Partner acceptance over GraphQL: invite, accept (all or chosen stores), decline, end; the
payload errors; both sides' views; tenant isolation; and a partner's till over HTTP."""

from __future__ import annotations

import uuid

import pytest

from backend.api import ids
from backend.campaigns.models import Campaign, CampaignPartner
from backend.redemptions.models import Redemption
from tests.factories import (
    CouponFactory,
    MerchantFactory,
    PlacementFactory,
    StoreFactory,
    active_campaign,
    make_api_key,
    make_terminal,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def issuer():
    merchant = MerchantFactory(name="Sweet Spoon", slug="sweet-spoon")
    return merchant, make_api_key(merchant, "brand")


@pytest.fixture
def partner():
    merchant = MerchantFactory(name="Tea Corner", slug="tea-corner")
    return merchant, make_api_key(merchant, "brand")


@pytest.fixture
def outsider():
    merchant = MerchantFactory(name="Bean There", slug="bean-there")
    return merchant, make_api_key(merchant, "admin")


@pytest.fixture
def campaign(issuer):
    return active_campaign(merchant=issuer[0], amount_off=500)


def gid(obj) -> str:
    return ids.encode(type(obj).__name__, obj.pk)


def errors_of(payload) -> set[tuple[str | None, str]]:
    return {(e["field"], e["code"]) for e in payload["errors"]}


def invite(api, operation, key, campaign_id, **overrides):
    variables = {
        "input": {
            "campaignId": campaign_id,
            "partnerSlug": "tea-corner",
            "maxReimbursement": 500,
            "handlingFee": 30,
            **overrides,
        }
    }
    return api.execute(operation("campaigns_partner_invite"), variables, key=key).ok()["campaignPartnerInvite"]


def act(api, operation, key, action, partnership_id, **variables):
    name = {"accept": "Accept", "decline": "Decline", "end": "End"}[action]
    answer = api.execute(
        operation(f"campaigns_partner_{action}"), {"id": partnership_id, **variables}, key=key
    ).ok()
    return answer[f"campaignPartner{name}"]


def test_invite_accept_and_both_sides_see_it(api, operation, issuer, partner, campaign):
    invited = invite(api, operation, issuer[1], gid(campaign))
    assert invited["errors"] == []
    node = invited["campaignPartner"]
    assert (node["status"], node["side"], node["partnerSlug"]) == ("INVITED", "ISSUER", "tea-corner")
    assert (node["maxReimbursement"], node["handlingFee"], node["currency"]) == (500, 30, "CNY")
    assert node["campaign"]["id"] == gid(campaign)
    accepted = act(api, operation, partner[1], "accept", node["id"])
    assert accepted["errors"] == []
    seen = accepted["campaignPartner"]
    assert (seen["status"], seen["side"], seen["allStores"]) == ("ACCEPTED", "PARTNER", True)
    assert seen["campaign"] is None  # the issuer's campaign itself is not the partner's
    assert seen["offer"]["name"] == campaign.name and seen["offer"]["amountOff"] == 500
    for key, side in ((issuer[1], "ISSUER"), (partner[1], "PARTNER")):
        listed = api.execute(operation("campaigns_partners"), {"side": side}, key=key).ok()
        assert [e["node"]["id"] for e in listed["campaignPartners"]["edges"]] == [node["id"]]
        one = api.execute(operation("campaigns_partner"), {"id": node["id"]}, key=key).ok()
        assert one["campaignPartner"]["status"] == "ACCEPTED"
    ended = act(api, operation, issuer[1], "end", node["id"])
    assert (ended["campaignPartner"]["status"], ended["campaignPartner"]["endedBy"]) == ("ENDED", "ISSUER")


def test_chosen_stores_are_the_partners_own_and_named_on_accept(api, operation, issuer, partner, campaign):
    mine = StoreFactory(merchant=partner[0], name="Tea Corner East")
    theirs = StoreFactory(merchant=issuer[0])
    node = invite(api, operation, issuer[1], gid(campaign), allStores=False)["campaignPartner"]
    assert errors_of(act(api, operation, partner[1], "accept", node["id"])) == {("storeIds", "REQUIRED")}
    assert errors_of(act(api, operation, partner[1], "accept", node["id"], storeIds=[gid(theirs)])) == {
        ("storeIds", "NOT_FOUND")
    }
    assert CampaignPartner.objects.get().status == "invited"  # nothing written
    accepted = act(api, operation, partner[1], "accept", node["id"], storeIds=[gid(mine)])
    assert accepted["errors"] == []
    assert accepted["campaignPartner"]["stores"] == [{"id": gid(mine), "name": "Tea Corner East"}]
    seen_by_issuer = api.execute(operation("campaigns_partner"), {"id": node["id"]}, key=issuer[1]).ok()
    assert seen_by_issuer["campaignPartner"]["storeNames"] == ["Tea Corner East"]
    assert seen_by_issuer["campaignPartner"]["stores"] is None


def test_an_all_stores_invitation_takes_no_store_ids(api, operation, issuer, partner, campaign):
    mine = StoreFactory(merchant=partner[0])
    node = invite(api, operation, issuer[1], gid(campaign))["campaignPartner"]
    answer = act(api, operation, partner[1], "accept", node["id"], storeIds=[gid(mine)])
    assert errors_of(answer) == {("storeIds", "INVALID")}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"partnerSlug": "sweet-spoon"}, ("partnerSlug", "OWN_CAMPAIGN")),
        ({"partnerSlug": "nobody-here"}, ("partnerSlug", "NOT_FOUND")),
        ({"maxReimbursement": 501}, ("maxReimbursement", "REIMBURSEMENT_ABOVE_DISCOUNT")),
        ({"maxReimbursement": -1}, ("maxReimbursement", "OUT_OF_RANGE")),
        ({"handlingFee": -5}, ("handlingFee", "OUT_OF_RANGE")),
    ],
)
def test_bad_invitations_are_payload_errors_and_write_nothing(
    api, operation, issuer, partner, campaign, overrides, expected
):
    assert errors_of(invite(api, operation, issuer[1], gid(campaign), **overrides)) == {expected}
    assert not CampaignPartner.objects.exists()


def test_the_cap_follows_the_campaigns_largest_discount(api, operation, issuer, partner):
    capped = active_campaign(
        merchant=issuer[0], benefit_kind="percent_off", amount_off=None, percent_off_bps=1000, percent_cap=800
    )
    assert errors_of(invite(api, operation, issuer[1], gid(capped), maxReimbursement=801)) == {
        ("maxReimbursement", "REIMBURSEMENT_ABOVE_DISCOUNT")
    }
    assert invite(api, operation, issuer[1], gid(capped), maxReimbursement=800)["errors"] == []
    uncapped = active_campaign(
        merchant=issuer[0], benefit_kind="percent_off", amount_off=None, percent_off_bps=1000
    )
    assert invite(api, operation, issuer[1], gid(uncapped), maxReimbursement=10_000)["errors"] == []


def test_only_an_active_campaign_and_one_open_invitation(api, operation, issuer, partner, campaign):
    draft = active_campaign(merchant=issuer[0])
    Campaign.objects.filter(pk=draft.pk).update(status="draft")
    assert errors_of(invite(api, operation, issuer[1], gid(draft))) == {("campaignId", "CAMPAIGN_NOT_ACTIVE")}
    first = invite(api, operation, issuer[1], gid(campaign))["campaignPartner"]
    assert errors_of(invite(api, operation, issuer[1], gid(campaign))) == {
        ("partnerSlug", "OPEN_PARTNERSHIP_EXISTS")
    }
    assert act(api, operation, partner[1], "decline", first["id"])["campaignPartner"]["status"] == "DECLINED"
    assert invite(api, operation, issuer[1], gid(campaign))["errors"] == []  # invited again after a decline


def test_wrong_transitions(api, operation, issuer, partner, campaign):
    node = invite(api, operation, issuer[1], gid(campaign))["campaignPartner"]
    # the issuer cannot accept or decline its own invitation
    assert errors_of(act(api, operation, issuer[1], "accept", node["id"])) == {("id", "NOT_FOUND")}
    assert errors_of(act(api, operation, issuer[1], "decline", node["id"])) == {("id", "NOT_FOUND")}
    act(api, operation, partner[1], "accept", node["id"])
    assert errors_of(act(api, operation, partner[1], "accept", node["id"])) == {("id", "INVALID_TRANSITION")}
    assert errors_of(act(api, operation, partner[1], "decline", node["id"])) == {("id", "INVALID_TRANSITION")}
    act(api, operation, partner[1], "end", node["id"])
    assert errors_of(act(api, operation, issuer[1], "end", node["id"])) == {("id", "INVALID_TRANSITION")}


def test_ending_the_campaign_ends_its_partnerships(api, operation, issuer, partner, campaign):
    node = invite(api, operation, issuer[1], gid(campaign))["campaignPartner"]
    api.execute(operation("campaigns_end"), {"id": gid(campaign)}, key=issuer[1]).ok()
    assert CampaignPartner.objects.get().status == "ended"
    assert errors_of(act(api, operation, partner[1], "accept", node["id"])) == {("id", "CAMPAIGN_NOT_ACTIVE")}


def test_a_third_merchant_sees_and_touches_nothing(api, operation, issuer, partner, outsider, campaign):
    node = invite(api, operation, issuer[1], gid(campaign))["campaignPartner"]
    for action in ("accept", "decline", "end"):
        assert errors_of(act(api, operation, outsider[1], action, node["id"])) == {("id", "NOT_FOUND")}
    assert api.execute(operation("campaigns_partner"), {"id": node["id"]}, key=outsider[1]).ok() == {
        "campaignPartner": None
    }
    listed = api.execute(operation("campaigns_partners"), {}, key=outsider[1]).ok()
    assert listed["campaignPartners"]["totalCount"] == 0
    # nor invite to another merchant's campaign
    answer = invite(api, operation, outsider[1], gid(campaign), partnerSlug="tea-corner")
    assert errors_of(answer) == {("campaignId", "NOT_FOUND")}
    assert CampaignPartner.objects.get().status == "invited"


def test_a_partners_till_writes_off_over_http_and_sees_no_issuer_campaign(
    api, operation, issuer, partner, campaign
):
    store = StoreFactory(merchant=partner[0])
    terminal, secret = make_terminal(store)
    coupon = CouponFactory(placement=PlacementFactory(campaign=campaign), campaign=campaign)
    variables = {"code": coupon.code, "orderAmount": 3000, "currency": "CNY", "idempotencyKey": uuid.uuid4().hex}

    def redeem():
        signing = (terminal.uid, secret)
        return api.execute(operation("pos_redeem_coupon"), variables, terminal=signing).ok()["redeemCoupon"]

    node = invite(api, operation, issuer[1], gid(campaign))["campaignPartner"]
    assert redeem()["redemption"]["reasonCode"] == "WRONG_MERCHANT"  # invited is not accepted
    act(api, operation, partner[1], "accept", node["id"])
    variables["idempotencyKey"] = uuid.uuid4().hex
    answer = redeem()
    assert answer["redemption"]["status"] == "VERIFIED"
    assert answer["redemption"]["discountAmount"] == 500
    assert answer["redemption"]["campaignName"] == campaign.name
    redemption = Redemption.objects.get(status="verified")
    assert (redemption.merchant_id, redemption.store_id) == (partner[0].pk, store.pk)
