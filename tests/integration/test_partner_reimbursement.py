"""A partner's till writes off the issuer's coupon, and the ledger follows through the real
outbox and a real Celery worker: attribution records the write-off (naming the issuer, the
publisher and the partner) and announces it; billing posts the fee, the publisher's share and
the partner's reimbursement in one charge; a void inside the window reverses all three, a void
after the lock credits all three; reconcile stays green throughout."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from attribution.models import AttributionRecord
from attribution.reconcile import reconcile
from backend.redemptions import services as redemption_services
from billing import services
from billing.models import LedgerEntry, Posting
from tests.conftest import wait_for
from tests.factories.redemptions import partner_till, pos_setup, redeem

pytestmark = pytest.mark.django_db(transaction=True)


def lines_of(posting: Posting) -> dict[tuple[str, int | None], int]:
    return {(line.account_kind, line.merchant_id): line.amount for line in posting.lines.all()}


def assert_reconciles(merchant) -> None:
    now = timezone.now()
    result = reconcile(merchant=merchant, start=now - dt.timedelta(days=40), end=now + dt.timedelta(days=40))
    assert "billing.reimbursements" in result.checks
    assert result.ok, result.discrepancies


@pytest.fixture
def world():
    # fee 150, publisher 40 % of it; 500 off; the partner gets min(500, 400) + 30 per write-off
    setup = pos_setup(coupons=3, fee_per_redemption=150, publisher_share_bps=4000)
    partner = partner_till(setup, max_reimbursement=400, handling_fee=30)
    return setup, partner


def charged(redemption) -> Posting:
    wait_for(lambda: Posting.objects.filter(redemption=redemption, kind="charge").exists())
    return Posting.objects.get(redemption=redemption, kind="charge")


def test_a_partners_write_off_posts_fee_share_and_reimbursement(world, celery_worker_process):
    setup, partner = world
    at_partner = redeem(setup, setup.coupons[0].code, terminal=partner.terminal)
    at_own = redeem(setup, setup.coupons[1].code)
    assert at_partner.status == at_own.status == "verified"

    charge = charged(at_partner)
    issuer, publisher = setup.merchant.pk, setup.placement.publisher_id
    assert lines_of(charge) == {
        ("issuer_receivable", issuer): 150 + 430,  # the fee, and what it owes the partner
        ("publisher_payable", publisher): -60,
        ("platform_revenue", None): -90,
        ("partner_payable", partner.merchant.pk): -430,
    }
    assert (charge.partner_id, charge.reimbursement_amount, charge.handling_fee_amount) == (
        partner.merchant.pk,
        400,
        30,
    )
    record = AttributionRecord.objects.get(redemption=at_partner)
    assert (record.issuer_id, record.publisher_id, record.partner_id) == (issuer, publisher, partner.merchant.pk)
    assert (record.store_id, record.terminal_id) == (partner.store.pk, partner.terminal.pk)
    assert (record.reimbursement_amount, record.handling_fee_amount) == (400, 30)

    # the issuer's own store: exactly as before, no reimbursement
    own = charged(at_own)
    assert lines_of(own) == {
        ("issuer_receivable", issuer): 150,
        ("publisher_payable", publisher): -60,
        ("platform_revenue", None): -90,
    }
    assert AttributionRecord.objects.get(redemption=at_own).partner_id is None
    assert_reconciles(setup.merchant)


def test_a_void_inside_the_window_reverses_all_three(world, celery_worker_process):
    setup, partner = world
    redemption = redeem(setup, setup.coupons[0].code, terminal=partner.terminal)
    charge = charged(redemption)
    redemption_services.void_redemption(terminal=partner.terminal, redemption_id=redemption.pk, reason="test")
    wait_for(lambda: Posting.objects.filter(redemption=redemption, kind="reversal").exists())
    reversal = Posting.objects.get(redemption=redemption, kind="reversal")
    assert lines_of(reversal) == {key: -amount for key, amount in lines_of(charge).items()}
    assert (reversal.fee_amount, reversal.reimbursement_amount, reversal.handling_fee_amount) == (-150, -400, -30)
    assert set(LedgerEntry.objects.filter(posting__redemption=redemption).values_list("state", flat=True)) == {
        "reversed"
    }
    wait_for(lambda: AttributionRecord.objects.filter(redemption=redemption, voided_at__isnull=False).exists())
    assert_reconciles(setup.merchant)


def test_a_void_after_the_lock_credits_all_three(world, celery_worker_process):
    setup, partner = world
    redemption = redeem(setup, setup.coupons[0].code, terminal=partner.terminal)
    charge = charged(redemption)
    # the lock job runs as if the void window had passed; the till's void comes after it
    after_window = timezone.now() + dt.timedelta(seconds=setup.campaign.void_window_seconds + 1)
    assert services.lock_due_entries(now=after_window) == 4
    assert set(charge.lines.values_list("state", flat=True)) == {"locked"}
    redemption_services.void_redemption(terminal=partner.terminal, redemption_id=redemption.pk, reason="late")
    wait_for(lambda: Posting.objects.filter(redemption=redemption, kind="credit").exists())
    credit = Posting.objects.get(redemption=redemption, kind="credit")
    assert lines_of(credit) == {key: -amount for key, amount in lines_of(charge).items()}
    assert set(credit.lines.values_list("state", flat=True)) == {"locked"}
    assert set(charge.lines.values_list("state", flat=True)) == {"locked"}  # the charge stands, credited
    # the partner's payable nets to zero, and so does the issuer's receivable
    partner_lines = LedgerEntry.objects.filter(account_kind="partner_payable", merchant=partner.merchant)
    assert sorted(partner_lines.values_list("amount", flat=True)) == [-430, 430]
    wait_for(lambda: AttributionRecord.objects.filter(redemption=redemption, voided_at__isnull=False).exists())
    assert_reconciles(setup.merchant)
