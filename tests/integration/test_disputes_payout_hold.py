"""A disputed write-off's payable lines are held out of payouts until the operator decides."""

from __future__ import annotations

import datetime as dt

import pytest

from attribution.reconcile import reconcile
from billing import payouts, services
from billing.models import Payout, PayoutHold
from disputes import services as disputes
from tests.factories.billing import billing_setup, write_off
from tests.factories.merchants import MerchantFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC


@pytest.fixture(autouse=True)
def _payout_settings(settings):
    settings.PAYOUTS_MINIMUM_AMOUNT = 1
    settings.PAYOUTS_MINIMUM_AMOUNTS = {}
    settings.PAYOUTS_NET_DAYS = 15


def bank(merchant):
    return payouts.payout_account_set(
        merchant=merchant,
        method="bank_transfer",
        bank_account_holder="Publisher",
        bank_account_number="DE89 3704 0044 0532 0130 00",
        bank_code="COBADEFFXXX",
    )


def paid_to(merchant) -> list[int]:
    return sorted(Payout.objects.filter(merchant=merchant).values_list("amount", flat=True))


@pytest.mark.parametrize("upheld", [False, True])
def test_a_disputed_line_is_held_until_decided(upheld):
    setup = billing_setup(fee=200, share_bps=5000)  # 100 to the publisher per write-off
    bank(setup.publisher)
    disputed, other = (write_off(setup, at=dt.datetime(2026, 10, d, 12, tzinfo=UTC)) for d in (20, 21))
    for r in (disputed, other):
        services.charge_redemption(redemption_id=r.pk)
    services.lock_due_entries(now=dt.datetime(2026, 10, 25, tzinfo=UTC))
    operator = disputes.Actor(merchant=MerchantFactory(is_network_operator=True))
    dispute = disputes.dispute_open(
        issuer=setup.issuer,
        redemption_id=disputed.pk,
        reason_code="not_redeemed",
        note="never here",
        actor=disputes.Actor(merchant=setup.issuer),
        now=dt.datetime(2026, 11, 1, tzinfo=UTC),
    )
    assert PayoutHold.objects.filter(redemption=disputed, released_at__isnull=True).count() == 1

    payouts.run_payouts(day=dt.date(2026, 11, 15), collected_only=False)
    assert paid_to(setup.publisher) == [100]  # only the undisputed write-off's share

    disputes.dispute_decide(
        dispute_id=dispute.pk,
        upheld=upheld,
        note="decided",
        actor=operator,
        now=dt.datetime(2026, 11, 20, tzinfo=UTC),
    )
    assert not PayoutHold.objects.filter(released_at__isnull=True).exists()
    payouts.run_payouts(day=dt.date(2026, 12, 15), collected_only=False)
    # rejected: the held share is paid now; upheld: the share and its credit net to nothing
    assert paid_to(setup.publisher) == ([100] if upheld else [100, 100])
    result = reconcile(
        merchant=setup.issuer,
        start=dt.datetime(2026, 1, 1, tzinfo=UTC),
        end=dt.datetime(2028, 1, 1, tzinfo=UTC),
    )
    assert result.discrepancies == []
