"""Reads of billing, always scoped to the caller's merchant first.

A merchant sees the lines of its own accounts only (its receivable as an issuer, its
payable as a publisher); the platform's revenue lines are never shown to a merchant.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum

from backend.campaigns.models import Campaign
from backend.merchants.models import Merchant

from .models import (
    BillingPeriod,
    Invoice,
    LedgerAccount,
    LedgerEntry,
    Payout,
    PayoutAccount,
    PayoutHold,
    PayoutItem,
    Posting,
)

State = LedgerEntry.State


def parse_period(value: str | None) -> dt.date | None:
    """'2026-10' -> date(2026, 10, 1); raises ValueError for anything else."""
    if value is None:
        return None
    parsed = dt.datetime.strptime(value, "%Y-%m").date()  # noqa: DTZ007 (a calendar month, not a moment)
    if parsed.year < 2000 or parsed.year > 2999:
        raise ValueError("year out of range")
    return parsed


def ledger_lines_for(
    *,
    merchant: Merchant,
    period_start: dt.date | None = None,
    state: str | None = None,
    account_kind: str | None = None,
    currency: str | None = None,
    invoice_id: int | None = None,
) -> QuerySet[LedgerEntry]:
    qs = LedgerEntry.objects.filter(merchant=merchant).select_related("posting", "invoice")
    if period_start is not None:
        qs = qs.filter(period_start=period_start)
    if state:
        qs = qs.filter(state=state)
    if account_kind:
        qs = qs.filter(account_kind=account_kind)
    if currency:
        qs = qs.filter(currency=currency.upper())
    if invoice_id is not None:
        qs = qs.filter(invoice_id=invoice_id, invoice__issuer=merchant)
    return qs.order_by("-id")


def ledger_line_for(*, merchant: Merchant, line_id: int) -> LedgerEntry | None:
    return ledger_lines_for(merchant=merchant).filter(pk=line_id).first()


@dataclass(frozen=True)
class Balance:
    account_kind: str
    currency: str
    pending: int
    locked: int
    invoiced: int
    paid: int

    @property
    def total(self) -> int:
        """Everything not reversed: debit > 0 (owed by the merchant), credit < 0 (owed to it)."""
        return self.pending + self.locked + self.invoiced + self.paid


def balances_for(*, merchant: Merchant, period_start: dt.date | None = None) -> list[Balance]:
    qs = LedgerEntry.objects.filter(merchant=merchant)
    if period_start is not None:
        qs = qs.filter(period_start=period_start)
    sums = {
        state: Sum("amount", filter=Q(state=state), default=0)
        for state in ("pending", "locked", "invoiced", "paid")
    }
    rows = qs.values("account_kind", "currency").annotate(**sums).order_by("account_kind", "currency")
    return [
        Balance(
            account_kind=row["account_kind"],
            currency=row["currency"],
            pending=row["pending"],
            locked=row["locked"],
            invoiced=row["invoiced"],
            paid=row["paid"],
        )
        for row in rows
    ]


def invoices_for(
    *, merchant: Merchant, period_start: dt.date | None = None, status: str | None = None
) -> QuerySet[Invoice]:
    qs = Invoice.objects.filter(issuer=merchant).prefetch_related("events")
    if period_start is not None:
        qs = qs.filter(period_start=period_start)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-period_start", "currency")


def invoice_for(*, merchant: Merchant, invoice_id: int) -> Invoice | None:
    return Invoice.objects.filter(issuer=merchant, pk=invoice_id).prefetch_related("events").first()


def write_offs_for(
    *, merchant: Merchant, period_start: dt.date | None = None, invoice_id: int | None = None
) -> QuerySet[Posting]:
    """The issuer's charged write-offs, each with the period and invoice that bill it.

    Annotated from the charge's issuer-receivable line (``billed_period``, ``billed_invoice_id``,
    ``billed_state``) and, when the charge was undone, from the undo's line (a reversal is never
    billed; a credit lands in a later period and invoice).
    """
    receivable = LedgerEntry.objects.filter(
        account_kind=LedgerAccount.Kind.ISSUER_RECEIVABLE, merchant=merchant
    )
    charge_line = receivable.filter(posting=OuterRef("pk"))
    undo_line = receivable.filter(posting__reverses=OuterRef("pk"))
    qs = (
        Posting.objects.filter(issuer=merchant, kind=Posting.Kind.CHARGE)
        .annotate(
            billed_period=Subquery(charge_line.values("period_start")[:1]),
            billed_invoice_id=Subquery(charge_line.values("invoice_id")[:1]),
            billed_state=Subquery(charge_line.values("state")[:1]),
            undo_kind=Subquery(Posting.objects.filter(reverses=OuterRef("pk")).values("kind")[:1]),
            undo_period=Subquery(undo_line.values("period_start")[:1]),
            undo_invoice_id=Subquery(undo_line.values("invoice_id")[:1]),
        )
        .order_by("-occurred_at", "-id")
    )
    if period_start is not None:
        qs = qs.filter(billed_period=period_start)
    if invoice_id is not None:
        qs = qs.filter(billed_invoice_id=invoice_id)
    return qs


@dataclass(frozen=True)
class StatementLine:
    currency: str
    write_offs: int  # charges credited to the publisher in the period
    credits: int  # voids after lock and upheld disputes, taken back in the period
    fees: int  # the issuers' fees on those lines (charges less credits), minor units
    earned: int  # net share for the period, minor units
    paid_by_issuers: int  # the part on invoices issuers have paid
    outstanding: int  # earned - paid_by_issuers


@dataclass(frozen=True)
class Statement:
    lines: list[StatementLine]
    final: bool  # every issuer involved has closed the month: the statement no longer changes
    issuers_open: int  # issuers involved whose month is still open


def publisher_statement_for(*, merchant: Merchant, period_start: dt.date) -> Statement:
    """What the publisher earned in the month: its payable lines locked into that period.

    The calendar is the billing one: each line belongs to the month of the issuer that is
    billed for it (in the issuer's time zone), the month its write-off was made in, since the
    close waits for void windows; a void after the close or an upheld dispute is a credit in
    the month it happens. So once every issuer involved has closed the month, no line can join
    or leave it: the statement is final.
    """
    lines = LedgerEntry.objects.filter(
        merchant=merchant, account_kind=LedgerAccount.Kind.PUBLISHER_PAYABLE, period_start=period_start
    ).exclude(state=State.REVERSED)
    rows = (
        lines.values("currency")
        .annotate(
            earned=Sum("amount", default=0),
            paid=Sum("amount", filter=Q(state=State.PAID), default=0),
            fees=Sum("posting__fee_amount", default=0),
            write_offs=Count("id", filter=Q(posting__kind=Posting.Kind.CHARGE)),
            credits=Count("id", filter=Q(posting__kind=Posting.Kind.CREDIT)),
        )
        .order_by("currency")
    )
    # Issuers involved: those with lines in the month, and those whose write-offs for this
    # publisher are still pending (not yet placed in a month) and happened before it ended
    # anywhere on Earth (+14 h, the easternmost offset), so could still land in it.
    latest_end = dt.datetime.combine(
        (period_start.replace(day=28) + dt.timedelta(days=4)).replace(day=1), dt.time.min, tzinfo=dt.UTC
    ) + dt.timedelta(hours=14)
    involved = set(lines.values_list("issuer_id", flat=True).distinct()) | set(
        LedgerEntry.objects.filter(
            merchant=merchant,
            account_kind=LedgerAccount.Kind.PUBLISHER_PAYABLE,
            state=State.PENDING,
            posting__occurred_at__lt=latest_end,
        )
        .values_list("issuer_id", flat=True)
        .distinct()
    )
    closed = set(
        BillingPeriod.objects.filter(issuer_id__in=involved, period_start=period_start)
        .exclude(status=BillingPeriod.Status.OPEN)
        .values_list("issuer_id", flat=True)
    )
    return Statement(
        lines=[
            StatementLine(
                currency=row["currency"],
                write_offs=row["write_offs"],
                credits=row["credits"],
                fees=row["fees"],
                earned=-row["earned"],
                paid_by_issuers=-row["paid"],
                outstanding=-row["earned"] + row["paid"],
            )
            for row in rows
        ],
        final=not (involved - closed),
        issuers_open=len(involved - closed),
    )


# --- payouts (billing/payouts.py) --------------------------------------------------------------

# Every account a merchant is paid from: a new ``*_payable`` kind joins without a change here.
PAYABLE_KINDS: tuple[str, ...] = tuple(k for k in LedgerAccount.Kind.values if k.endswith("_payable"))
SETTLED_STATES = (State.LOCKED, State.INVOICED, State.PAID)


def open_hold_exists() -> Q:
    """Lines under an open payout hold (on the line, or on its posting's write-off)."""
    open_holds = PayoutHold.objects.filter(released_at__isnull=True)
    return Q(Exists(open_holds.filter(ledger_entry_id=OuterRef("pk")))) | Q(
        Exists(open_holds.filter(redemption_id=OuterRef("posting__redemption_id")))
    )


def unpaid_payable_lines(*, merchant_id: int | None = None) -> QuerySet[LedgerEntry]:
    """Settled (locked, invoiced or paid) payable lines not in a standing payout, held ones too."""
    qs = LedgerEntry.objects.filter(
        account_kind__in=PAYABLE_KINDS, state__in=SETTLED_STATES, merchant__isnull=False
    ).exclude(Exists(PayoutItem.objects.filter(ledger_entry_id=OuterRef("pk"), released=False)))
    if merchant_id is not None:
        qs = qs.filter(merchant_id=merchant_id)
    return qs


def eligible_lines(
    *, cutoff: dt.datetime, collected_only: bool, merchant_id: int | None = None
) -> QuerySet[LedgerEntry]:
    """The lines a payout run with this cutoff pays now: earnings (< 0) locked at or before the
    cutoff (and collected, when asked), every take-back (> 0) at once; never a held line."""
    earned = Q(amount__lt=0, locked_at__lte=cutoff)
    if collected_only:
        earned &= Q(state=State.PAID)
    return (
        unpaid_payable_lines(merchant_id=merchant_id)
        .exclude(open_hold_exists())
        .filter(earned | Q(amount__gt=0))
    )


def payouts_for(
    *, merchant: Merchant, status: str | None = None, currency: str | None = None, with_lines: bool = False
) -> QuerySet[Payout]:
    qs = Payout.objects.filter(merchant=merchant).select_related("run")
    if with_lines:  # the lines of every payout of the page in one query
        qs = qs.prefetch_related(
            Prefetch("items", queryset=payout_lines_for(merchant=merchant), to_attr="lines")
        )
    if status:
        qs = qs.filter(status=status)
    if currency:
        qs = qs.filter(currency=currency.upper())
    return qs.order_by("-created_at", "-id")


def payout_for(*, merchant: Merchant, payout_id: int) -> Payout | None:
    return payouts_for(merchant=merchant).filter(pk=payout_id).first()


def payout_lines_for(*, merchant: Merchant, payout: Payout | None = None) -> QuerySet[PayoutItem]:
    """The lines a payout pays (standing claims), of the merchant's payouts only."""
    qs = PayoutItem.objects.filter(payout__merchant=merchant, released=False)
    if payout is not None:
        qs = qs.filter(payout=payout)
    return qs.select_related("ledger_entry", "ledger_entry__posting").order_by("id")


def payout_account_for(*, merchant: Merchant) -> PayoutAccount | None:
    return PayoutAccount.objects.filter(merchant=merchant).first()


@dataclass(frozen=True)
class PayableBalance:
    """What a merchant is owed in one currency, minor units (> 0: owed to it)."""

    currency: str
    pending: int  # earned inside void windows: not yet payable
    held: int  # settled, unpaid, under a hold
    waiting: int  # settled, unpaid, not held, not yet due (NET-n, or not yet collected)
    due: int  # what a run now would pay (before the minimum): may be negative
    in_flight: int  # planned or submitted payouts
    paid_out: int  # paid payouts

    @property
    def balance(self) -> int:
        """Everything settled and not paid out (held and waiting included)."""
        return self.held + self.waiting + self.due


def payable_balances_for(
    *, merchant: Merchant, cutoff: dt.datetime, collected_only: bool
) -> list[PayableBalance]:
    lines = LedgerEntry.objects.filter(merchant=merchant, account_kind__in=PAYABLE_KINDS)
    pending = dict(
        lines.filter(state=State.PENDING)
        .values("currency")
        .annotate(s=Sum("amount"))
        .values_list("currency", "s")
    )
    unpaid = unpaid_payable_lines(merchant_id=merchant.pk)
    held = dict(
        unpaid.filter(open_hold_exists())
        .values("currency")
        .annotate(s=Sum("amount"))
        .values_list("currency", "s")
    )
    due_qs = eligible_lines(cutoff=cutoff, collected_only=collected_only, merchant_id=merchant.pk)
    due = dict(due_qs.values("currency").annotate(s=Sum("amount")).values_list("currency", "s"))
    total = dict(unpaid.values("currency").annotate(s=Sum("amount")).values_list("currency", "s"))
    payouts = Payout.objects.filter(merchant=merchant).exclude(status=Payout.Status.FAILED)
    in_flight = dict(
        payouts.exclude(status=Payout.Status.PAID)
        .values("currency")
        .annotate(s=Sum("amount"))
        .values_list("currency", "s")
    )
    paid = dict(
        payouts.filter(status=Payout.Status.PAID)
        .values("currency")
        .annotate(s=Sum("amount"))
        .values_list("currency", "s")
    )
    currencies = sorted(set(pending) | set(total) | set(in_flight) | set(paid))
    return [
        PayableBalance(
            currency=c,
            pending=-(pending.get(c) or 0),
            held=-(held.get(c) or 0),
            waiting=-((total.get(c) or 0) - (held.get(c) or 0) - (due.get(c) or 0)),
            due=-(due.get(c) or 0),
            in_flight=in_flight.get(c) or 0,
            paid_out=paid.get(c) or 0,
        )
        for c in currencies
    ]


# --- the netting statement -------------------------------------------------------------------


@dataclass(frozen=True)
class NettingAmounts:
    """What the merchant owes, what it earned, and the net (earned - owed), minor units."""

    currency: str
    owed: int
    earned: int

    @property
    def net(self) -> int:
        return self.earned - self.owed


@dataclass(frozen=True)
class NettingTotal(NettingAmounts):
    invoiced: int  # of owed: on the merchant's invoices (the issuer-receivable lines frozen at close)
    paid_out: int  # of earned: in a payout (standing payout items of the payable lines)
    held: int  # of earned: held out of payouts by an open hold (a dispute), not paid out


@dataclass(frozen=True)
class NettingCounterparty(NettingAmounts):
    merchant_id: int | None  # None: the network (its revenue share of the fees)
    name: str


@dataclass(frozen=True)
class NettingCampaign(NettingAmounts):
    campaign_id: int
    name: str
    issuer_name: str


@dataclass(frozen=True)
class NettingStatement:
    period_start: dt.date
    totals: list[NettingTotal]
    counterparties: list[NettingCounterparty]
    campaigns: list[NettingCampaign]


def _grouped(rows, key) -> dict:
    out: dict = {}
    for row in rows:
        owed, earned = out.get(key(row), (0, 0))
        out[key(row)] = (owed + row.get("owed", 0), earned + row.get("earned", 0))
    return out


def netting_statement_for(*, merchant: Merchant, period_start: dt.date) -> NettingStatement:
    """The merchant's month as issuer, publisher and partner at once: its own ledger lines
    locked into the month (the lines invoices and payouts are made of), netted.

    - owed: its issuer-receivable lines (what its invoice for the month bills), split by
      counterparty along the other lines of each posting: the publisher's share, a partner's
      reimbursement, the network's rest (so the split sums to the cent);
    - earned: minus its payable lines (publisher's share, partner's reimbursement), by the
      issuer that owes them;
    - credits (late voids, upheld disputes) are in the month they landed in, with their sign.
    """
    own = LedgerEntry.objects.filter(merchant=merchant, period_start=period_start).exclude(
        state=State.REVERSED
    )
    receivable = own.filter(account_kind=LedgerAccount.Kind.ISSUER_RECEIVABLE)
    payable = own.filter(account_kind__endswith="_payable")
    # owed, split by the counterpart lines of the same postings (never the merchant's own receivable)
    owed_rows = list(
        LedgerEntry.objects.filter(posting__in=receivable.values("posting_id"))
        .exclude(account_kind=LedgerAccount.Kind.ISSUER_RECEIVABLE)
        .values("merchant_id", "merchant__name", "currency", "posting__campaign_id")
        .annotate(owed=-Sum("amount"))
        .order_by()
    )
    earned_rows = list(
        payable.values("posting__issuer_id", "posting__issuer__name", "currency", "posting__campaign_id")
        .annotate(earned=-Sum("amount"))
        .order_by()
    )
    campaign_ids = {r["posting__campaign_id"] for r in owed_rows + earned_rows}
    campaigns = {c.pk: c for c in Campaign.objects.filter(pk__in=campaign_ids).select_related("merchant")}

    by_party = _grouped(owed_rows, lambda r: (r["merchant_id"], r["merchant__name"], r["currency"]))
    for (issuer_id, name, currency), (owed, earned) in _grouped(
        earned_rows, lambda r: (r["posting__issuer_id"], r["posting__issuer__name"], r["currency"])
    ).items():
        before = by_party.get((issuer_id, name, currency), (0, 0))
        by_party[(issuer_id, name, currency)] = (before[0] + owed, before[1] + earned)
    by_campaign = _grouped(owed_rows + earned_rows, lambda r: (r["posting__campaign_id"], r["currency"]))
    by_currency = _grouped(owed_rows + earned_rows, lambda r: r["currency"])

    invoiced = dict(
        receivable.filter(invoice__isnull=False)
        .values("currency")
        .annotate(s=Sum("amount"))
        .values_list("currency", "s")
    )
    standing = PayoutItem.objects.filter(ledger_entry_id=OuterRef("pk"), released=False)
    open_holds = PayoutHold.objects.filter(released_at__isnull=True)
    held_q = Q(Exists(open_holds.filter(ledger_entry_id=OuterRef("pk")))) | Q(
        Exists(open_holds.filter(redemption_id=OuterRef("posting__redemption_id")))
    )
    paid_out = dict(
        payable.filter(Exists(standing))
        .values("currency")
        .annotate(s=-Sum("amount"))
        .values_list("currency", "s")
    )
    held = dict(
        payable.exclude(Exists(standing))
        .filter(held_q)
        .values("currency")
        .annotate(s=-Sum("amount"))
        .values_list("currency", "s")
    )
    return NettingStatement(
        period_start=period_start,
        totals=[
            NettingTotal(
                currency=currency,
                owed=owed,
                earned=earned,
                invoiced=invoiced.get(currency) or 0,
                paid_out=paid_out.get(currency) or 0,
                held=held.get(currency) or 0,
            )
            for currency, (owed, earned) in sorted(by_currency.items())
        ],
        counterparties=[
            NettingCounterparty(
                currency=currency, owed=owed, earned=earned, merchant_id=party, name=name or ""
            )
            for (party, name, currency), (owed, earned) in sorted(
                by_party.items(), key=lambda item: (item[0][2], item[0][0] is not None, item[0][0] or 0)
            )
        ],
        campaigns=[
            NettingCampaign(
                currency=currency,
                owed=owed,
                earned=earned,
                campaign_id=campaign_id,
                name=campaigns[campaign_id].name,
                issuer_name=campaigns[campaign_id].merchant.name,
            )
            for (campaign_id, currency), (owed, earned) in sorted(by_campaign.items())
        ],
    )
