"""The real write-off path drives the ledger: POS write-off -> outbox -> a Celery worker -> posting.

The worker is a real process on the test database; the sweeper is not needed because the
task is published on commit. A void inside the window reverses the charge the same way.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from attribution.events import ATTRIBUTION_RECORDED as RECORDED
from attribution.reconcile import reconcile
from backend.outbox.registry import REDEMPTION_VERIFIED, REDEMPTION_VOIDED, handlers_for
from backend.redemptions import services as redemption_services
from billing import services
from billing.models import LedgerEntry, Posting
from tests.conftest import wait_for
from tests.factories.redemptions import pos_setup, redeem


def test_handlers_are_registered():
    # attribution records the write-off and announces it; billing charges from that record
    assert "attribution.record" in [h.name for h in handlers_for(REDEMPTION_VERIFIED)]
    assert "billing.charge" not in [h.name for h in handlers_for(REDEMPTION_VERIFIED)]
    assert "billing.charge" in [h.name for h in handlers_for(RECORDED)]
    assert "billing.void" in [h.name for h in handlers_for(REDEMPTION_VOIDED)]


@pytest.mark.django_db(transaction=True)
def test_write_off_and_void_through_the_outbox_and_a_real_worker(celery_worker_process):
    setup = pos_setup(coupons=2, fee_per_redemption=150, publisher_share_bps=4000)
    kept = redeem(setup, setup.coupons[0].code)
    voided = redeem(setup, setup.coupons[1].code)
    assert kept.status == voided.status == "verified"

    wait_for(lambda: Posting.objects.filter(kind="charge").count() == 2)
    charge = Posting.objects.get(redemption=kept)
    assert {line.account_kind: line.amount for line in charge.lines.all()} == {
        "issuer_receivable": 150,
        "publisher_payable": -60,
        "platform_revenue": -90,
    }

    redemption_services.void_redemption(terminal=setup.terminal, redemption_id=voided.pk, reason="test")
    wait_for(lambda: Posting.objects.filter(redemption=voided, kind="reversal").exists())
    assert set(LedgerEntry.objects.filter(posting__redemption=voided).values_list("state", flat=True)) == {
        "reversed"
    }

    now = timezone.now()
    result = reconcile(
        merchant=setup.merchant, start=now - dt.timedelta(days=366), end=now + dt.timedelta(days=366)
    )
    assert {"billing.charges", "billing.postings", "billing.invoices"} <= set(result.checks)
    assert result.ok, result.discrepancies


@pytest.mark.django_db
def test_reconcile_finds_a_missing_charge_and_an_unwarranted_one():
    setup = pos_setup(coupons=2)
    billed = redeem(setup, setup.coupons[0].code)
    missing = redeem(setup, setup.coupons[1].code)
    from attribution import recording as attribution_recording

    attribution_recording.record_for_redemption(redemption_id=billed.pk)
    services.charge_redemption(redemption_id=billed.pk)
    attribution_recording.record_for_redemption(redemption_id=missing.pk)  # recorded, never charged
    # a charge that should not stand: its write-off was voided but the void was never applied
    type(billed).objects.filter(pk=billed.pk).update(status="voided", voided_at=timezone.now())
    attribution_recording.void_record(redemption_id=billed.pk)
    now = timezone.now()
    result = reconcile(
        merchant=setup.merchant, start=now - dt.timedelta(days=366), end=now + dt.timedelta(days=366)
    )
    kinds = sorted(d.kind for d in result.discrepancies if d.check == "billing.charges")
    assert kinds == ["BILLABLE_NOT_CHARGED", "CHARGED_NOT_BILLABLE"]
