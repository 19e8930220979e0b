"""A partner's till writes off the issuer's coupon through the same exactly-once path.

The acceptance decides who may (WRONG_MERCHANT for everyone else, a store outside the chosen
set, an invitation not accepted, or one ended); the caps, the budget and idempotency are the
campaign's as before; the Redemption records the redeeming merchant, its store and the
reimbursement; a daily cap counts the issuer's day wherever the till stands.
"""

from __future__ import annotations

import datetime as dt

import pytest

from backend.campaigns.models import CampaignDailyUsage, CampaignPartner
from backend.outbox.models import OutboxEvent
from backend.redemptions import services
from tests.factories import StoreFactory, partner_till, pos_setup, redeem

pytestmark = pytest.mark.django_db


def check(till, code: str, amount: int = 3000):
    return services.check_coupon(terminal=till.terminal, code=code, order_amount=amount, currency="CNY")


def test_a_partner_writes_off_the_issuers_coupon_and_the_row_names_it():
    setup = pos_setup(coupons=1)
    partner = partner_till(setup, max_reimbursement=400, handling_fee=30)
    assert check(partner, setup.coupons[0].code).ok
    redemption = redeem(setup, terminal=partner.terminal)
    assert (redemption.status, redemption.reason_code) == ("verified", "")
    assert redemption.merchant_id == partner.merchant.pk
    assert redemption.store_id == partner.store.pk
    assert redemption.campaign_id == setup.campaign.pk
    assert redemption.placement_id == setup.placement.pk
    assert redemption.partnership_id == partner.partnership.pk
    # the discount given (500), capped at the per-coupon maximum (400), plus the handling fee
    assert (redemption.discount_amount, redemption.reimbursement_amount) == (500, 400)
    assert redemption.handling_fee_amount == 30
    assert redemption.fee_amount == setup.campaign.fee_per_redemption
    assert OutboxEvent.objects.filter(topic="redemption.verified").count() == 1
    # and the coupon is used for everyone after that
    again = redeem(setup, terminal=setup.terminal)
    assert again.reason_code == "ALREADY_REDEEMED"


def test_the_issuers_own_store_records_no_partnership_nor_reimbursement():
    setup = pos_setup(coupons=1)
    partner_till(setup)
    redemption = redeem(setup)
    assert redemption.status == "verified"
    assert redemption.merchant_id == setup.merchant.pk
    assert redemption.partnership_id is None
    assert (redemption.reimbursement_amount, redemption.handling_fee_amount) == (0, 0)


def test_idempotency_at_a_partners_till_replays_and_writes_once():
    setup = pos_setup(coupons=1)
    partner = partner_till(setup)
    first = redeem(setup, terminal=partner.terminal, idempotency_key="p-1")
    second = redeem(setup, terminal=partner.terminal, idempotency_key="p-1")
    assert first.pk == second.pk
    assert OutboxEvent.objects.count() == 1


@pytest.mark.parametrize(
    "status", [CampaignPartner.Status.INVITED, CampaignPartner.Status.DECLINED, CampaignPartner.Status.ENDED]
)
def test_without_an_accepted_partnership_it_stays_wrong_merchant(status):
    setup = pos_setup(coupons=1)
    partner = partner_till(setup, status=status)
    assert check(partner, setup.coupons[0].code).reason == "WRONG_MERCHANT"
    redemption = redeem(setup, terminal=partner.terminal)
    assert redemption.reason_code == "WRONG_MERCHANT"
    assert redemption.campaign_id is None and redemption.partnership_id is None
    assert setup.coupons[0].__class__.objects.get(pk=setup.coupons[0].pk).status == "issued"


def test_a_store_outside_the_chosen_set_is_wrong_merchant_and_a_chosen_one_works():
    setup = pos_setup(coupons=2)
    partner = partner_till(setup, all_stores=False)
    other_store = StoreFactory(merchant=partner.merchant)
    partner.partnership.stores.set([other_store])
    assert check(partner, setup.coupons[0].code).reason == "WRONG_MERCHANT"
    assert redeem(setup, terminal=partner.terminal).reason_code == "WRONG_MERCHANT"
    partner.partnership.stores.add(partner.store)
    assert check(partner, setup.coupons[0].code).ok
    assert redeem(setup, terminal=partner.terminal).status == "verified"


def test_another_merchant_without_any_partnership_is_wrong_merchant():
    setup = pos_setup(coupons=1)
    partner = partner_till(setup)
    other = pos_setup(coupons=1)  # another issuer's campaign: the partnership is not for it
    assert redeem(other, terminal=partner.terminal).reason_code == "WRONG_MERCHANT"


def test_the_campaigns_rules_and_caps_hold_for_a_partner_too():
    setup = pos_setup(coupons=3, max_redemptions=1, min_spend=2000)
    partner = partner_till(setup)
    assert redeem(setup, setup.coupons[0].code, terminal=partner.terminal, amount=1000).reason_code == (
        "BELOW_MIN_SPEND"
    )
    assert redeem(setup, setup.coupons[0].code, terminal=partner.terminal).status == "verified"
    assert check(partner, setup.coupons[1].code).reason == "BUDGET_EXHAUSTED"
    assert redeem(setup, setup.coupons[1].code, terminal=partner.terminal).reason_code == "BUDGET_EXHAUSTED"
    assert redeem(setup, setup.coupons[2].code).reason_code == "BUDGET_EXHAUSTED"


def test_a_daily_cap_counts_the_issuers_day_at_a_partners_till():
    # 23:30 UTC is already tomorrow in Shanghai (the issuer) and still today in New York (the partner)
    setup = pos_setup(coupons=2, daily_redemption_cap=5)
    setup.merchant.timezone = "Asia/Shanghai"
    setup.merchant.save(update_fields=["timezone"])
    partner = partner_till(setup)
    partner.merchant.timezone = "America/New_York"
    partner.merchant.save(update_fields=["timezone"])
    now = dt.datetime(2026, 12, 2, 23, 30, tzinfo=dt.UTC)
    redemption = redeem(setup, terminal=partner.terminal, now=now)
    assert redemption.status == "verified", redemption.reason_code
    assert list(CampaignDailyUsage.objects.values_list("day", "redeemed_count")) == [
        (dt.date(2026, 12, 3), 1)
    ]
    # the partner's void gives the unit back to the issuer's day
    services.void_redemption(terminal=partner.terminal, redemption_id=redemption.pk, now=now)
    assert list(CampaignDailyUsage.objects.values_list("day", "redeemed_count")) == [
        (dt.date(2026, 12, 3), 0)
    ]


def test_only_the_partner_voids_its_write_off():
    setup = pos_setup(coupons=1)
    partner = partner_till(setup)
    redemption = redeem(setup, terminal=partner.terminal)
    with pytest.raises(services.ServiceError) as refused:
        services.void_redemption(terminal=setup.terminal, redemption_id=redemption.pk)
    assert refused.value.errors[0].code == "NOT_FOUND"
    voided = services.void_redemption(terminal=partner.terminal, redemption_id=redemption.pk)
    assert voided.status == "voided"


def test_the_write_off_webhooks_tell_each_side_only_its_own():
    from backend.redemptions.announcements import _recipients

    setup = pos_setup(coupons=1)
    partner = partner_till(setup)
    redemption = redeem(setup, terminal=partner.terminal)
    event = OutboxEvent.objects.get(topic="redemption.verified")
    recipients = dict(_recipients(event))
    assert set(recipients) == {partner.merchant.pk, setup.merchant.pk}
    to_partner = recipients[partner.merchant.pk]["redemption"]
    to_issuer = recipients[setup.merchant.pk]["redemption"]
    assert to_partner["campaignId"] is None and to_partner["placementId"] is None
    assert to_partner["storeId"] is not None
    assert to_issuer["storeId"] is None and to_issuer["terminalId"] is None
    assert to_issuer["campaignId"] is not None
    assert to_partner["id"] == to_issuer["id"]
    assert redemption.pk
