"""Writes of the ledger: charge a write-off, undo it on void, lock lines after the void window.

Guarantees:
- exactly one charge posting per billable write-off (attributed, inside the attribution
  window, not voided), whatever the retries or the concurrency: the redemption row is
  locked while deciding, and unique constraints back it up;
- at most one undo per charge: a *reversal* while the charge is pending (inside the void
  window), a *credit* once it is locked (it lands in the issuer's next open period);
- every posting's lines sum to zero, in the posting's currency (checked here and by a
  deferred constraint trigger at commit);
- a line joins a period only while that period is open: locking and crediting pick the
  issuer's earliest open month at or after the event's month, under the period's row lock,
  so a line can never slip into an invoice that was already frozen.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from attribution import services as attribution_services
from backend.api import ids
from backend.api.errors import CommonErrorCode, ErrorCollector, ServiceError
from backend.campaigns.models import Placement
from backend.merchants.models import Merchant
from backend.redemptions.models import Redemption

from .errors import BillingErrorCode
from .models import BillingPeriod, LedgerAccount, LedgerEntry, Posting
from .pricing import split_fee

Kind = LedgerAccount.Kind
State = LedgerEntry.State


class UnbalancedPosting(AssertionError):
    """A posting whose lines do not sum to zero: a bug, never an expected outcome."""


# --- periods -------------------------------------------------------------------------------


def month_start(value: dt.date) -> dt.date:
    return value.replace(day=1)


def next_month(period_start: dt.date) -> dt.date:
    return (period_start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_of(moment: dt.datetime, merchant: Merchant) -> dt.date:
    """The first day of the month ``moment`` falls in, in the merchant's time zone."""
    return month_start(timezone.localtime(moment, zoneinfo.ZoneInfo(merchant.timezone)).date())


def period_bounds(period_start: dt.date, merchant: Merchant) -> tuple[dt.datetime, dt.datetime]:
    """The half-open interval [start, end) of a month in the merchant's time zone."""
    tz = zoneinfo.ZoneInfo(merchant.timezone)
    start = dt.datetime.combine(period_start, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(next_month(period_start), dt.time.min, tzinfo=tz)
    return start, end


def lock_period(*, issuer_id: int, period_start: dt.date) -> BillingPeriod:
    """The issuer's period row for the month, created if missing, locked FOR UPDATE."""
    BillingPeriod.objects.bulk_create(
        [BillingPeriod(issuer_id=issuer_id, period_start=period_start)], ignore_conflicts=True
    )
    return BillingPeriod.objects.select_for_update().get(issuer_id=issuer_id, period_start=period_start)


def open_period(*, issuer_id: int, period_start: dt.date) -> BillingPeriod:
    """The issuer's earliest open period at or after ``period_start``, locked (in a transaction)."""
    while True:
        period = lock_period(issuer_id=issuer_id, period_start=period_start)
        if period.status == BillingPeriod.Status.OPEN:
            return period
        period_start = next_month(period_start)


# --- accounts and postings -------------------------------------------------------------------


def account_for(*, merchant_id: int | None, kind: str, currency: str) -> LedgerAccount:
    """The account of (owner, kind, currency), created on first use."""
    account = LedgerAccount.objects.filter(merchant_id=merchant_id, kind=kind, currency=currency).first()
    if account is None:
        LedgerAccount.objects.bulk_create(
            [LedgerAccount(merchant_id=merchant_id, kind=kind, currency=currency)], ignore_conflicts=True
        )
        account = LedgerAccount.objects.get(merchant_id=merchant_id, kind=kind, currency=currency)
    return account


def accounts_for(
    keys: set[tuple[int | None, str]], currency: str
) -> dict[tuple[int | None, str], LedgerAccount]:
    """The accounts of several (owner, kind) pairs in one currency: one query when they exist."""
    owners = Q()
    for merchant_id, kind in keys:
        owners |= Q(merchant_id=merchant_id, kind=kind)
    found = {(a.merchant_id, a.kind): a for a in LedgerAccount.objects.filter(owners, currency=currency)}
    for merchant_id, kind in keys - set(found):
        found[(merchant_id, kind)] = account_for(merchant_id=merchant_id, kind=kind, currency=currency)
    return found


def _write_lines(
    posting: Posting,
    amounts: list[tuple[int | None, str, int]],
    *,
    state: str,
    lock_after: dt.datetime,
    locked_at: dt.datetime | None = None,
    period_start: dt.date | None = None,
) -> list[LedgerEntry]:
    """Insert the posting's non-zero lines; ``amounts`` are (merchant id, account kind, amount)."""
    if sum(amount for _, _, amount in amounts) != 0:
        raise UnbalancedPosting(f"posting {posting.pk} lines {amounts} do not sum to zero")
    amounts = [row for row in amounts if row[2] != 0]
    accounts = accounts_for({(merchant_id, kind) for merchant_id, kind, _ in amounts}, posting.currency)
    lines = [
        LedgerEntry(
            posting=posting,
            account=accounts[(merchant_id, kind)],
            merchant_id=merchant_id,
            issuer_id=posting.issuer_id,
            account_kind=kind,
            amount=amount,
            currency=posting.currency,
            state=state,
            lock_after=lock_after,
            locked_at=locked_at,
            period_start=period_start,
        )
        for merchant_id, kind, amount in amounts
    ]
    return LedgerEntry.objects.bulk_create(lines)


def charge_redemption(*, redemption_id: int) -> Posting | None:
    """The charge posting of a billable write-off, created exactly once.

    Billable: the attribution record is inside its attribution window and the redemption is
    still verified. The issuer's receivable is debited with the fee; the publisher's payable
    is credited with its floored share and the platform's revenue with the remainder.
    Returns None when there is nothing to charge (rejected, voided, or not attributed).
    """
    with transaction.atomic():
        redemption = Redemption.objects.select_for_update().filter(pk=redemption_id).first()
        if redemption is None:
            return None
        existing = Posting.objects.filter(redemption_id=redemption_id, kind=Posting.Kind.CHARGE).first()
        if existing is not None or redemption.status != Redemption.Status.VERIFIED:
            return existing
        record = attribution_services.record_for_redemption(redemption_id=redemption_id)
        if record is None or not record.in_attribution_window or record.voided_at is not None:
            return None
        terms = Placement.objects.filter(pk=record.placement_id).values(
            "publisher_share_bps", "campaign__void_window_seconds"
        )[0]
        split = split_fee(record.fee_amount, terms["publisher_share_bps"])
        posting = Posting.objects.create(
            kind=Posting.Kind.CHARGE,
            redemption_id=redemption_id,
            issuer_id=record.issuer_id,
            publisher_id=record.publisher_id,
            campaign_id=record.campaign_id,
            currency=record.currency,
            fee_amount=split.fee,
            occurred_at=record.redeemed_at,
        )
        lock_after = record.redeemed_at + dt.timedelta(seconds=terms["campaign__void_window_seconds"])
        _write_lines(
            posting,
            [
                (record.issuer_id, Kind.ISSUER_RECEIVABLE, split.fee),
                (record.publisher_id, Kind.PUBLISHER_PAYABLE, -split.publisher),
                (None, Kind.PLATFORM_REVENUE, -split.platform),
            ],
            state=State.PENDING,
            lock_after=lock_after,
        )
        return posting


def undo_charge(*, redemption_id: int, now: dt.datetime | None = None) -> Posting | None:
    """Undo the charge of a voided write-off, exactly once.

    While the charge is pending its lines and the reversal's are marked ``reversed`` (never
    billed). Once locked (or invoiced, or paid) the undo is a *credit*: opposite lines, locked
    at once, in the issuer's earliest open period at or after the void's month.
    Returns None when nothing was charged (the charge handler then sees the void and skips).
    """
    now = now or timezone.now()
    with transaction.atomic():
        redemption = Redemption.objects.select_for_update().filter(pk=redemption_id).first()
        if redemption is None or redemption.status != Redemption.Status.VOIDED:
            return None
        charge = (
            Posting.objects.select_related("issuer")
            .filter(redemption_id=redemption_id, kind=Posting.Kind.CHARGE)
            .first()
        )
        if charge is None:
            return None
        existing = Posting.objects.filter(reverses=charge).first()
        if existing is not None:
            return existing
        lines = list(LedgerEntry.objects.select_for_update().filter(posting=charge).order_by("id"))
        pending = [line for line in lines if line.state == State.PENDING]
        if pending and len(pending) != len(lines):
            raise AssertionError(f"posting {charge.pk} has lines in different states")
        voided_at = redemption.voided_at or now
        kind = Posting.Kind.REVERSAL if pending or not lines else Posting.Kind.CREDIT
        undo = Posting.objects.create(
            kind=kind,
            redemption_id=redemption_id,
            issuer_id=charge.issuer_id,
            publisher_id=charge.publisher_id,
            campaign_id=charge.campaign_id,
            currency=charge.currency,
            fee_amount=-charge.fee_amount,
            occurred_at=voided_at,
            reverses=charge,
            reason="void",
        )
        amounts = [(line.merchant_id, line.account_kind, -line.amount) for line in lines]
        if kind == Posting.Kind.REVERSAL:
            LedgerEntry.objects.filter(posting=charge, state=State.PENDING).update(state=State.REVERSED)
            _write_lines(undo, amounts, state=State.REVERSED, lock_after=voided_at)
        else:
            period = open_period(issuer_id=charge.issuer_id, period_start=month_of(voided_at, charge.issuer))
            _write_lines(
                undo,
                amounts,
                state=State.LOCKED,
                lock_after=voided_at,
                locked_at=now,
                period_start=period.period_start,
            )
        return undo


def lock_due_entries(*, now: dt.datetime | None = None, batch_size: int = 5000) -> int:
    """Lock the pending lines whose void window has passed; returns how many lines it locked.

    Each line joins the issuer's earliest open period at or after the write-off's month.
    Safe to run concurrently and repeatedly: the UPDATE only moves lines still pending.
    """
    now = now or timezone.now()
    due = list(
        LedgerEntry.objects.filter(state=State.PENDING, lock_after__lte=now)
        .order_by("lock_after", "id")
        .values_list("posting_id", "issuer_id", "posting__occurred_at")[:batch_size]
    )
    issuers = {m.pk: m for m in Merchant.objects.filter(pk__in={issuer_id for _, issuer_id, _ in due})}
    groups: dict[tuple[int, dt.date], set[int]] = {}
    for posting_id, issuer_id, occurred_at in due:
        groups.setdefault((issuer_id, month_of(occurred_at, issuers[issuer_id])), set()).add(posting_id)
    locked = 0
    for (issuer_id, month), posting_ids in sorted(groups.items()):
        with transaction.atomic():
            period = open_period(issuer_id=issuer_id, period_start=month)
            locked += LedgerEntry.objects.filter(
                posting_id__in=posting_ids, state=State.PENDING, lock_after__lte=now
            ).update(state=State.LOCKED, locked_at=now, period_start=period.period_start)
    return locked


DISPUTE_REASON_MAX = 180


def dispute_charge(*, redemption_id: int, reason: str, now: dt.datetime | None = None) -> Posting:
    """Credit a locked (or invoiced, or paid) charge an operator upheld a dispute about, once.

    The write-off stays verified; the credit lands in the issuer's next open period, like a
    late void. A charge still inside its void window is voided at the till instead.
    """
    reason = (reason or "").strip()
    errors = ErrorCollector()
    errors.require_text("reason", reason, max_length=DISPUTE_REASON_MAX)
    errors.raise_if_any()
    now = now or timezone.now()
    with transaction.atomic():
        Redemption.objects.select_for_update().filter(pk=redemption_id).first()
        charge = (
            Posting.objects.select_related("issuer")
            .filter(redemption_id=redemption_id, kind=Posting.Kind.CHARGE)
            .first()
        )
        if charge is None:
            raise ServiceError.not_found("redemption_id", "Charge")
        if Posting.objects.filter(reverses=charge).exists():
            raise ServiceError.single(
                CommonErrorCode.INVALID_STATE, "This charge was already undone.", "redemption_id"
            )
        lines = list(LedgerEntry.objects.select_for_update().filter(posting=charge).order_by("id"))
        if any(line.state == State.PENDING for line in lines):
            raise ServiceError.single(
                BillingErrorCode.STILL_VOIDABLE,
                "Inside the void window: void it at the till.",
                "redemption_id",
            )
        credit = Posting.objects.create(
            kind=Posting.Kind.CREDIT,
            redemption_id=redemption_id,
            issuer_id=charge.issuer_id,
            publisher_id=charge.publisher_id,
            campaign_id=charge.campaign_id,
            currency=charge.currency,
            fee_amount=-charge.fee_amount,
            occurred_at=now,
            reverses=charge,
            reason=f"dispute: {reason}",
        )
        period = open_period(issuer_id=charge.issuer_id, period_start=month_of(now, charge.issuer))
        _write_lines(
            credit,
            [(line.merchant_id, line.account_kind, -line.amount) for line in lines],
            state=State.LOCKED,
            lock_after=now,
            locked_at=now,
            period_start=period.period_start,
        )
        return credit


def announce_invoice(invoice, topic: str) -> None:
    """``invoice.*`` webhooks to the issuer, in the caller's transaction."""
    from backend.webhooks import events as webhook_events

    webhook_events.announce(
        topic=topic,
        recipients=[
            (
                invoice.issuer_id,
                {
                    "invoice": {
                        "id": ids.encode("BillingInvoice", invoice.pk),
                        "periodStart": invoice.period_start.isoformat(),
                        "currency": invoice.currency,
                        "amount": invoice.amount,
                        "status": invoice.status.upper(),
                    }
                },
            )
        ],
        ordering_key=f"invoice:{invoice.pk}",
    )
