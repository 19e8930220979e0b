"""Ledger postings: charge, split, reversal inside the void window, credit after lock."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing import services
from billing.models import BillingPeriod, LedgerAccount, LedgerEntry, Posting
from tests.factories.billing import billing_setup, void_write_off, write_off

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def lines_of(posting: Posting) -> dict[str, int]:
    return {line.account_kind: line.amount for line in posting.lines.all()}


def test_charge_splits_fee_floor_to_publisher_and_sums_to_zero():
    setup = billing_setup(fee=125, share_bps=3333)
    posting = services.charge_redemption(redemption_id=write_off(setup).pk)
    assert posting.kind == Posting.Kind.CHARGE
    assert lines_of(posting) == {
        "issuer_receivable": 125,
        "publisher_payable": -41,  # floor(125 * 0.3333) = 41
        "platform_revenue": -84,
    }
    assert {line.state for line in posting.lines.all()} == {"pending"}
    accounts = {(a.kind, a.merchant_id) for a in LedgerAccount.objects.all()}
    assert ("issuer_receivable", setup.issuer.pk) in accounts
    assert ("publisher_payable", setup.publisher.pk) in accounts
    assert ("platform_revenue", None) in accounts


def test_charge_is_exactly_once():
    setup = billing_setup()
    redemption = write_off(setup)
    first = services.charge_redemption(redemption_id=redemption.pk)
    second = services.charge_redemption(redemption_id=redemption.pk)
    assert first.pk == second.pk
    assert Posting.objects.filter(redemption=redemption).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        Posting.objects.create(
            kind="charge",
            redemption=redemption,
            issuer=setup.issuer,
            publisher=setup.publisher,
            campaign=setup.campaign,
            currency="CNY",
            fee_amount=1,
            occurred_at=timezone.now(),
        )


def test_write_off_outside_attribution_window_is_not_charged():
    setup = billing_setup()
    now = timezone.now()
    redemption = write_off(setup, at=now, issued_at=now - dt.timedelta(days=45))  # window is 30 days
    assert services.charge_redemption(redemption_id=redemption.pk) is None
    assert not Posting.objects.exists()


def test_voided_before_charge_is_never_charged():
    setup = billing_setup()
    redemption = void_write_off(write_off(setup))
    assert services.undo_charge(redemption_id=redemption.pk) is None
    assert services.charge_redemption(redemption_id=redemption.pk) is None
    assert not Posting.objects.exists()


def test_void_inside_window_reverses_and_nothing_locks():
    setup = billing_setup(void_window_seconds=900)
    at = timezone.now() - dt.timedelta(minutes=5)
    redemption = write_off(setup, at=at)
    charge = services.charge_redemption(redemption_id=redemption.pk)
    void_write_off(redemption)
    undo = services.undo_charge(redemption_id=redemption.pk)
    assert undo.kind == Posting.Kind.REVERSAL and undo.reverses == charge
    assert lines_of(undo) == {k: -v for k, v in lines_of(charge).items()}
    assert set(LedgerEntry.objects.values_list("state", flat=True)) == {"reversed"}
    assert services.undo_charge(redemption_id=redemption.pk).pk == undo.pk  # once
    assert services.lock_due_entries(now=timezone.now() + dt.timedelta(hours=1)) == 0


def test_lock_after_window_then_void_is_a_credit_in_the_open_period():
    setup = billing_setup(void_window_seconds=900)
    at = dt.datetime(2026, 10, 31, 23, 50, tzinfo=UTC)
    redemption = write_off(setup, at=at, issued_at=at - dt.timedelta(days=1))
    charge = services.charge_redemption(redemption_id=redemption.pk)
    assert services.lock_due_entries(now=at + dt.timedelta(minutes=10)) == 0  # still in the window
    assert services.lock_due_entries(now=at + dt.timedelta(minutes=16)) == 3
    assert set(charge.lines.values_list("state", "period_start").distinct()) == {
        ("locked", dt.date(2026, 10, 1))
    }
    void_write_off(redemption, at=dt.datetime(2026, 11, 2, tzinfo=UTC))
    credit = services.undo_charge(redemption_id=redemption.pk, now=dt.datetime(2026, 11, 2, tzinfo=UTC))
    assert credit.kind == Posting.Kind.CREDIT
    assert set(credit.lines.values_list("state", "period_start").distinct()) == {
        ("locked", dt.date(2026, 11, 1))
    }
    assert sum(credit.lines.values_list("amount", flat=True)) == 0
    assert set(charge.lines.values_list("state", flat=True)) == {"locked"}  # the charge stands, credited


def test_period_follows_the_issuer_time_zone_and_skips_closed_periods():
    setup = billing_setup(timezone_name="Asia/Shanghai")
    at = dt.datetime(2026, 10, 31, 17, 0, tzinfo=UTC)  # 01:00 on 1 November in Shanghai
    charge = services.charge_redemption(redemption_id=write_off(setup, at=at).pk)
    BillingPeriod.objects.create(issuer=setup.issuer, period_start=dt.date(2026, 11, 1), status="closing")
    services.lock_due_entries(now=at + dt.timedelta(hours=1))
    assert set(charge.lines.values_list("period_start", flat=True)) == {dt.date(2026, 12, 1)}


def test_database_refuses_an_unbalanced_posting_at_commit():
    setup = billing_setup()
    charge = services.charge_redemption(redemption_id=write_off(setup).pk)
    issuer_line = charge.lines.get(account_kind="issuer_receivable")
    with pytest.raises(Exception, match="immutable"), transaction.atomic():
        LedgerEntry.objects.filter(pk=issuer_line.pk).update(amount=1)
    with pytest.raises(Exception, match="does not balance"), transaction.atomic():
        LedgerEntry.objects.create(
            posting=charge,
            account=services.account_for(merchant_id=None, kind="platform_revenue", currency="EUR"),
            merchant=None,
            issuer=setup.issuer,
            account_kind="platform_revenue",
            amount=5,
            currency="CNY",
            state="pending",
            lock_after=timezone.now(),
        )
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_code_refuses_an_unbalanced_posting():
    setup = billing_setup()
    charge = services.charge_redemption(redemption_id=write_off(setup).pk)
    with pytest.raises(services.UnbalancedPosting):
        services._write_lines(
            charge, [(None, "platform_revenue", 3)], state="pending", lock_after=timezone.now()
        )


def test_dispute_after_lock_is_a_credit_once_and_a_later_void_adds_nothing():
    from backend.api.errors import ServiceError

    setup = billing_setup(void_window_seconds=900)
    at = dt.datetime(2026, 10, 3, tzinfo=UTC)
    redemption = write_off(setup, at=at)
    charge = services.charge_redemption(redemption_id=redemption.pk)
    with pytest.raises(ServiceError) as exc:
        services.dispute_charge(redemption_id=redemption.pk, reason="customer complaint", now=at)
    assert exc.value.errors[0].code == "STILL_VOIDABLE"
    services.lock_due_entries(now=at + dt.timedelta(hours=1))
    with pytest.raises(ServiceError) as exc:
        services.dispute_charge(redemption_id=redemption.pk, reason="  ", now=at)
    assert exc.value.errors[0].code == "REQUIRED"
    credit = services.dispute_charge(
        redemption_id=redemption.pk, reason="customer complaint", now=dt.datetime(2026, 11, 5, tzinfo=UTC)
    )
    assert (credit.kind, credit.reverses_id, credit.reason) == (
        "credit",
        charge.pk,
        "dispute: customer complaint",
    )
    assert set(credit.lines.values_list("state", "period_start")) == {("locked", dt.date(2026, 11, 1))}
    with pytest.raises(ServiceError) as exc:
        services.dispute_charge(redemption_id=redemption.pk, reason="again")
    assert exc.value.errors[0].code == "INVALID_STATE"
    void_write_off(redemption)
    assert services.undo_charge(redemption_id=redemption.pk).pk == credit.pk
    assert Posting.objects.filter(redemption=redemption).count() == 2
