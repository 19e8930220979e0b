"""Reads of billing, always scoped to the caller's merchant first.

A merchant sees the lines of its own accounts only (its receivable as an issuer, its
payable as a publisher); the platform's revenue lines are never shown to a merchant.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum

from backend.merchants.models import Merchant

from .models import BillingPeriod, Invoice, LedgerAccount, LedgerEntry, Posting

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
