"""The netting statement over GraphQL HTTP: one merchant that is an issuer and a publisher in
the same month sees what it owes, what it earned and the net, by counterparty and campaign;
reconcile proves the statement, the invoice and the payout agree to the cent."""

from __future__ import annotations

import datetime as dt

import pytest

from attribution.reconcile import reconcile
from billing import closing, payouts, services
from disputes import services as disputes
from tests.factories.audience import FanPoolFactory
from tests.factories.billing import BillingSetup, billing_setup, write_off
from tests.factories.campaigns import PlacementFactory
from tests.factories.merchants import MerchantFactory, make_api_key

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def at(day: int, month: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, 12, tzinfo=UTC)


@pytest.fixture
def month(settings):
    settings.PAYOUTS_MINIMUM_AMOUNT = 1
    settings.PAYOUTS_MINIMUM_AMOUNTS = {}
    settings.PAYOUTS_NET_DAYS = 15
    own = billing_setup(fee=200, share_bps=2500)  # the merchant's campaign: 50 to its publisher
    merchant = own.issuer
    other = billing_setup(fee=400, share_bps=5000)  # another issuer's campaign ...
    carried = BillingSetup(
        other.issuer,
        other.store,
        other.terminal,
        other.campaign,
        # ... that the merchant publishes to its own fans: 200 per write-off to it
        PlacementFactory(
            campaign=other.campaign, pool=FanPoolFactory(merchant=merchant), publisher_share_bps=5000
        ),
    )
    redemptions = [write_off(own, at=at(d)) for d in (3, 4)] + [
        write_off(carried, at=at(d)) for d in (5, 6, 7)
    ]
    for r in redemptions:
        services.charge_redemption(redemption_id=r.pk)
    services.lock_due_entries(now=at(25))
    closing.freeze_period(issuer=merchant, period_start=dt.date(2026, 10, 1), now=at(2, 11))
    payouts.payout_account_set(
        merchant=merchant,
        method="bank_transfer",
        bank_account_holder="Merchant",
        bank_account_number="DE89 3704 0044 0532 0130 00",
        bank_code="COBADEFFXXX",
    )
    payouts.run_payouts(day=dt.date(2026, 11, 15), collected_only=False)
    return {"merchant": merchant, "own": own, "other": other, "redemptions": redemptions}


def test_a_merchant_that_issues_and_publishes_sees_its_month_netted(api, operation, month):
    merchant, own, other = month["merchant"], month["own"], month["other"]
    key = make_api_key(merchant, "finance")
    statement = api.execute(operation("billing_netting_statement"), {"period": "2026-10"}, key=key).ok()[
        "nettingStatement"
    ]
    assert statement["totals"] == [
        {
            "currency": "CNY",
            "owed": 400,  # two write-offs of its own campaign at 200
            "earned": 600,  # three write-offs it carried, 200 each
            "net": 200,
            "invoiced": 400,
            "paidOut": 600,
            "held": 0,
        }
    ]
    assert statement["counterparties"] == [
        {
            "counterparty": "network",
            "isNetwork": True,
            "currency": "CNY",
            "owed": 300,
            "earned": 0,
            "net": -300,
        },
        {
            "counterparty": own.publisher.name,
            "isNetwork": False,
            "currency": "CNY",
            "owed": 100,
            "earned": 0,
            "net": -100,
        },
        {
            "counterparty": other.issuer.name,
            "isNetwork": False,
            "currency": "CNY",
            "owed": 0,
            "earned": 600,
            "net": 600,
        },
    ]
    assert [(c["name"], c["issuer"], c["owed"], c["earned"], c["net"]) for c in statement["campaigns"]] == [
        (own.campaign.name, merchant.name, 400, 0, -400),
        (other.campaign.name, other.issuer.name, 0, 600, 600),
    ]
    result = reconcile(merchant=merchant, start=at(1, 1), end=at(1, 12))
    assert result.ok, result.discrepancies
    assert "billing.netting" in result.checks

    # the other issuer sees its own month only: it owes 1200, earns nothing
    theirs = api.execute(
        operation("billing_netting_statement"),
        {"period": "2026-10"},
        key=make_api_key(other.issuer, "finance"),
    ).ok()["nettingStatement"]
    assert [(t["owed"], t["earned"]) for t in theirs["totals"]] == [(1200, 0)]
    assert {c["counterparty"] for c in theirs["counterparties"]} == {"network", merchant.name}
    # a stranger sees nothing
    stranger = api.execute(
        operation("billing_netting_statement"),
        {"period": "2026-10"},
        key=make_api_key(MerchantFactory(), "finance"),
    ).ok()["nettingStatement"]
    assert stranger == {"period": "2026-10", "totals": [], "counterparties": [], "campaigns": []}


def test_an_upheld_dispute_is_a_credit_in_the_month_it_lands(api, operation, month):
    merchant, own = month["merchant"], month["own"]
    disputes_actor = disputes.Actor(merchant=merchant)
    dispute = disputes.dispute_open(
        issuer=merchant,
        redemption_id=month["redemptions"][0].pk,
        reason_code="duplicate",
        note="twice",
        actor=disputes_actor,
        now=at(3, 11),
    )
    disputes.dispute_decide(
        dispute_id=dispute.pk,
        upheld=True,
        note="yes",
        actor=disputes.Actor(merchant=MerchantFactory(is_network_operator=True)),
        now=at(4, 11),
    )
    key = make_api_key(merchant, "finance")
    november = api.execute(operation("billing_netting_statement"), {"period": "2026-11"}, key=key).ok()[
        "nettingStatement"
    ]
    assert [(t["owed"], t["earned"], t["net"], t["invoiced"]) for t in november["totals"]] == [
        (-200, 0, 200, 0)
    ]
    assert {(c["counterparty"], c["owed"]) for c in november["counterparties"]} == {
        ("network", -150),
        (own.publisher.name, -50),
    }
    october = api.execute(operation("billing_netting_statement"), {"period": "2026-10"}, key=key).ok()
    assert october["nettingStatement"]["totals"][0]["owed"] == 400  # the closed month does not change
    result = reconcile(merchant=merchant, start=at(1, 1), end=at(1, 12))
    assert result.ok, result.discrepancies


def test_reconcile_finds_a_statement_that_disagrees_with_the_invoice(month):
    from billing.models import Invoice

    merchant = month["merchant"]
    Invoice.objects.filter(issuer=merchant).update(amount=399)
    result = reconcile(merchant=merchant, start=at(1, 1), end=at(1, 12))
    assert "OWED_NOT_INVOICED" in {d.kind for d in result.discrepancies if d.check == "billing.netting"}
