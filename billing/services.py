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
from collections.abc import Sequence

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from attribution import selectors as attribution_selectors
from attribution import services as attribution_services
from backend.api import ids
from backend.api.errors import CommonErrorCode, ErrorCollector, ServiceError
from backend.api.rows import insert_instances
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


def _charge_amounts(record, split) -> list[tuple[int | None, str, int]]:
    """The lines of a charge: the issuer owes the fee and, at a partner's store, the
    reimbursement; the publisher earns its share, the platform the rest, the partner its
    reimbursement (discount given, capped, plus the handling fee)."""
    owed = record.reimbursement_amount + record.handling_fee_amount
    amounts = [
        (record.issuer_id, Kind.ISSUER_RECEIVABLE, split.fee + owed),
        (record.publisher_id, Kind.PUBLISHER_PAYABLE, -split.publisher),
        (None, Kind.PLATFORM_REVENUE, -split.platform),
    ]
    if owed:
        amounts.append((record.partner_id, Kind.PARTNER_PAYABLE, -owed))
    return amounts


def _charge_posting(record, split) -> Posting:
    return Posting(
        kind=Posting.Kind.CHARGE,
        redemption_id=record.redemption_id,
        issuer_id=record.issuer_id,
        publisher_id=record.publisher_id,
        campaign_id=record.campaign_id,
        currency=record.currency,
        fee_amount=split.fee,
        partner_id=record.partner_id,
        reimbursement_amount=record.reimbursement_amount,
        handling_fee_amount=record.handling_fee_amount,
        occurred_at=record.redeemed_at,
    )


def _undo_posting(charge: Posting, *, kind: str, occurred_at: dt.datetime, reason: str) -> Posting:
    """The posting that undoes ``charge`` whole: fee, share and reimbursement."""
    return Posting.objects.create(
        kind=kind,
        redemption_id=charge.redemption_id,
        issuer_id=charge.issuer_id,
        publisher_id=charge.publisher_id,
        campaign_id=charge.campaign_id,
        currency=charge.currency,
        fee_amount=-charge.fee_amount,
        partner_id=charge.partner_id,
        reimbursement_amount=-charge.reimbursement_amount,
        handling_fee_amount=-charge.handling_fee_amount,
        occurred_at=occurred_at,
        reverses=charge,
        reason=reason,
    )


def charge_redemption(*, redemption_id: int) -> Posting | None:
    """The charge posting of a billable write-off, created exactly once.

    Billing reacts, it does not create: it posts from the attribution record attribution
    announced (``attribution.recorded``) and returns None while there is none.
    Billable: the attribution record is inside its attribution window and the redemption is
    still verified. The issuer's receivable is debited with the fee; the publisher's payable
    is credited with its floored share and the platform's revenue with the remainder. At a
    partner's store the issuer's receivable also carries the reimbursement, credited to the
    partner's payable, in the same posting. Returns None when there is nothing to charge
    (rejected, voided, not attributed, or nothing owed: a campaign without a fee, written
    off at the issuer's own store, posts nothing, and reconcile expects nothing).
    """
    with transaction.atomic():
        redemption = Redemption.objects.select_for_update(no_key=True).filter(pk=redemption_id).first()
        if redemption is None:
            return None
        existing = Posting.objects.filter(redemption_id=redemption_id, kind=Posting.Kind.CHARGE).first()
        if existing is not None or redemption.status != Redemption.Status.VERIFIED:
            return existing
        record = attribution_selectors.record_of(redemption_id=redemption_id)
        if record is None or not record.in_attribution_window or record.voided_at is not None:
            return None
        terms = Placement.objects.filter(pk=record.placement_id).values(
            "publisher_share_bps", "campaign__void_window_seconds"
        )[0]
        split = split_fee(record.fee_amount, terms["publisher_share_bps"])
        if split.fee == 0 and record.reimbursement_total == 0:
            return None
        posting = _charge_posting(record, split)
        posting.save()
        lock_after = record.redeemed_at + dt.timedelta(seconds=terms["campaign__void_window_seconds"])
        _write_lines(posting, _charge_amounts(record, split), state=State.PENDING, lock_after=lock_after)
        return posting


def charge_redemptions(*, redemption_ids: Sequence[int]) -> list[Posting]:
    """The batch form of :func:`charge_redemption`, with the same guarantees (the redemption
    rows are locked, in id order, while deciding); the postings this call created.

    A handful of statements for the whole batch: the records, the placements' terms, the
    accounts, the postings and their lines each in one query."""
    ids = sorted(set(redemption_ids))
    with transaction.atomic():
        locked = list(
            Redemption.objects.select_for_update(no_key=True)
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", "status")
        )
        charged = set(
            Posting.objects.filter(redemption_id__in=ids, kind=Posting.Kind.CHARGE).values_list(
                "redemption_id", flat=True
            )
        )
        todo = [pk for pk, status in locked if status == Redemption.Status.VERIFIED and pk not in charged]
        if not todo:
            return []
        records = attribution_selectors.records_of(redemption_ids=todo)
        billable = [
            records[pk]
            for pk in todo
            if pk in records and records[pk].in_attribution_window and records[pk].voided_at is None
        ]
        if not billable:
            return []
        terms = {
            t["pk"]: t
            for t in Placement.objects.filter(pk__in={r.placement_id for r in billable}).values(
                "pk", "publisher_share_bps", "campaign__void_window_seconds"
            )
        }
        splits = {
            r.redemption_id: split_fee(r.fee_amount, terms[r.placement_id]["publisher_share_bps"])
            for r in billable
        }
        # nothing owed (a zero fee at the issuer's own store) posts nothing
        billable = [r for r in billable if splits[r.redemption_id].fee > 0 or r.reimbursement_total > 0]
        if not billable:
            return []
        postings = insert_instances(Posting, [_charge_posting(r, splits[r.redemption_id]) for r in billable])
        planned = []
        for record, posting in zip(billable, postings, strict=True):
            amounts = _charge_amounts(record, splits[record.redemption_id])
            if sum(amount for _, _, amount in amounts) != 0:
                raise UnbalancedPosting(f"posting {posting.pk} lines {amounts} do not sum to zero")
            lock_after = record.redeemed_at + dt.timedelta(
                seconds=terms[record.placement_id]["campaign__void_window_seconds"]
            )
            planned += [(posting, m, kind, amount, lock_after) for m, kind, amount in amounts if amount != 0]
        accounts = {}
        for currency in {p.currency for p, *_ in planned}:
            keys = {(m, kind) for p, m, kind, _, _ in planned if p.currency == currency}
            accounts.update({(m, kind, currency): a for (m, kind), a in accounts_for(keys, currency).items()})
        # Three lines a write-off, the outbox worker's busiest insert: one INSERT from arrays
        # (insert_instances), not bulk_create, whose per-value preparation cost more CPU than
        # PostgreSQL spent writing them.
        insert_instances(
            LedgerEntry,
            [
                LedgerEntry(
                    posting=posting,
                    account=accounts[(m, kind, posting.currency)],
                    merchant_id=m,
                    issuer_id=posting.issuer_id,
                    account_kind=kind,
                    amount=amount,
                    currency=posting.currency,
                    state=State.PENDING,
                    lock_after=lock_after,
                )
                for posting, m, kind, amount, lock_after in planned
            ],
        )
        return postings


def undo_charge(*, redemption_id: int, now: dt.datetime | None = None) -> Posting | None:
    """Undo the charge of a voided write-off, exactly once.

    While the charge is pending its lines and the reversal's are marked ``reversed`` (never
    billed). Once locked (or invoiced, or paid) the undo is a *credit*: opposite lines, locked
    at once, in the issuer's earliest open period at or after the void's month.
    Returns None when nothing was charged (the charge handler then sees the void and skips).
    """
    now = now or timezone.now()
    with transaction.atomic():
        redemption = Redemption.objects.select_for_update(no_key=True).filter(pk=redemption_id).first()
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
        undo = _undo_posting(charge, kind=kind, occurred_at=voided_at, reason="void")
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


LOCK_BATCH_SIZE = 5000


def lock_due_entries(
    *, now: dt.datetime | None = None, batch_size: int = LOCK_BATCH_SIZE, max_batches: int | None = None
) -> int:
    """Lock every pending line whose void window has passed; returns how many lines it locked.

    Drains everything due, ``batch_size`` lines at a time, each batch its own transaction (so
    a crash loses at most one batch's work, and locks are held briefly). Each line joins the
    issuer's earliest open period at or after the write-off's month: its own month, since
    the close waits for the month's void windows (billing/closing.py). Safe to run
    concurrently and repeatedly: rows are claimed with SKIP LOCKED and only pending ones move.
    """
    now = now or timezone.now()
    locked = batches = 0
    while max_batches is None or batches < max_batches:
        claimed, done = _lock_batch(now=now, batch_size=batch_size)
        locked += done
        batches += 1
        if claimed < batch_size:
            break
    return locked


def _lock_batch(*, now: dt.datetime, batch_size: int) -> tuple[int, int]:
    """One transaction: claim up to ``batch_size`` due lines, group them by (issuer, month)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            # The month in the issuer's own time zone is computed by PostgreSQL, in the claim.
            cursor.execute(
                """
                SELECT e.id, e.issuer_id,
                       date_trunc('month', p.occurred_at AT TIME ZONE m.timezone)::date,
                       CASE WHEN e.account_kind = 'issuer_receivable' AND p.kind = 'charge'
                            THEN p.redemption_id END
                FROM billing_ledgerentry e
                JOIN billing_posting p ON p.id = e.posting_id
                JOIN merchants_merchant m ON m.id = e.issuer_id
                WHERE e.state = 'pending' AND e.lock_after <= %s
                ORDER BY e.lock_after, e.id
                LIMIT %s
                FOR UPDATE OF e SKIP LOCKED
                """,
                [now, batch_size],
            )
            rows = cursor.fetchall()
        groups: dict[tuple[int, dt.date], tuple[list[int], list[int]]] = {}
        for line_id, issuer_id, month, charged_redemption in rows:
            line_ids, redemption_ids = groups.setdefault((issuer_id, month), ([], []))
            line_ids.append(line_id)
            if charged_redemption is not None:
                redemption_ids.append(charged_redemption)
        locked = 0
        for (issuer_id, month), (line_ids, redemption_ids) in sorted(groups.items()):
            period = open_period(issuer_id=issuer_id, period_start=month)
            locked += LedgerEntry.objects.filter(id__in=line_ids, state=State.PENDING).update(
                state=State.LOCKED, locked_at=now, period_start=period.period_start
            )
            # The write-off's record names its month too (the record-level data).
            attribution_services.mark_billing(redemption_ids=redemption_ids, period_start=period.period_start)
        return len(rows), locked


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
        credit = _undo_posting(charge, kind=Posting.Kind.CREDIT, occurred_at=now, reason=f"dispute: {reason}")
        attribution_services.credit_record_fee(redemption_id=redemption_id, amount=charge.fee_amount)
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
