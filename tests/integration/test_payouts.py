"""Payout runs on the real database: exact amounts, holds, netting, crashes and re-runs.

Stripe Connect transfers go to tests/stripe_transfers.py (a Stripe-compatible transfers
endpoint with real Stripe's shapes: localstripe has no transfers), counted by asking it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.management import call_command

from attribution import recording as attribution_recording
from attribution.reconcile import reconcile
from billing import payouts, services
from billing.models import LedgerEntry, Payout, PayoutAccount, PayoutItem, PayoutRun
from billing.payout_gateways import StripeConnectGateway
from tests.factories.billing import billing_setup, void_write_off, write_off

pytestmark = pytest.mark.django_db

UTC = dt.UTC
LOCKED_AT = dt.datetime(2026, 10, 20, tzinfo=UTC)
RUN_DAY = dt.date(2026, 11, 15)  # NET-15: pays lines locked before 2026-10-31
NEXT_DAY = dt.date(2026, 12, 15)


@pytest.fixture(autouse=True)
def _payout_settings(settings):
    settings.PAYOUTS_MINIMUM_AMOUNT = 100
    settings.PAYOUTS_MINIMUM_AMOUNTS = {}
    settings.PAYOUTS_NET_DAYS = 15


def earn(setup, days, *, lock_at=LOCKED_AT):
    """Charged and locked write-offs of October: the redemptions."""
    redemptions = []
    for day in days:
        redemption = write_off(setup, at=dt.datetime(2026, 10, day, 12, tzinfo=UTC))
        services.charge_redemption(redemption_id=redemption.pk)
        redemptions.append(redemption)
    services.lock_due_entries(now=lock_at)
    return redemptions


def payable(merchant, **filters) -> int:
    """What the merchant is owed by its payable lines (credit < 0 is owed)."""
    lines = LedgerEntry.objects.filter(merchant=merchant, account_kind__in=payouts.PAYABLE_KINDS, **filters)
    return -sum(lines.values_list("amount", flat=True))


def connect(merchant, acct: str, transfers) -> PayoutAccount:
    transfers.connected_accounts.add(acct)
    return payouts.payout_account_set(merchant=merchant, method="stripe_connect", stripe_account_id=acct)


def reconciled(merchant):
    result = reconcile(
        merchant=merchant, start=dt.datetime(2026, 1, 1, tzinfo=UTC), end=dt.datetime(2028, 1, 1, tzinfo=UTC)
    )
    return [d for d in result.discrepancies if d.check in ("billing.payouts", "billing.payout_transfers")]


def test_a_run_pays_each_publisher_exactly_its_locked_balance_once(stripe_transfers):
    a = billing_setup(fee=120, share_bps=5000)  # 60 per write-off to a's publisher
    b = billing_setup(fee=300, share_bps=2500)  # 75 per write-off to b's publisher
    earn(a, (3, 4, 5))
    earn(b, (6, 7))
    write_off_inside_window = write_off(a, at=dt.datetime(2026, 10, 30, 12, tzinfo=UTC))
    services.charge_redemption(redemption_id=write_off_inside_window.pk)  # pending: not paid
    connect(a.publisher, "acct_1PublisherA", stripe_transfers)
    payouts.payout_account_set(
        merchant=b.publisher,
        method="bank_transfer",
        bank_account_holder="=HYPERLINK(evil)",
        bank_account_number="DE89 3704 0044 0532 0130 00",
        bank_code="COBADEFFXXX",
    )
    assert payable(a.publisher, state="locked") == 180 and payable(b.publisher, state="locked") == 150

    run = payouts.run_payouts(day=RUN_DAY, collected_only=False)

    paid_a = Payout.objects.get(run=run, merchant=a.publisher)
    assert (paid_a.amount, paid_a.currency, paid_a.status, paid_a.line_count) == (180, "CNY", "paid", 3)
    [transfer] = stripe_transfers.to("acct_1PublisherA")
    assert (transfer["amount"], transfer["currency"], transfer["id"]) == (
        180,
        "cny",
        paid_a.stripe_transfer_id,
    )
    assert transfer["transfer_group"] == paid_a.key == f"cn-po-2026-11-15-{a.publisher.pk}-cny"
    [(method, path, headers, form)] = [r for r in stripe_transfers.requests if r[0] == "POST"]
    assert headers["Idempotency-Key"] == paid_a.key and form["metadata[billing_payout]"] == paid_a.key
    paid_b = Payout.objects.get(run=run, merchant=b.publisher)
    assert (paid_b.amount, paid_b.status, paid_b.method) == (150, "submitted", "bank_transfer")
    rows = list(csv.DictReader(io.StringIO(payouts.bank_batch_for(run_key=run.key))))
    assert rows == [
        {
            "payout_key": paid_b.key,
            "merchant": b.publisher.name,
            "account_holder": "'=HYPERLINK(evil)",  # spreadsheet-safe: text, never a formula
            "account_number": "DE89370400440532013000",
            "bank_code": "COBADEFFXXX",
            "currency": "CNY",
            "amount_minor": "150",
            "reference": paid_b.key,
        }
    ]
    assert payouts.confirm_bank_payouts(run_key=run.key) == 1
    assert Payout.objects.get(pk=paid_b.pk).status == "paid"

    # Re-runs (the same day, the command, a later day) pay nothing more: everything is paid.
    payouts.run_payouts(day=RUN_DAY, collected_only=False)
    call_command("run_payouts", day=RUN_DAY.isoformat(), collected_only="no")
    later = payouts.run_payouts(day=NEXT_DAY, collected_only=False)
    assert Payout.objects.filter(merchant=a.publisher).count() == 1
    assert later.payouts.count() == 0  # the pending line's window is still open at this point
    assert len(stripe_transfers.transfers) == 1
    assert reconciled(a.publisher) == [] and reconciled(b.publisher) == []


class Crash(Exception):
    pass


def test_a_crash_between_two_gateway_calls_and_a_rerun_pay_nothing_twice(stripe_transfers, monkeypatch):
    """Three payees: the second transfer is made at Stripe, then the process dies before its id
    is stored. Stripe has forgotten the idempotency key by the re-run (a week later), so only our
    own lookup by transfer_group stands between the re-run and a second transfer."""
    setups = [billing_setup(fee=200, share_bps=5000) for _ in range(3)]
    for i, setup in enumerate(setups):
        earn(setup, range(1, 3 + i))
        connect(setup.publisher, f"acct_1Crash{i}", stripe_transfers)
    stripe_transfers.honour_idempotency_keys = False
    real = StripeConnectGateway.create_transfer
    calls = []

    def create_then_crash(self, order):
        transfer_id = real(self, order)
        calls.append(order.key)
        if len(calls) == 2:
            raise Crash("killed between the second transfer and storing its id")
        return transfer_id

    monkeypatch.setattr(StripeConnectGateway, "create_transfer", create_then_crash)
    with pytest.raises(Crash):
        payouts.run_payouts(day=RUN_DAY, collected_only=False)
    run = PayoutRun.objects.get(key="2026-11-15")
    assert run.finished_at is None
    assert sorted(Payout.objects.filter(run=run).values_list("status", flat=True)) == [
        "paid",
        "pending",
        "pending",
    ]
    assert len(stripe_transfers.transfers) == 2

    monkeypatch.setattr(StripeConnectGateway, "create_transfer", real)
    assert payouts.resume_unfinished_runs() == 1
    payouts.run_payouts(day=RUN_DAY, collected_only=False)  # and once more, for good measure
    run.refresh_from_db()
    assert run.finished_at is not None
    for i, setup in enumerate(setups):
        [transfer] = stripe_transfers.to(f"acct_1Crash{i}")
        payout = Payout.objects.get(merchant=setup.publisher)
        assert (payout.status, payout.amount) == ("paid", 100 * (2 + i))
        assert transfer["amount"] == payout.amount == payable(setup.publisher)
        assert transfer["id"] == payout.stripe_transfer_id
        assert reconciled(setup.publisher) == []


def test_a_crash_between_the_ledger_write_and_the_gateway_call_is_resumed(stripe_transfers, monkeypatch):
    setup = billing_setup(fee=200, share_bps=5000)
    earn(setup, (1, 2))
    connect(setup.publisher, "acct_1Planned", stripe_transfers)

    def crash(**kwargs):
        raise Crash("killed right after planning")

    monkeypatch.setattr(payouts, "send_run", crash)
    with pytest.raises(Crash):
        payouts.run_payouts(day=RUN_DAY, collected_only=False)
    assert Payout.objects.get().status == "pending" and stripe_transfers.transfers == []
    monkeypatch.undo()
    from billing import tasks

    result = tasks.run_scheduled_payouts(day="2026-11-16")  # not a payout day: resumes only
    assert result == {"resumed": 1, "run": None, "payouts": 0}
    [transfer] = stripe_transfers.to("acct_1Planned")
    assert transfer["amount"] == 200 == Payout.objects.get(status="paid").amount


def test_a_held_line_is_left_out_until_released(stripe_transfers):
    setup = billing_setup(fee=200, share_bps=5000)
    disputed, kept, also_kept = earn(setup, (1, 2, 3))
    connect(setup.publisher, "acct_1Held", stripe_transfers)
    [hold] = payouts.hold_lines_for(redemption_id=disputed.pk, reason="dispute opened")
    assert payouts.hold_lines_for(redemption_id=disputed.pk, reason="again") == [hold]  # idempotent

    first = payouts.run_payouts(day=RUN_DAY, collected_only=False)
    payout = first.payouts.get()
    assert payout.amount == 200 and payout.line_count == 2
    held_line = LedgerEntry.objects.get(posting__redemption=disputed, account_kind="publisher_payable")
    assert not PayoutItem.objects.filter(ledger_entry=held_line).exists()
    assert reconciled(setup.publisher) == []

    assert payouts.release_hold(redemption_id=disputed.pk, reason="dispute rejected") == 1
    assert payouts.release_hold(redemption_id=disputed.pk) == 0
    second = payouts.run_payouts(day=NEXT_DAY, collected_only=False)
    assert (second.payouts.get().amount, second.payouts.get().line_count) == (100, 1)
    assert sum(t["amount"] for t in stripe_transfers.to("acct_1Held")) == 300 == payable(setup.publisher)
    assert reconciled(setup.publisher) == []


def test_a_reversal_after_payout_leaves_a_negative_balance_the_next_payout_nets(stripe_transfers):
    setup = billing_setup(fee=200, share_bps=5000)
    first_redemptions = earn(setup, (1, 2, 3))
    connect(setup.publisher, "acct_1Netting", stripe_transfers)
    payouts.run_payouts(day=RUN_DAY, collected_only=False)
    assert stripe_transfers.to("acct_1Netting")[0]["amount"] == 300

    # Two write-offs voided after their lock (and after the payout): credits in November.
    for redemption in first_redemptions[:2]:
        void_write_off(redemption, at=dt.datetime(2026, 11, 20, tzinfo=UTC))
        services.undo_charge(redemption_id=redemption.pk, now=dt.datetime(2026, 11, 20, tzinfo=UTC))
    assert payable(setup.publisher) == 100  # earned 300, taken back 200
    unpaid = payouts.unpaid_payable_lines(merchant_id=setup.publisher.pk)
    assert -sum(unpaid.values_list("amount", flat=True)) == -200  # a negative balance: owed back

    negative = payouts.run_payouts(day=dt.date(2026, 12, 1), collected_only=False)
    assert negative.payouts.count() == 0  # nothing is paid while the balance is negative

    # More earnings in November: the next payout nets the 200 taken back.
    for day in (2, 3, 4, 5, 6):
        services.charge_redemption(
            redemption_id=write_off(setup, at=dt.datetime(2026, 11, day, 12, tzinfo=UTC)).pk
        )
    services.lock_due_entries(now=dt.datetime(2026, 11, 21, tzinfo=UTC))
    netted = payouts.run_payouts(day=dt.date(2026, 12, 15), collected_only=False).payouts.get()
    assert (netted.amount, netted.line_count) == (500 - 200, 7)
    assert sum(t["amount"] for t in stripe_transfers.to("acct_1Netting")) == 600 == payable(setup.publisher)
    assert reconciled(setup.publisher) == []


def test_collected_only_waits_for_the_issuers_invoice_to_be_paid(stripe_transfers):
    from billing import closing
    from billing.models import Invoice
    from billing.payments import mark_paid

    setup = billing_setup(fee=200, share_bps=5000)
    earn(setup, (1, 2))
    connect(setup.publisher, "acct_1Collected", stripe_transfers)
    closing.freeze_period(
        issuer=setup.issuer, period_start=dt.date(2026, 10, 1), now=dt.datetime(2026, 11, 2, tzinfo=UTC)
    )
    assert payouts.run_payouts(day=RUN_DAY, collected_only=True).payouts.count() == 0
    invoice = Invoice.objects.get(issuer=setup.issuer)
    mark_paid(invoice, now=dt.datetime(2026, 11, 20, tzinfo=UTC))
    paid = payouts.run_payouts(day=NEXT_DAY, collected_only=True).payouts.get()
    assert paid.amount == 200
    assert reconciled(setup.publisher) == []


def test_below_the_minimum_waits_and_a_refused_account_releases_its_lines(stripe_transfers, settings):
    setup = billing_setup(fee=200, share_bps=5000)
    earn(setup, (1,))
    account = connect(setup.publisher, "acct_1Minimum", stripe_transfers)
    account.minimum_amount = 150
    account.save(update_fields=["minimum_amount"])
    assert payouts.run_payouts(day=RUN_DAY, collected_only=False).payouts.count() == 0  # 100 < 150

    earn(setup, (2,))
    payouts.payout_account_set(  # an account Stripe does not know
        merchant=setup.publisher,
        method="stripe_connect",
        stripe_account_id="acct_1Unknown",
        minimum_amount=150,
    )
    failed = payouts.run_payouts(day=NEXT_DAY, collected_only=False).payouts.get()
    assert (failed.status, failed.amount) == ("failed", 200)
    assert "No such destination" in failed.failure
    assert not PayoutItem.objects.filter(payout=failed, released=False).exists()

    connect(setup.publisher, "acct_1Fixed", stripe_transfers)
    fixed = payouts.run_payouts(day=dt.date(2027, 1, 15), collected_only=False).payouts.get()
    assert (fixed.status, fixed.amount) == ("paid", 200)
    assert [t["amount"] for t in stripe_transfers.transfers] == [200]
    assert reconciled(setup.publisher) == []


def test_reconcile_reports_a_payout_that_differs_from_its_lines(stripe_transfers):
    setup = billing_setup(fee=200, share_bps=5000)
    earn(setup, (1, 2))
    connect(setup.publisher, "acct_1Tamper", stripe_transfers)
    payout = payouts.run_payouts(day=RUN_DAY, collected_only=False).payouts.get()
    Payout.objects.filter(pk=payout.pk).update(amount=payout.amount + 1)
    assert sorted(d.kind for d in reconciled(setup.publisher)) == [
        "PAYOUT_TOTAL_MISMATCH",
        "TRANSFER_DIFFERS",
    ]
    Payout.objects.filter(pk=payout.pk).update(amount=payout.amount)
    PayoutItem.objects.filter(payout=payout).first().delete()
    kinds = sorted(d.kind for d in reconciled(setup.publisher))
    assert kinds == ["PAYABLE_LEFT_OUT", "PAYOUT_TOTAL_MISMATCH"]


def test_reconcile_reports_a_transfer_stripe_sees_differently(stripe_transfers):
    setup = billing_setup(fee=200, share_bps=5000)
    earn(setup, (1, 2))
    connect(setup.publisher, "acct_1Differs", stripe_transfers)
    payouts.run_payouts(day=RUN_DAY, collected_only=False)
    assert reconciled(setup.publisher) == []
    stripe_transfers.transfers[0]["amount_reversed"] = 50  # reversed in Stripe's dashboard
    [found] = reconciled(setup.publisher)
    assert (found.check, found.kind) == ("billing.payout_transfers", "TRANSFER_DIFFERS")


def test_only_payable_lines_of_the_payee_are_paid(stripe_transfers):
    """The issuer's receivable and the platform's revenue are never paid out."""
    setup = billing_setup(fee=200, share_bps=5000)
    earn(setup, (1, 2))
    connect(setup.issuer, "acct_1Issuer", stripe_transfers)
    connect(setup.publisher, "acct_1Pub", stripe_transfers)
    run = payouts.run_payouts(day=RUN_DAY, collected_only=False)
    assert [p.merchant_id for p in run.payouts.all()] == [setup.publisher.pk]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_scheduled_task_pays_on_a_real_worker_and_a_second_delivery_pays_nothing(
    stripe_transfers, monkeypatch
):
    """The beat's task, delivered twice at once to a real Celery worker process (concurrency 2)
    that talks to the transfers endpoint: one transfer per payee, equal to its locked balance."""
    import uuid

    from django.db import connection

    from billing import tasks
    from tests.conftest import _start_worker, _stop_worker, wait_for
    from tests.stripe_transfers import API_KEY

    setups = [billing_setup(fee=200, share_bps=5000), billing_setup(fee=300, share_bps=5000)]
    for i, setup in enumerate(setups):
        earn(setup, (1, 2, 3))
        connect(setup.publisher, f"acct_1Worker{i}", stripe_transfers)
    for name, value in {
        "STRIPE_API_HOST": stripe_transfers.url,
        "STRIPE_TEST_SECRET_KEY": API_KEY,
        "PAYOUTS_SCHEDULE": "monthly",
        "PAYOUTS_DAY_OF_MONTH": "15",
        "PAYOUTS_NET_DAYS": "15",
        "PAYOUTS_REQUIRE_COLLECTED": "0",
        "PAYOUTS_MINIMUM_AMOUNT": "100",
    }.items():
        monkeypatch.setenv(name, value)
    queue = f"payouts-{uuid.uuid4().hex[:8]}"
    worker = _start_worker(queue, connection.settings_dict["NAME"], concurrency=2)
    try:
        for _ in range(2):  # a redelivery (or a second beat) at the same time
            tasks.run_scheduled_payouts.apply_async(args=["2026-11-15"], queue=queue)
        wait_for(lambda: PayoutRun.objects.filter(key="2026-11-15", finished_at__isnull=False).exists(), 60)
    finally:
        _stop_worker(worker)
    assert Payout.objects.count() == 2
    for i, setup in enumerate(setups):
        [transfer] = stripe_transfers.to(f"acct_1Worker{i}")
        assert transfer["amount"] == payable(setup.publisher) == (300, 450)[i]
        assert Payout.objects.get(merchant=setup.publisher).stripe_transfer_id == transfer["id"]
        assert reconciled(setup.publisher) == []


def test_an_upheld_dispute_on_a_held_line_nets_to_nothing_once_released(stripe_transfers):
    """The disputes flow: hold on open; the upheld dispute's credit (posted while held) is held
    too; released on decision, the charge's share and its credit net to zero."""
    setup = billing_setup(fee=200, share_bps=5000)
    disputed, kept = earn(setup, (1, 2))
    connect(setup.publisher, "acct_1Dispute", stripe_transfers)
    payouts.hold_lines_for(redemption_id=disputed.pk, reason="dispute 1 opened")
    services.dispute_charge(
        redemption_id=disputed.pk, reason="never redeemed", now=dt.datetime(2026, 10, 25, tzinfo=UTC)
    )
    first = payouts.run_payouts(day=RUN_DAY, collected_only=False).payouts.get()
    assert (first.amount, first.line_count) == (100, 1)  # neither the charge's share nor its credit
    payouts.release_hold(redemption_id=disputed.pk, reason="dispute 1 upheld")
    second = payouts.run_payouts(day=NEXT_DAY, collected_only=False)
    assert second.payouts.count() == 0  # +100 and -100: nothing due
    assert payouts.unpaid_payable_lines(merchant_id=setup.publisher.pk).count() == 2
    assert sum(t["amount"] for t in stripe_transfers.to("acct_1Dispute")) == 100 == payable(setup.publisher)
    assert reconciled(setup.publisher) == []


def test_a_hold_on_single_lines_and_the_command_writes_the_bank_file(stripe_transfers, tmp_path):
    setup = billing_setup(fee=200, share_bps=5000)
    first, second = earn(setup, (1, 2))
    payouts.payout_account_set(
        merchant=setup.publisher,
        method="bank_transfer",
        bank_account_holder="Mochi Cartoon",
        bank_account_number="GB33BUKB20201555555555",
        bank_code="BUKBGB22",
    )
    line = LedgerEntry.objects.get(posting__redemption=first, account_kind="publisher_payable")
    payouts.hold_lines_for(ledger_entry_ids=[line.pk], reason="checking a receipt")
    out = tmp_path / "batch.csv"
    call_command("run_payouts", day=RUN_DAY.isoformat(), collected_only="no", bank_file=str(out))
    rows = list(csv.DictReader(out.open()))
    assert [(r["amount_minor"], r["account_number"], r["currency"]) for r in rows] == [
        ("100", "GB33BUKB20201555555555", "CNY")
    ]
    call_command("run_payouts", confirm_bank=RUN_DAY.isoformat())
    assert Payout.objects.get().status == "paid"
    assert payouts.release_hold(ledger_entry_ids=[line.pk]) == 1
    call_command("run_payouts", day=NEXT_DAY.isoformat(), collected_only="no")
    assert sorted(Payout.objects.values_list("amount", "status")) == [(100, "paid"), (100, "submitted")]
    assert reconciled(setup.publisher) == []


def test_a_gateway_outage_leaves_the_payout_pending_and_the_others_go(stripe_transfers, monkeypatch):
    import stripe

    setups = [billing_setup(fee=200, share_bps=5000) for _ in range(2)]
    for i, setup in enumerate(setups):
        earn(setup, (1, 2))
        connect(setup.publisher, f"acct_1Outage{i}", stripe_transfers)
    real = StripeConnectGateway.create_transfer

    def flaky(self, order):
        if order.destination == "acct_1Outage0":
            raise stripe.APIConnectionError("connection reset")
        return real(self, order)

    monkeypatch.setattr(StripeConnectGateway, "create_transfer", flaky)
    run = payouts.run_payouts(day=RUN_DAY, collected_only=False)
    assert run.finished_at is None
    assert sorted(run.payouts.values_list("status", flat=True)) == ["paid", "pending"]
    monkeypatch.undo()
    assert payouts.resume_unfinished_runs() == 1
    assert [len(stripe_transfers.to(f"acct_1Outage{i}")) for i in range(2)] == [1, 1]


@pytest.mark.slow
def test_measure_a_run_over_thousands_of_lines(stripe_transfers, capsys):
    """Not a timing assertion: prints how long planning and sending take (docs in notes)."""
    import time

    from django.db import connection

    from billing.models import PayoutItem as Item

    setups = [billing_setup(fee=200, share_bps=5000) for _ in range(20)]
    redemption_ids = []
    for i, setup in enumerate(setups):
        ids = [
            write_off(setup, at=dt.datetime(2026, 10, 1 + n % 28, 12, tzinfo=UTC), recorded=False).pk
            for n in range(150)
        ]
        attribution_recording.record_for_redemptions(redemption_ids=ids)  # as the worker's batch does
        redemption_ids += ids
        if i % 2:
            connect(setup.publisher, f"acct_1Bench{i}", stripe_transfers)
        else:
            payouts.payout_account_set(
                merchant=setup.publisher,
                method="bank_transfer",
                bank_account_holder=f"Bench {i}",
                bank_account_number=f"DE8937040044053201{i:04d}",
                bank_code="COBADEFFXXX",
            )
    services.charge_redemptions(redemption_ids=redemption_ids)
    services.lock_due_entries(now=dt.datetime(2026, 10, 30, tzinfo=UTC))
    # The rows above are this test's own, uncommitted: autovacuum never sees them, so the
    # planner would use whatever statistics earlier tests left. A table last analyzed when it
    # held only rolled-back rows reads as empty at any size, and the netting statement's
    # joins over it turn quadratic (a reconcile of these 3,000 lines took over 300 s so).
    # Production tables are analyzed as they grow: analyze these as they stand.
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE billing_ledgerentry, billing_posting, billing_payout, billing_payoutitem, "
            "billing_payouthold, billing_payoutrun, billing_invoice, attribution_attributionrecord, "
            "redemptions_redemption, merchants_merchant, campaigns_campaign"
        )
    started = time.perf_counter()
    run = payouts.plan_run(key="bench", cutoff=payouts.cutoff_for(RUN_DAY), collected_only=False)
    planned = time.perf_counter() - started
    started = time.perf_counter()
    payouts.send_run(run=run)
    sent = time.perf_counter() - started
    started = time.perf_counter()
    problems = [d for s in setups for d in reconciled(s.publisher)]
    checked = time.perf_counter() - started
    assert problems == []
    assert run.payouts.count() == 20 and Item.objects.filter(payout__run=run).count() == 3000
    assert {p.amount for p in run.payouts.all()} == {150 * 100}
    with capsys.disabled():
        print(
            f"\npayout run over 3000 lines, 20 payees: plan {planned:.2f} s, send {sent:.2f} s "
            f"(10 Stripe transfers over HTTP, 10 bank), reconcile {checked:.2f} s"
        )
