"""Payouts to a publisher and a partner shop from the same write-offs.

Write-offs at the issuer's own till and at a partner's till go through the real outbox and a
real Celery worker (attribution records them, billing posts the fee, the publisher's share
and the partner's reimbursement); a payout run then pays the publisher (Stripe Connect, to
tests/stripe_transfers.py) and the partner (a bank batch file) exactly their locked balances;
a void after the payout takes the partner's reimbursement back, and the next payout nets it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from attribution.reconcile import reconcile
from backend.redemptions import services as redemption_services
from billing import payouts, services
from billing.models import LedgerEntry, Payout, Posting
from tests.conftest import wait_for
from tests.factories.redemptions import partner_till, pos_setup, redeem

pytestmark = pytest.mark.django_db(transaction=True)


def owed(merchant, kind: str) -> int:
    lines = LedgerEntry.objects.filter(merchant=merchant, account_kind=kind).exclude(state="reversed")
    return -sum(lines.values_list("amount", flat=True))


def assert_reconciles(*merchants) -> None:
    now = timezone.now()
    for merchant in merchants:
        result = reconcile(
            merchant=merchant, start=now - dt.timedelta(days=40), end=now + dt.timedelta(days=40)
        )
        assert {"billing.payouts", "billing.payout_transfers", "billing.reimbursements"} <= set(result.checks)
        assert result.ok, result.discrepancies


@pytest.mark.slow
def test_a_run_pays_the_publisher_and_the_partner_their_locked_balances_and_nets_a_later_void(
    celery_worker_process, stripe_transfers, settings
):
    settings.PAYOUTS_MINIMUM_AMOUNT = 100
    settings.PAYOUTS_MINIMUM_AMOUNTS = {}
    # fee 150, publisher 40 % of it (60); 500 off, the partner gets min(500, 400) + 30 = 430
    setup = pos_setup(coupons=4, fee_per_redemption=150, publisher_share_bps=4000)
    partner = partner_till(setup, max_reimbursement=400, handling_fee=30)
    publisher = setup.placement.publisher
    stripe_transfers.connected_accounts.add("acct_1Publisher")
    payouts.payout_account_set(
        merchant=publisher, method="stripe_connect", stripe_account_id="acct_1Publisher"
    )
    payouts.payout_account_set(
        merchant=partner.merchant,
        method="bank_transfer",
        bank_account_holder="Partner Desserts",
        bank_account_number="FR1420041010050500013M02606",
        bank_code="PSSTFRPPLIL",
    )
    at_partner = [redeem(setup, setup.coupons[i].code, terminal=partner.terminal) for i in (0, 1)]
    at_own = redeem(setup, setup.coupons[2].code)
    written_off = [*at_partner, at_own]
    wait_for(lambda: Posting.objects.filter(redemption__in=written_off, kind="charge").count() == 3, 60)
    now = timezone.now()
    services.lock_due_entries(now=now + dt.timedelta(days=1))
    assert owed(publisher, "publisher_payable") == 3 * 60
    assert owed(partner.merchant, "partner_payable") == 2 * 430

    run = payouts.run_payouts(
        day=now.date(), key="partners-1", cutoff=now + dt.timedelta(days=2), collected_only=False
    )
    to_publisher = run.payouts.get(merchant=publisher)
    to_partner = run.payouts.get(merchant=partner.merchant)
    assert (to_publisher.amount, to_publisher.status, to_publisher.line_count) == (180, "paid", 3)
    assert [t["amount"] for t in stripe_transfers.to("acct_1Publisher")] == [180]
    assert (to_partner.amount, to_partner.status, to_partner.line_count) == (860, "submitted", 2)
    [row] = csv.DictReader(io.StringIO(payouts.bank_batch_for(run_key=run.key)))
    assert (row["account_number"], row["amount_minor"], row["currency"]) == (
        "FR1420041010050500013M02606",
        "860",
        setup.campaign.currency,
    )
    assert not run.payouts.filter(merchant=setup.merchant).exists()  # the issuer owes, it is not paid
    payouts.confirm_bank_payouts(run_key=run.key)
    assert_reconciles(publisher, partner.merchant)

    # A partner write-off voided after its lock (and after the payout): all three are credited.
    late = at_partner[0]
    redemption_services.void_redemption(terminal=partner.terminal, redemption_id=late.pk, reason="returned")
    wait_for(lambda: Posting.objects.filter(redemption=late, kind="credit").exists(), 60)
    assert owed(partner.merchant, "partner_payable") == 430 and owed(publisher, "publisher_payable") == 120
    unpaid = payouts.unpaid_payable_lines(merchant_id=partner.merchant.pk)
    assert -sum(unpaid.values_list("amount", flat=True)) == -430  # a negative balance: owed back

    # The partner's next write-off: the next run nets the 430 taken back (and the publisher's 60).
    fresh = redeem(setup, setup.coupons[3].code, terminal=partner.terminal)
    wait_for(lambda: Posting.objects.filter(redemption=fresh, kind="charge").exists(), 60)
    services.lock_due_entries(now=now + dt.timedelta(days=4))
    netted = payouts.run_payouts(
        day=now.date(), key="partners-2", cutoff=now + dt.timedelta(days=5), collected_only=False
    )
    assert netted.payouts.count() == 0  # 430 - 430 and 60 - 60: nothing due, nothing paid
    assert payouts.unpaid_payable_lines(merchant_id=partner.merchant.pk).count() == 2
    assert sum(p.amount for p in Payout.objects.filter(merchant=partner.merchant)) == 860
    assert owed(partner.merchant, "partner_payable") == 860  # paid 860, owed 860 in the ledger
    assert_reconciles(publisher, partner.merchant)
