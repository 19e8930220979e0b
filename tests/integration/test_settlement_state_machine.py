"""Settlement under random sequences (issue 15): write-offs at the issuer's own till and at a
partner shop's (reimbursed the discount, capped, plus a handling fee), voids (inside the window, and one
whose billing lands after the lock), lock runs, month closes, invoices paid at Stripe, payout
runs, and disputes opened and decided.

After every step:
- every posting balances;
- the standing charges are exactly the write-offs neither voided nor credited by an upheld dispute;
- every invoice equals the locked issuer-receivable lines it froze, and no line stays locked
  in a frozen month;
- every payout equals its lines; each run paid exactly the locked payables less the lines of
  open disputes (computed here from the machine's own model, not from payouts' hold table);
- nothing is paid twice: no line in two standing payouts, no invoice paid twice;
- the payout holds are exactly the open disputes;
- reconcile is green for every merchant.

Deterministic for CI: hypothesis derandomized, each example inside a rolled-back savepoint,
localstripe for Stripe and the bank-transfer gateway for payouts (no network, no clock).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import pytest
from django.db import transaction
from django.db.models import Count, Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from attribution.reconcile import reconcile
from backend.api.errors import ServiceError
from backend.outbox.models import OutboxEvent
from backend.outbox.services import process_events
from backend.redemptions import services as redemptions
from backend.redemptions.models import Redemption
from billing import closing, payments, payouts, services
from billing.models import (
    BillingPeriod,
    Invoice,
    InvoiceEvent,
    LedgerEntry,
    Payout,
    PayoutHold,
    PayoutItem,
    Posting,
    StripeInvoiceEvent,
)
from disputes import services as disputes
from disputes.models import Dispute
from tests.factories.billing import billing_setup
from tests.factories.campaigns import CampaignPartnerFactory, CouponFactory
from tests.factories.merchants import MerchantFactory, StoreFactory, make_terminal

STATS: Counter = Counter()  # what the examples did, printed with -s (so a weak run shows)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

UTC = dt.UTC
START = dt.datetime(2026, 10, 25, 9, tzinfo=UTC)
WINDOW = dt.timedelta(seconds=900)
NET_DAYS = 15
MINIMUM = 50
STEPS = st.sampled_from(
    [dt.timedelta(minutes=5), dt.timedelta(minutes=20), dt.timedelta(days=3), dt.timedelta(days=19)]
)
RECONCILE_FROM = dt.datetime(2026, 1, 1, tzinfo=UTC)
RECONCILE_TO = dt.datetime(2028, 1, 1, tzinfo=UTC)


def bank_account(merchant):
    payouts.payout_account_set(
        merchant=merchant,
        method="bank_transfer",
        bank_account_holder=merchant.name,
        bank_account_number="DE89 3704 0044 0532 0130 00",
        bank_code="COBADEFFXXX",
    )


def deliver_outbox() -> None:
    """What the worker does: run every pending event's handlers (attribution, billing, ...),
    and those of the events they emit, until none is left."""
    while pending := list(
        OutboxEvent.objects.filter(dispatched_at__isnull=True, dead_at__isnull=True).values_list(
            "pk", flat=True
        )
    ):
        outcome = process_events(pending)
        assert all(outcome.values()), outcome


@pytest.mark.timeout(600)
def test_settlement_invariants_hold_for_random_sequences(localstripe, stripe_gateway, settings_override):
    class SettlementMachine(RuleBasedStateMachine):
        @initialize(
            fee=st.sampled_from([999, 120, 0]),
            share=st.sampled_from([5000, 2500, 10_000, 0]),
            reimbursement=st.sampled_from([400, 0, 800]),
        )
        def setup(self, fee, share, reimbursement):
            self.savepoint = transaction.atomic()
            self.savepoint.__enter__()
            self.own = billing_setup(
                fee=fee, share_bps=share, void_window_seconds=int(WINDOW.total_seconds())
            )
            self.issuer, self.publisher = self.own.issuer, self.own.publisher
            self.operator = disputes.Actor(merchant=MerchantFactory(is_network_operator=True))
            # a partner shop accepting the campaign at its store: reimbursed the discount (capped) + a fee
            self.partner = MerchantFactory()
            store = StoreFactory(merchant=self.partner)
            self.partner_terminal, _ = make_terminal(store)
            CampaignPartnerFactory(
                campaign=self.own.campaign,
                partner=self.partner,
                max_reimbursement=reimbursement,
                handling_fee=30,
            )
            self.merchants = [self.issuer, self.publisher, self.partner]
            for merchant in self.merchants:
                bank_account(merchant)
            self.now = START
            self.runs = 0
            self.card_for: set[str] = set()
            # the model: redemption id -> facts; disputes by redemption id
            self.write_offs: dict[int, dict] = {}
            self.open_disputes: dict[int, int] = {}  # redemption id -> dispute id
            self.disputed: set[int] = set()
            self.credited: set[int] = set()  # upheld while the charge stood

        # --- the till -------------------------------------------------------------------

        def _redeem(self, terminal, count):
            for _ in range(count):
                coupon = CouponFactory(
                    placement=self.own.placement,
                    campaign=self.own.campaign,
                    issued_at=self.now - dt.timedelta(days=1),
                )
                redemption = redemptions.redeem_coupon(
                    terminal=terminal,
                    code=coupon.code,
                    order_amount=3000,
                    currency=self.own.campaign.currency,
                    idempotency_key=uuid.uuid4().hex,
                    now=self.now,
                )
                assert redemption.status == Redemption.Status.VERIFIED, redemption.reason_code
                owed = (
                    redemption.fee_amount + redemption.reimbursement_amount + redemption.handling_fee_amount
                )
                self.write_offs[redemption.pk] = {
                    "at": self.now,
                    "charged": owed > 0,
                    "terminal": terminal,
                    "voided": False,
                }
            deliver_outbox()

        @rule(count=st.integers(1, 3))
        def redeem_at_own_store(self, count):
            self._redeem(self.own.terminal, count)

        @rule(count=st.integers(1, 3))
        def redeem_at_partner_store(self, count):
            self._redeem(self.partner_terminal, count)

        def _voidable(self):
            return sorted(
                r for r, w in self.write_offs.items() if not w["voided"] and self.now < w["at"] + WINDOW
            )

        @precondition(lambda self: bool(self._voidable()))
        @rule(data=st.data(), billed_late=st.booleans())
        def void(self, data, billed_late):
            """A void at the till inside the window; ``billed_late``: its event reaches billing
            only after the window passed and the lock ran (a credit instead of a reversal)."""
            redemption_id = data.draw(st.sampled_from(self._voidable()))
            facts = self.write_offs[redemption_id]
            redemptions.void_redemption(
                terminal=facts["terminal"], redemption_id=redemption_id, reason="changed mind", now=self.now
            )
            facts["voided"] = True
            if billed_late:
                self.now = max(self.now, facts["at"] + WINDOW) + dt.timedelta(seconds=1)
                services.lock_due_entries(now=self.now)
            deliver_outbox()

        # --- time, lock and close -----------------------------------------------------------

        @rule(step=STEPS)
        def advance(self, step):
            self.now += step

        @precondition(
            lambda self: LedgerEntry.objects.filter(
                issuer=self.issuer, state="pending", lock_after__lte=self.now
            ).exists()
        )
        @rule()
        def lock(self):
            services.lock_due_entries(now=self.now)

        @precondition(
            lambda self: any(i.pk == self.issuer.pk for i, _ in closing.periods_to_close(now=self.now))
        )
        @rule()
        def close(self):
            for issuer, period_start in closing.periods_to_close(now=self.now):
                if issuer.pk == self.issuer.pk:
                    closing.close_period(
                        issuer=issuer, period_start=period_start, now=self.now, gateway=stripe_gateway
                    )

        @rule()
        def month_end(self):
            first = services.next_month(self.now.date().replace(day=1))
            self.now = dt.datetime.combine(first, dt.time(2), tzinfo=UTC)
            self.lock()
            self.close()

        @precondition(lambda self: Invoice.objects.filter(issuer=self.issuer, status="open").exists())
        @rule(data=st.data())
        def pay_invoice(self, data):
            """The issuer pays at Stripe; the signed webhook's facts are recorded and applied."""
            invoices = list(Invoice.objects.filter(issuer=self.issuer, status="open").order_by("id"))
            invoice = data.draw(st.sampled_from(invoices))
            customer_id = localstripe.get(f"/v1/invoices/{invoice.stripe_invoice_id}")["customer"]
            if customer_id not in self.card_for:
                card = localstripe.post(
                    "/v1/payment_methods",
                    **{
                        "type": "card",
                        "card[number]": "4242424242424242",
                        "card[exp_month]": "12",
                        "card[exp_year]": "2030",
                        "card[cvc]": "123",
                    },
                )
                localstripe.post(f"/v1/payment_methods/{card['id']}/attach", customer=customer_id)
                localstripe.post(
                    f"/v1/customers/{customer_id}", **{"invoice_settings[default_payment_method]": card["id"]}
                )
                self.card_for.add(customer_id)
            paid = localstripe.post(f"/v1/invoices/{invoice.stripe_invoice_id}/pay")
            StripeInvoiceEvent.objects.create(
                stripe_event_id=f"evt_{uuid.uuid4().hex}",
                type="invoice.paid",
                stripe_invoice_id=invoice.stripe_invoice_id,
                currency=paid["currency"],
                total=paid["total"],
                amount_paid=paid["amount_paid"],
                invoice_status=paid["status"],
            )
            payments.apply_stripe_invoice_events()
            invoice.refresh_from_db()
            assert invoice.status == Invoice.Status.PAID, (invoice.status, invoice.mismatch)

        # --- payouts ------------------------------------------------------------------------

        @precondition(
            lambda self: payouts.unpaid_payable_lines().filter(merchant__in=self.merchants).exists()
        )
        @rule(collected_only=st.booleans(), net_days=st.sampled_from([0, NET_DAYS]))
        def payout(self, collected_only, net_days):
            cutoff = self.now - dt.timedelta(days=net_days)
            expected = self._expected_payouts(cutoff=cutoff, collected_only=collected_only)
            self.runs += 1
            key = f"sm-{self.runs}"
            run = payouts.run_payouts(key=key, cutoff=cutoff, collected_only=collected_only)
            got = {(p.merchant_id, p.currency): p.amount for p in run.payouts.all()}
            assert got == expected, (got, expected)
            for item in PayoutItem.objects.filter(payout__run=run).select_related("ledger_entry__posting"):
                assert item.ledger_entry.posting.redemption_id not in self.open_disputes
            payouts.confirm_bank_payouts(run_key=key, now=self.now)

        def _expected_payouts(self, *, cutoff, collected_only) -> dict:
            """Locked payables less the lines of open disputes, per merchant and currency."""
            standing = set(
                PayoutItem.objects.filter(released=False).values_list("ledger_entry_id", flat=True)
            )
            sums: dict = {}
            lines = LedgerEntry.objects.filter(
                account_kind__in=payouts.PAYABLE_KINDS,
                state__in=["locked", "invoiced", "paid"],
                merchant__in=self.merchants,
            ).select_related("posting")
            for line in lines:
                if line.pk in standing or line.posting.redemption_id in self.open_disputes:
                    continue
                earned_ok = line.locked_at <= cutoff and (not collected_only or line.state == "paid")
                if line.amount < 0 and not earned_ok:
                    continue
                key = (line.merchant_id, line.currency)
                sums[key] = sums.get(key, 0) - line.amount
            return {key: amount for key, amount in sums.items() if amount >= MINIMUM}

        # --- disputes -----------------------------------------------------------------------

        @precondition(lambda self: bool(self.write_offs))
        @rule(data=st.data(), reason=st.sampled_from(["not_redeemed", "duplicate", "other"]))
        def open_dispute(self, data, reason):
            # Half the time a write-off that can be disputed (charged, locked, undisputed), so the
            # machine reaches decisions; otherwise any, to meet every refusal.
            openable = sorted(
                r
                for r, w in self.write_offs.items()
                if not w["voided"]
                and r not in self.disputed
                and LedgerEntry.objects.filter(posting__redemption_id=r, posting__kind="charge")
                .exclude(state__in=["pending", "reversed"])
                .exists()
                and not Posting.objects.filter(redemption_id=r, kind__in=["reversal", "credit"]).exists()
                and self.now <= w["at"] + dt.timedelta(days=60)
            )
            pool = openable if openable and data.draw(st.booleans()) else sorted(self.write_offs)
            redemption_id = data.draw(st.sampled_from(pool))
            facts = self.write_offs[redemption_id]
            charge = Posting.objects.filter(redemption_id=redemption_id, kind="charge").first()
            expected = None
            if facts["voided"]:
                expected = "WRITE_OFF_VOIDED"
            elif redemption_id in self.disputed:
                expected = "ALREADY_DISPUTED"
            elif self.now > facts["at"] + dt.timedelta(days=60):
                expected = "WINDOW_CLOSED"
            elif charge is None:
                expected = "NOT_CHARGED"
            elif charge.lines.filter(state="pending").exists():
                expected = "STILL_VOIDABLE"
            try:
                dispute = disputes.dispute_open(
                    issuer=self.issuer,
                    redemption_id=redemption_id,
                    reason_code=reason,
                    note="disputed by the machine",
                    actor=disputes.Actor(merchant=self.issuer),
                    now=self.now,
                )
            except ServiceError as exc:
                assert [e.code for e in exc.errors] == [expected]
                return
            assert expected is None
            self.open_disputes[redemption_id] = dispute.pk
            self.disputed.add(redemption_id)

        @precondition(lambda self: bool(self.open_disputes))
        @rule(data=st.data(), upheld=st.booleans())
        def decide_dispute(self, data, upheld):
            redemption_id = data.draw(st.sampled_from(sorted(self.open_disputes)))
            standing = not Posting.objects.filter(
                reverses__redemption_id=redemption_id, reverses__kind="charge"
            ).exists()
            dispute = disputes.dispute_decide(
                dispute_id=self.open_disputes.pop(redemption_id),
                upheld=upheld,
                note="decided",
                actor=self.operator,
                now=self.now,
            )
            assert dispute.status == ("upheld" if upheld else "rejected")
            assert (dispute.credit_id is not None) == (upheld and standing)
            if upheld and standing:
                self.credited.add(redemption_id)

        # --- invariants ---------------------------------------------------------------------

        @invariant()
        def each_posting_balances(self):
            unbalanced = (
                LedgerEntry.objects.filter(issuer=self.issuer)
                .values("posting_id")
                .annotate(total=Sum("amount"))
                .exclude(total=0)
            )
            assert not unbalanced.exists()

        @invariant()
        def standing_charges_are_the_write_offs_owed(self):
            standing = set(
                Posting.objects.filter(
                    issuer=self.issuer, kind="charge", reversed_by__isnull=True
                ).values_list("redemption_id", flat=True)
            )
            owed = {
                r
                for r, w in self.write_offs.items()
                if w["charged"] and not w["voided"] and r not in self.credited
            }
            assert standing == owed

        @invariant()
        def invoices_equal_the_locked_charges(self):
            for invoice in Invoice.objects.filter(issuer=self.issuer):
                lines = LedgerEntry.objects.filter(invoice=invoice, account_kind="issuer_receivable")
                assert invoice.amount == (lines.aggregate(s=Sum("amount"))["s"] or 0)
                assert invoice.line_count == lines.count()
                assert invoice.status not in (Invoice.Status.DRAFT, Invoice.Status.MISMATCH), invoice.mismatch
            for period in BillingPeriod.objects.filter(issuer=self.issuer).exclude(status="open"):
                assert not LedgerEntry.objects.filter(
                    issuer=self.issuer, period_start=period.period_start, state="locked"
                ).exists()

        @invariant()
        def payouts_equal_their_lines_and_nothing_is_paid_twice(self):
            for payout in Payout.objects.filter(merchant__in=self.merchants).exclude(status="failed"):
                items = payout.items.filter(released=False)
                assert payout.amount == -(items.aggregate(s=Sum("ledger_entry__amount"))["s"] or 0)
                assert payout.amount >= MINIMUM
                assert not items.exclude(ledger_entry__merchant=payout.merchant).exists()
            twice = (
                PayoutItem.objects.filter(released=False)
                .values("ledger_entry_id")
                .annotate(n=Count("id"))
                .filter(n__gt=1)
            )
            assert not twice.exists()
            paid_twice = (
                InvoiceEvent.objects.filter(issuer=self.issuer, kind="paid")
                .values("invoice_id")
                .annotate(n=Count("id"))
                .filter(n__gt=1)
            )
            assert not paid_twice.exists()

        @invariant()
        def holds_are_the_open_disputes(self):
            held = set(
                PayoutHold.objects.filter(released_at__isnull=True, redemption__isnull=False).values_list(
                    "redemption_id", flat=True
                )
            )
            assert held == set(self.open_disputes)
            assert Dispute.objects.filter(issuer=self.issuer, status="open").count() == len(
                self.open_disputes
            )

        @invariant()
        def reconcile_is_green(self):
            for merchant in self.merchants:
                result = reconcile(merchant=merchant, start=RECONCILE_FROM, end=RECONCILE_TO)
                assert result.ok, result.discrepancies

        def teardown(self):
            if hasattr(self, "savepoint"):
                STATS["examples"] += 1
                STATS["write_offs"] += len(self.write_offs)
                STATS["disputes"] += len(self.disputed)
                STATS["credited"] += len(self.credited)
                STATS["payouts"] += Payout.objects.filter(merchant__in=self.merchants).count()
                STATS["partner_payouts"] += Payout.objects.filter(merchant=self.partner).count()
                STATS["partner_write_offs"] += sum(
                    1 for w in self.write_offs.values() if w["terminal"] == self.partner_terminal
                )
                STATS["invoices_paid"] += Invoice.objects.filter(issuer=self.issuer, status="paid").count()
                STATS["invoices"] += Invoice.objects.filter(issuer=self.issuer).count()
                STATS["credits"] += Posting.objects.filter(issuer=self.issuer, kind="credit").count()
                STATS["reversals"] += Posting.objects.filter(issuer=self.issuer, kind="reversal").count()
                transaction.set_rollback(True)
                self.savepoint.__exit__(None, None, None)

    STATS.clear()
    run_state_machine_as_test(
        SettlementMachine,
        settings=settings(
            max_examples=8,
            stateful_step_count=50,
            derandomize=True,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
    print("settlement machine:", dict(STATS))


@pytest.fixture
def settings_override(settings):
    settings.PAYOUTS_MINIMUM_AMOUNT = MINIMUM
    settings.PAYOUTS_MINIMUM_AMOUNTS = {}
    settings.PAYOUTS_NET_DAYS = NET_DAYS
    settings.DISPUTES_WINDOW_DAYS = 60
    return settings
