"""Payouts: merchants are paid what they earned, from their locked payable lines.

A *payable* line is a line of any ``*_payable`` ledger account (the publisher's share today,
a partner's reimbursement tomorrow): a credit (< 0) is money earned, a debit (> 0) is money
taken back (a void after lock, an upheld dispute). A run pays, per merchant and currency,
the sum of its *eligible* lines, in one payout through the merchant's payout account:

- an earned line is eligible once it is locked (or invoiced, or paid) and was locked at or
  before the run's cutoff (NET-n: ``PAYOUTS_NET_DAYS`` before the run's day), and, when the
  run requires collection (``PAYOUTS_REQUIRE_COLLECTED``), once the issuer paid its invoice;
- a taken-back line is eligible as soon as it is locked: it nets against the earnings, and a
  balance that is negative (or below the minimum) simply waits for the next run;
- a held line (:func:`hold_lines_for`) is never eligible until its hold is released.

Safe to re-run after a crash at any step, like period close:

1. *Plan* (one transaction, under an advisory lock): the run row (its key is the day, or
   given), one Payout per merchant and currency with its amount frozen, and one PayoutItem
   per line it pays. A line has at most one standing item (a unique constraint): nothing is
   ever paid twice, whatever the re-runs or the concurrency.
2. *Send* each pending payout (a session advisory lock per payout): the gateway's
   ``submit`` is idempotent on the payout's key (Stripe: looked up by ``transfer_group``
   before creating with the same ``Idempotency-Key``); its receipt is stored at once.
   A refusal (a bad connected account) fails the payout and releases its lines.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from backend.api.errors import CommonErrorCode, ErrorCollector, ServiceError
from backend.merchants.models import Merchant

from .errors import BillingErrorCode
from .models import LedgerEntry, Payout, PayoutAccount, PayoutHold, PayoutItem, PayoutRun
from .payout_gateways import (
    PayoutGateway,
    PayoutGatewayUnavailable,
    PayoutOrder,
    PayoutRefused,
    bank_batch_csv,
    gateway_for,
)
from .selectors import (  # noqa: F401 (re-exported: the lines a run pays, for callers and tests)
    PAYABLE_KINDS,
    SETTLED_STATES,
    eligible_lines,
    open_hold_exists,
    unpaid_payable_lines,
)

logger = logging.getLogger(__name__)
State = LedgerEntry.State
Method = PayoutAccount.Method

HOLD_REASON_MAX = 200

_ADVISORY_NAMESPACE = 0x5041594F  # "PAYO"


# --- settings ----------------------------------------------------------------------------


def net_days() -> int:
    return int(getattr(settings, "PAYOUTS_NET_DAYS", 15))


def require_collected() -> bool:
    return bool(getattr(settings, "PAYOUTS_REQUIRE_COLLECTED", True))


def network_minimum(currency: str) -> int:
    """The network's minimum payout in ``currency``, minor units."""
    per_currency = getattr(settings, "PAYOUTS_MINIMUM_AMOUNTS", {}) or {}
    return int(per_currency.get(currency.upper(), getattr(settings, "PAYOUTS_MINIMUM_AMOUNT", 1000)))


def minimum_for(account: PayoutAccount, currency: str) -> int:
    """A payout is made only from this amount up: the account's own minimum, never below the network's."""
    return max(account.minimum_amount or 0, network_minimum(currency))


def is_payout_day(day: dt.date) -> bool:
    """The schedule (``PAYOUTS_SCHEDULE``): monthly on ``PAYOUTS_DAY_OF_MONTH``, weekly on
    ``PAYOUTS_WEEKDAY`` (0 = Monday), or daily."""
    schedule = getattr(settings, "PAYOUTS_SCHEDULE", "monthly")
    if schedule == "daily":
        return True
    if schedule == "weekly":
        return day.weekday() == int(getattr(settings, "PAYOUTS_WEEKDAY", 0))
    return day.day == int(getattr(settings, "PAYOUTS_DAY_OF_MONTH", 1))


def cutoff_for(day: dt.date) -> dt.datetime:
    """NET-n: a run on ``day`` pays earnings locked at least n days before the day began (UTC)."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC) - dt.timedelta(days=net_days())


# --- holds -------------------------------------------------------------------------------


def hold_lines_for(
    *, reason: str, redemption_id: int | None = None, ledger_entry_ids: Sequence[int] = ()
) -> list[PayoutHold]:
    """Keep lines out of every payout until released; the open holds (idempotent).

    ``redemption_id``: every payable line of every posting about that write-off, including
    lines posted after the hold (an upheld dispute's credit). ``ledger_entry_ids``: those lines.
    A line already in a payout stays paid (a later credit is netted by the next payout).
    Serialized with payout planning, so a run never pays a line held before it committed.
    """
    reason = (reason or "").strip()
    errors = ErrorCollector()
    errors.require_text("reason", reason, max_length=HOLD_REASON_MAX)
    if redemption_id is None and not ledger_entry_ids:
        errors.add("redemption_id", CommonErrorCode.REQUIRED, "Name a write-off or ledger lines to hold.")
    errors.raise_if_any()
    with transaction.atomic():
        _lock_planning()
        targets = [{"redemption_id": redemption_id}] if redemption_id is not None else []
        targets += [{"ledger_entry_id": pk} for pk in sorted(set(ledger_entry_ids))]
        holds = []
        for target in targets:
            hold = PayoutHold.objects.filter(released_at__isnull=True, **target).first()
            holds.append(hold or PayoutHold.objects.create(reason=reason, **target))
        return holds


def release_hold(
    *, redemption_id: int | None = None, ledger_entry_ids: Sequence[int] = (), reason: str = ""
) -> int:
    """Release the open holds on a write-off and/or lines; how many it released (idempotent).

    The lines join the next run that finds them eligible."""
    targets = Q(pk__in=[])
    if redemption_id is not None:
        targets |= Q(redemption_id=redemption_id)
    if ledger_entry_ids:
        targets |= Q(ledger_entry_id__in=list(ledger_entry_ids))
    with transaction.atomic():
        return PayoutHold.objects.filter(targets, released_at__isnull=True).update(
            released_at=timezone.now(), release_reason=(reason or "").strip()[:HOLD_REASON_MAX]
        )


# --- plan ----------------------------------------------------------------------------------


def _lock_planning() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [_ADVISORY_NAMESPACE])


def payout_key(*, run_key: str, merchant_id: int, currency: str) -> str:
    return f"cn-po-{run_key}-{merchant_id}-{currency.lower()}"


def _destination(account: PayoutAccount) -> str:
    if account.method == Method.STRIPE_CONNECT:
        return account.stripe_account_id
    return account.bank_account_number


def plan_run(
    *,
    key: str,
    cutoff: dt.datetime,
    collected_only: bool,
    merchant_id: int | None = None,
    currency: str | None = None,
    now: dt.datetime | None = None,
) -> PayoutRun:
    """The run of ``key`` with its payouts, planned once (a re-run returns it unchanged).

    A merchant and currency is paid when it has a payout account and its eligible lines sum
    to at least the minimum; otherwise its lines wait (a negative balance included)."""
    now = now or timezone.now()
    with transaction.atomic():
        _lock_planning()
        run, _ = PayoutRun.objects.get_or_create(
            key=key, defaults={"cutoff": cutoff, "require_collected": collected_only}
        )
        if run.planned_at is not None:
            return run
        lines = eligible_lines(
            cutoff=run.cutoff, collected_only=run.require_collected, merchant_id=merchant_id
        )
        if currency:
            lines = lines.filter(currency=currency)
        rows = list(lines.values_list("pk", "merchant_id", "currency", "amount"))
        groups: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
        for pk, merchant, currency, amount in rows:
            groups[(merchant, currency)].append((pk, amount))
        accounts = {
            a.merchant_id: a for a in PayoutAccount.objects.filter(merchant_id__in={m for m, _ in groups})
        }
        for (merchant, currency), lines in sorted(groups.items()):
            account = accounts.get(merchant)
            earned = -sum(amount for _, amount in lines)
            if account is None or earned < minimum_for(account, currency):
                continue
            payout = Payout.objects.create(
                run=run,
                merchant_id=merchant,
                currency=currency,
                amount=earned,
                line_count=len(lines),
                method=account.method,
                destination=_destination(account),
                key=payout_key(run_key=run.key, merchant_id=merchant, currency=currency),
            )
            PayoutItem.objects.bulk_create(
                PayoutItem(payout=payout, ledger_entry_id=pk, amount=amount) for pk, amount in lines
            )
        run.planned_at = now
        run.save(update_fields=["planned_at"])
        return run


# --- send ----------------------------------------------------------------------------------


@contextmanager
def _payout_lock(payout_id: int):
    """A session advisory lock: one sender per payout, while its steps commit one by one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_ADVISORY_NAMESPACE, payout_id % 2**31])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_ADVISORY_NAMESPACE, payout_id % 2**31])


GatewayFactory = Callable[[str], PayoutGateway]


def send_payout(*, payout: Payout, gateways: GatewayFactory = gateway_for) -> Payout:
    """Submit one pending payout to its gateway, once whatever the retries."""
    with _payout_lock(payout.pk):
        payout.refresh_from_db()
        if payout.status != Payout.Status.PENDING:
            return payout
        order = PayoutOrder(
            key=payout.key,
            merchant_id=payout.merchant_id,
            amount=payout.amount,
            currency=payout.currency,
            destination=payout.destination,
            description=f"Coupon network payout {payout.run.key} ({payout.line_count} lines)",
        )
        try:
            receipt = gateways(payout.method).submit(order)
        except PayoutRefused as exc:
            with transaction.atomic():
                payout.status = Payout.Status.FAILED
                payout.failure = str(exc)[:300]
                payout.save(update_fields=["status", "failure"])
                payout.items.update(released=True)  # its lines wait for the next run
            logger.error("billing.payout_failed", extra={"payout_id": payout.pk, "reason": payout.failure})
            return payout
        now = timezone.now()
        fields = ["status"]
        if payout.method == Method.STRIPE_CONNECT:
            payout.stripe_transfer_id = receipt.reference
            fields.append("stripe_transfer_id")
        payout.submitted_at = now
        fields.append("submitted_at")
        if receipt.settled:
            payout.status, payout.paid_at = Payout.Status.PAID, now
            fields.append("paid_at")
        else:
            payout.status = Payout.Status.SUBMITTED
        payout.save(update_fields=fields)
        logger.info("billing.payout_sent", extra={"payout_id": payout.pk, "status": payout.status})
        return payout


def send_run(*, run: PayoutRun, gateways: GatewayFactory = gateway_for) -> PayoutRun:
    """Send the run's pending payouts; the run is finished once none is pending."""
    for payout in run.payouts.filter(status=Payout.Status.PENDING).select_related("run").order_by("id"):
        try:
            send_payout(payout=payout, gateways=gateways)
        except PayoutGatewayUnavailable as exc:  # stays pending: the hourly task resumes it
            logger.warning(
                "billing.payout_gateway_unavailable", extra={"payout_id": payout.pk, "error": str(exc)}
            )
    if not run.payouts.filter(status=Payout.Status.PENDING).exists() and run.finished_at is None:
        run.finished_at = timezone.now()
        run.save(update_fields=["finished_at"])
    return run


def run_payouts(
    *,
    day: dt.date | None = None,
    key: str | None = None,
    cutoff: dt.datetime | None = None,
    collected_only: bool | None = None,
    merchant_id: int | None = None,
    gateways: GatewayFactory = gateway_for,
) -> PayoutRun:
    """Plan (once) and send the run of ``day`` (by default today, UTC). Idempotent."""
    day = day or timezone.now().date()
    run = plan_run(
        key=key or day.isoformat(),
        cutoff=cutoff or cutoff_for(day),
        collected_only=require_collected() if collected_only is None else collected_only,
        merchant_id=merchant_id,
    )
    return send_run(run=run, gateways=gateways)


def resume_unfinished_runs(*, gateways: GatewayFactory = gateway_for) -> int:
    """Send what a crashed run left pending; how many runs it finished."""
    finished = 0
    for run in PayoutRun.objects.filter(finished_at__isnull=True, planned_at__isnull=False).order_by("id"):
        if send_run(run=run, gateways=gateways).finished_at is not None:
            finished += 1
    return finished


def confirm_bank_payouts(*, run_key: str, now: dt.datetime | None = None) -> int:
    """Finance uploaded the run's bank batch file and the bank executed it: submitted -> paid."""
    now = now or timezone.now()
    return Payout.objects.filter(
        run__key=run_key, method=Method.BANK_TRANSFER, status=Payout.Status.SUBMITTED
    ).update(status=Payout.Status.PAID, paid_at=now)


def bank_batch_for(*, run_key: str) -> str:
    """The run's bank batch file (CSV): its bank-transfer payouts, submitted or paid."""
    payouts = (
        Payout.objects.filter(
            run__key=run_key,
            method=Method.BANK_TRANSFER,
            status__in=[Payout.Status.SUBMITTED, Payout.Status.PAID],
        )
        .select_related("merchant")
        .order_by("id")
    )
    accounts = {
        a.merchant_id: a
        for a in PayoutAccount.objects.filter(merchant_id__in={p.merchant_id for p in payouts})
    }
    return bank_batch_csv(
        {
            "payout_key": p.key,
            "merchant": p.merchant.name,
            "account_holder": accounts[p.merchant_id].bank_account_holder,
            "account_number": p.destination,
            "bank_code": accounts[p.merchant_id].bank_code,
            "currency": p.currency,
            "amount_minor": p.amount,
            "reference": p.key,
        }
        for p in payouts
    )


# --- payout accounts -----------------------------------------------------------------------

_ALNUM = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def payout_account_set(
    *,
    merchant: Merchant,
    method: str,
    stripe_account_id: str = "",
    bank_account_holder: str = "",
    bank_account_number: str = "",
    bank_code: str = "",
    minimum_amount: int | None = None,
) -> PayoutAccount:
    """Create or replace the merchant's payout account; bad details write nothing.

    Future payouts use it; a payout already planned keeps its destination."""
    stripe_account_id = (stripe_account_id or "").strip()
    bank_account_holder = (bank_account_holder or "").strip()
    bank_account_number = (bank_account_number or "").replace(" ", "").upper()
    bank_code = (bank_code or "").replace(" ", "").upper()
    errors = ErrorCollector()
    if method == Method.STRIPE_CONNECT:
        rest = stripe_account_id.removeprefix("acct_")
        if not stripe_account_id.startswith("acct_") or not rest or len(rest) > 50 or set(rest) - _ALNUM:
            errors.add(
                "stripe_account_id", BillingErrorCode.BAD_ACCOUNT, "A Stripe connected account id, acct_..."
            )
        bank_account_holder = bank_account_number = bank_code = ""
    elif method == Method.BANK_TRANSFER:
        errors.require_text("bank_account_holder", bank_account_holder, max_length=140)
        if not 4 <= len(bank_account_number) <= 34 or set(bank_account_number) - _ALNUM:
            errors.add(
                "bank_account_number",
                BillingErrorCode.BAD_ACCOUNT,
                "An IBAN or account number: 4-34 letters or digits.",
            )
        if not 4 <= len(bank_code) <= 11 or set(bank_code) - _ALNUM:
            errors.add(
                "bank_code",
                BillingErrorCode.BAD_ACCOUNT,
                "A BIC/SWIFT or routing code: 4-11 letters or digits.",
            )
        stripe_account_id = ""
    else:
        errors.add("method", CommonErrorCode.INVALID, "STRIPE_CONNECT or BANK_TRANSFER.")
    if minimum_amount is not None:
        floor = network_minimum(merchant.default_currency)
        if minimum_amount < floor:
            errors.add(
                "minimum_amount",
                BillingErrorCode.BELOW_MINIMUM,
                f"A payout minimum below the network's ({floor} minor units) is not allowed.",
            )
    errors.raise_if_any()
    account, _ = PayoutAccount.objects.update_or_create(
        merchant=merchant,
        defaults={
            "method": method,
            "stripe_account_id": stripe_account_id,
            "bank_account_holder": bank_account_holder,
            "bank_account_number": bank_account_number,
            "bank_code": bank_code,
            "minimum_amount": minimum_amount,
        },
    )
    return account


# --- a payout on request --------------------------------------------------------------------

REQUEST_KEY_MAX = 64


def request_payout(*, merchant: Merchant, currency: str, idempotency_key: str) -> Payout:
    """Pay the merchant's due balance in ``currency`` now, outside the schedule (same rules:
    NET-n, collection, holds, the minimum). Idempotent: the same key answers the same payout.

    The payout is planned here and sent by a Celery task after commit (the hourly task
    resumes it if that task is lost). Below the minimum, or nothing due: BELOW_MINIMUM, and
    nothing is written."""
    currency = (currency or "").strip().upper()
    idempotency_key = (idempotency_key or "").strip()
    errors = ErrorCollector()
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        errors.add("currency", CommonErrorCode.INVALID, "An ISO 4217 currency code, e.g. CNY.")
    if (
        not idempotency_key
        or len(idempotency_key) > REQUEST_KEY_MAX
        or set(idempotency_key) - _ALNUM - set("-_")
    ):
        errors.add("idempotency_key", CommonErrorCode.INVALID, "1-64 letters, digits, - or _.")
    errors.raise_if_any()
    account = PayoutAccount.objects.filter(merchant=merchant).first()
    if account is None:
        raise ServiceError.single(BillingErrorCode.NO_PAYOUT_ACCOUNT, "Set a payout account first.", None)
    key = f"req-{merchant.pk}-{idempotency_key}"
    with transaction.atomic():
        run = plan_run(
            key=key,
            cutoff=cutoff_for(timezone.now().date()),
            collected_only=require_collected(),
            merchant_id=merchant.pk,
            currency=currency,
        )
        payout = run.payouts.filter(merchant=merchant, currency=currency).first()
        if payout is None:
            due = -sum(
                eligible_lines(
                    cutoff=run.cutoff, collected_only=run.require_collected, merchant_id=merchant.pk
                )
                .filter(currency=currency)
                .values_list("amount", flat=True)
            )
            raise ServiceError.single(
                BillingErrorCode.BELOW_MINIMUM,
                f"{due} {currency} is due; a payout is made from {minimum_for(account, currency)} up.",
                "currency",
            )
        if payout.status == Payout.Status.PENDING:
            transaction.on_commit(lambda: _enqueue_send(run.pk))
    return payout


def _enqueue_send(run_id: int) -> None:
    from kombu.exceptions import OperationalError as BrokerError

    from . import tasks

    try:
        tasks.send_payout_run.delay(run_id)
    except BrokerError:  # the hourly task resumes the run
        logger.warning("billing.payout_enqueue_failed", extra={"run_id": run_id})
