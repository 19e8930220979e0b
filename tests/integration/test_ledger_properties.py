"""Properties of the ledger under random sequences of write-offs, voids, disputes, lock runs and closes.

Each example draws an issuer's time zone, two campaigns in two currencies and their fees
(zero included). After every step: every posting sums to zero; the standing charges are
exactly the attributed write-offs not voided (a zero fee charges nothing); every invoice's
amount equals the locked lines it froze; no line is left locked in a period that was
closed; and Stripe's view of every invoice sent (localstripe, asked after every step) has
our currency and our total, and none is held in mismatch.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from backend.api.errors import ServiceError
from billing import closing, services
from billing.models import BillingPeriod, Invoice, LedgerEntry, Posting
from billing.pricing import split_fee
from tests.factories.billing import billing_setup, void_write_off, write_off

pytestmark = pytest.mark.django_db

UTC = dt.UTC
TIME_ZONES = ["UTC", "America/Los_Angeles", "Asia/Shanghai", "Pacific/Auckland"]
FEES = st.one_of(st.just(0), st.integers(1, 100_000))
STEPS = st.sampled_from(
    [dt.timedelta(minutes=1), dt.timedelta(minutes=20), dt.timedelta(days=2), dt.timedelta(days=19)]
)


@pytest.mark.timeout(240)
def test_ledger_invariants_hold_for_random_sequences(stripe_gateway):
    class LedgerMachine(RuleBasedStateMachine):
        @initialize(
            fees=st.tuples(FEES, FEES),
            share=st.integers(0, 10_000),
            tz=st.sampled_from(TIME_ZONES),
        )
        def setup(self, fees, share, tz):
            # Each example runs in its own savepoint, rolled back in teardown().
            self.savepoint = transaction.atomic()
            self.savepoint.__enter__()
            first = billing_setup(fee=fees[0], share_bps=share, void_window_seconds=900, timezone_name=tz)
            second = billing_setup(
                fee=fees[1], share_bps=share, void_window_seconds=900, issuer=first.issuer, currency="USD"
            )
            self.setups = [first, second]
            self.issuer = first.issuer
            self.fee_of = {}  # redemption id -> its fee
            self.share = share
            self.now = dt.datetime(2026, 10, 25, tzinfo=UTC)
            self.live: list[int] = []  # redemption ids written off and not voided (with a charge)
            self.voided: list[int] = []
            self.disputed: set[int] = set()  # credited after an upheld dispute, still verified

        @rule(count=st.integers(1, 3), which=st.integers(0, 1))
        def write_off(self, count, which):
            setup = self.setups[which]
            for _ in range(count):
                redemption = write_off(setup, at=self.now)
                posting = services.charge_redemption(redemption_id=redemption.pk)
                if setup.campaign.fee_per_redemption == 0:
                    assert posting is None  # a zero fee posts nothing
                    continue
                assert posting is not None and posting.currency == setup.campaign.currency
                self.fee_of[redemption.pk] = setup.campaign.fee_per_redemption
                self.live.append(redemption.pk)

        @rule(data=st.data())
        def void(self, data):
            if not self.live:
                return
            redemption_id = data.draw(st.sampled_from(self.live))
            from backend.redemptions.models import Redemption

            void_write_off(Redemption.objects.get(pk=redemption_id), at=self.now)
            undo = services.undo_charge(redemption_id=redemption_id, now=self.now)
            assert undo is not None
            self.live.remove(redemption_id)
            self.disputed.discard(redemption_id)  # already credited: the void adds nothing
            self.voided.append(redemption_id)

        @rule(data=st.data())
        def dispute(self, data):
            candidates = [r for r in self.live if r not in self.disputed]
            if not candidates:
                return
            redemption_id = data.draw(st.sampled_from(candidates))
            pending = LedgerEntry.objects.filter(
                posting__redemption_id=redemption_id, state="pending"
            ).exists()
            try:
                services.dispute_charge(redemption_id=redemption_id, reason="upheld", now=self.now)
            except ServiceError as exc:
                assert pending and exc.errors[0].code == "STILL_VOIDABLE"
                return
            assert not pending
            self.disputed.add(redemption_id)

        @rule(step=STEPS)
        def advance(self, step):
            self.now += step

        @rule()
        def lock(self):
            services.lock_due_entries(now=self.now)

        @rule()
        def close(self):
            for issuer, period_start in closing.periods_to_close(now=self.now):
                if issuer.pk == self.issuer.pk:
                    closing.close_period(
                        issuer=issuer, period_start=period_start, now=self.now, gateway=stripe_gateway
                    )

        @rule()
        def month_end(self):
            """Jump to 02:00 on the 1st of next month, then run the lock and the close."""
            first = services.next_month(self.now.date().replace(day=1))
            self.now = dt.datetime.combine(first, dt.time(2), tzinfo=UTC)
            self.lock()
            self.close()

        @invariant()
        def postings_balance(self):
            sums = (
                LedgerEntry.objects.filter(issuer=self.issuer)
                .values("posting_id")
                .annotate(total=Sum("amount"))
                .exclude(total=0)
            )
            assert not sums.exists()

        @invariant()
        def charges_equal_write_offs_not_voided(self):
            standing = Posting.objects.filter(
                issuer=self.issuer, kind=Posting.Kind.CHARGE, reversed_by__isnull=True
            ).values_list("redemption_id", flat=True)
            owed = [r for r in self.live if r not in self.disputed]
            assert sorted(standing) == sorted(owed)
            # and in money, per currency: the receivable nets to the fees of those write-offs
            for setup in self.setups:
                currency, fee = setup.campaign.currency, setup.campaign.fee_per_redemption
                owed_here = [r for r in owed if r in self.fee_of and self._currency_of(r) == currency]
                lines = LedgerEntry.objects.filter(issuer=self.issuer, currency=currency).exclude(
                    state="reversed"
                )
                net = lines.filter(account_kind="issuer_receivable").aggregate(s=Sum("amount"))["s"] or 0
                assert net == fee * len(owed_here)
                publisher = (
                    lines.filter(account_kind="publisher_payable").aggregate(s=Sum("amount"))["s"] or 0
                )
                assert -publisher == split_fee(fee, self.share).publisher * len(owed_here)

        def _currency_of(self, redemption_id):
            from backend.redemptions.models import Redemption

            return Redemption.objects.get(pk=redemption_id).currency

        @invariant()
        def each_write_off_record_names_the_period_and_invoice_of_its_charge(self):
            from attribution.models import AttributionRecord

            charged = LedgerEntry.objects.filter(
                issuer=self.issuer, account_kind="issuer_receivable", posting__kind="charge"
            ).values_list("posting__redemption_id", "period_start", "invoice_id")
            records = {
                r: (p, i)
                for r, p, i in AttributionRecord.objects.filter(issuer=self.issuer).values_list(
                    "redemption_id", "billing_period", "billing_invoice_id"
                )
            }
            for redemption_id, period_start, invoice_id in charged:
                assert records[redemption_id] == (period_start, invoice_id)

        @invariant()
        def stripe_agrees_with_every_invoice_sent(self):
            for invoice in Invoice.objects.filter(issuer=self.issuer):
                assert invoice.status != Invoice.Status.MISMATCH, invoice.mismatch
                if not invoice.stripe_invoice_id:
                    assert invoice.status == Invoice.Status.SETTLED and invoice.amount == 0
                    continue
                theirs = stripe_gateway.retrieve_invoice(invoice_id=invoice.stripe_invoice_id)
                assert (theirs.currency, theirs.total) == (invoice.currency, invoice.amount)
                assert (invoice.stripe_currency, invoice.stripe_total) == (invoice.currency, invoice.amount)

        @invariant()
        def invoices_equal_their_locked_lines(self):
            for invoice in Invoice.objects.filter(issuer=self.issuer):
                lines = LedgerEntry.objects.filter(invoice=invoice, account_kind="issuer_receivable")
                assert invoice.amount == (lines.aggregate(s=Sum("amount"))["s"] or 0)
                assert invoice.line_count == lines.count()
                assert invoice.status != Invoice.Status.DRAFT  # every close sent what it froze

        @invariant()
        def nothing_locked_in_a_frozen_period(self):
            frozen = BillingPeriod.objects.filter(issuer=self.issuer).exclude(status="open")
            for period in frozen:
                assert not LedgerEntry.objects.filter(
                    issuer=self.issuer, period_start=period.period_start, state="locked"
                ).exists()

        def teardown(self):
            if hasattr(self, "savepoint"):
                transaction.set_rollback(True)
                self.savepoint.__exit__(None, None, None)

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
