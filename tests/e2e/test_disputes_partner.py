"""A dispute on a write-off at a partner's store: the partner is the counterparty and answers;
upheld, one credit reverses the fee, the publisher's share and the partner's reimbursement;
the partner's reimbursement is held out of payouts meanwhile. The netting statement shows a
merchant that is issuer, publisher and partner in one month, and reconcile agrees."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Sum
from django.utils import timezone

from attribution.reconcile import reconcile
from backend.api import ids
from backend.outbox.models import OutboxEvent
from backend.outbox.services import process_events
from billing import services as billing
from billing.models import LedgerEntry, PayoutHold
from tests.factories import partner_till, pos_setup, redeem
from tests.factories.merchants import MerchantFactory, make_api_key

pytestmark = pytest.mark.django_db


def deliver() -> None:
    while pending := list(
        OutboxEvent.objects.filter(dispatched_at__isnull=True).values_list("pk", flat=True)
    ):
        process_events(pending)


def kinds(redemption) -> dict[str, int]:
    lines = LedgerEntry.objects.filter(posting__redemption=redemption).exclude(state="reversed")
    return dict(lines.values_list("account_kind").annotate(total=Sum("amount")))


def test_a_partners_write_off_is_disputed_with_the_partner_and_credited_in_full(api, operation):
    setup = pos_setup(coupons=1, fee_per_redemption=200, publisher_share_bps=5000)
    partner = partner_till(setup, max_reimbursement=400, handling_fee=30)
    redemption = redeem(setup, terminal=partner.terminal, now=timezone.now() - dt.timedelta(hours=2))
    deliver()
    billing.lock_due_entries(now=timezone.now())
    assert kinds(redemption) == {
        "issuer_receivable": 630,  # the fee 200 + the reimbursement 400 + the handling fee 30
        "publisher_payable": -100,
        "platform_revenue": -100,
        "partner_payable": -430,
    }
    issuer_key = make_api_key(setup.merchant, "finance")
    opened = api.execute(
        operation("disputes_open"),
        {
            "input": {
                "redemptionId": ids.encode("Redemption", redemption.pk),
                "reasonCode": "NOT_REDEEMED",
                "note": "No such sale at the partner's shop.",
            }
        },
        key=issuer_key,
    ).ok()["disputeOpen"]
    assert opened["errors"] == []
    dispute = opened["dispute"]
    assert (dispute["counterpartyRole"], dispute["counterparty"]["slug"]) == (
        "PARTNER",
        partner.merchant.slug,
    )
    assert dispute["receipt"]["storeMerchant"] == partner.merchant.slug
    assert PayoutHold.objects.filter(redemption=redemption, released_at__isnull=True).exists()

    # the publisher is not the counterparty here: it cannot see or answer the dispute
    publisher_key = make_api_key(setup.placement.publisher, "finance")
    r = api.execute(
        operation("disputes_respond"), {"disputeId": dispute["id"], "note": "x"}, key=publisher_key
    )
    assert [e["code"] for e in r.ok()["disputeRespond"]["errors"]] == ["NOT_FOUND"]
    partner_key = make_api_key(partner.merchant, "admin")
    r = api.execute(
        operation("disputes_respond"),
        {"disputeId": dispute["id"], "note": "Receipt attached."},
        key=partner_key,
    ).ok()["disputeRespond"]
    assert r["errors"] == []

    r = api.execute(
        operation("disputes_decide"),
        {"disputeId": dispute["id"], "decision": "UPHELD", "note": "The receipt is for another order."},
        key=make_api_key(MerchantFactory(is_network_operator=True), "admin"),
    ).ok()["disputeDecide"]
    assert (r["dispute"]["status"], r["dispute"]["creditPosted"]) == ("UPHELD", True)
    assert kinds(redemption) == {
        "issuer_receivable": 0,
        "publisher_payable": 0,
        "platform_revenue": 0,
        "partner_payable": 0,
    }
    assert not PayoutHold.objects.filter(released_at__isnull=True).exists()
    for merchant in (setup.merchant, partner.merchant, setup.placement.publisher):
        result = reconcile(
            merchant=merchant,
            start=timezone.now() - dt.timedelta(days=40),
            end=timezone.now() + dt.timedelta(days=1),
        )
        assert result.ok, result.discrepancies


def test_netting_a_merchant_that_is_issuer_publisher_and_partner(api, operation):
    """M issues its own campaign, publishes B's, and redeems C's coupons at its store."""
    from tests.factories.audience import FanPoolFactory
    from tests.factories.campaigns import CampaignPartnerFactory, CouponFactory, PlacementFactory

    october = dt.datetime(2026, 10, 10, 12, tzinfo=dt.UTC)
    own = pos_setup(coupons=1, fee_per_redemption=200, publisher_share_bps=2500)
    me = own.merchant
    carried = pos_setup(coupons=0, fee_per_redemption=400, publisher_share_bps=5000)
    carried_placement = PlacementFactory(campaign=carried.campaign, pool=FanPoolFactory(merchant=me))
    redeemed = pos_setup(coupons=1, fee_per_redemption=100, publisher_share_bps=0)
    CampaignPartnerFactory(campaign=redeemed.campaign, partner=me, max_reimbursement=300, handling_fee=20)

    redeem(own, now=october)  # owes 200: 50 to its publisher, 150 to the network
    coupon = CouponFactory(placement=carried_placement, campaign=carried.campaign)
    redeem(carried, coupon.code, now=october)  # earns 200 from B
    redeem(redeemed, terminal=own.terminal, now=october)  # earns 300 + 20 from C at its own till
    deliver()
    billing.lock_due_entries(now=october + dt.timedelta(days=1))

    statement = api.execute(
        operation("billing_netting_statement"), {"period": "2026-10"}, key=make_api_key(me, "finance")
    ).ok()["nettingStatement"]
    assert [(t["owed"], t["earned"], t["net"]) for t in statement["totals"]] == [(200, 520, 320)]
    parties = {(c["counterparty"], c["owed"], c["earned"]) for c in statement["counterparties"]}
    assert parties == {
        ("network", 150, 0),
        (own.placement.publisher.name, 50, 0),
        (carried.merchant.name, 0, 200),
        (redeemed.merchant.name, 0, 320),
    }
    assert {(c["name"], c["owed"], c["earned"]) for c in statement["campaigns"]} == {
        (own.campaign.name, 200, 0),
        (carried.campaign.name, 0, 200),
        (redeemed.campaign.name, 0, 320),
    }
    result = reconcile(
        merchant=me,
        start=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
        end=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    )
    assert result.ok, result.discrepancies
