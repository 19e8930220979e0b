"""The write-off path: redeem a coupon at a terminal, exactly once, and void it.

Everything a write-off writes (the coupon's state, the campaign's slot, the fan's usage,
the Redemption row and its outbox event) commits in one PostgreSQL transaction or not at
all; nothing on this path touches Redis. Caps hold by conditional UPDATEs whose row counts
are checked, never by read-modify-write.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from backend.api.errors import CommonErrorCode, ErrorCollector, ServiceError
from backend.campaigns import budget
from backend.campaigns.models import Campaign, CampaignFanUsage
from backend.coupons import codes
from backend.coupons.models import Coupon
from backend.merchants.models import Terminal
from backend.outbox import registry
from backend.outbox.services import emit

from .errors import CAN_BE_USED_MESSAGE, RedemptionErrorCode, RedemptionReason, reason_message
from .models import CouponCheckAttempt, Redemption

RAW_CODE_MAX = 64
IDEMPOTENCY_KEY_MAX = 100
ORDER_AMOUNT_MAX = 10**12  # minor units; far above any till, far below bigint
VOID_REASON_MAX = 200
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class _Rejected(Exception):
    def __init__(self, reason: RedemptionReason):
        self.reason = reason


@dataclass(frozen=True)
class WriteOffRequest:
    code: str  # normalised
    well_formed: bool
    order_amount: int
    currency: str

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.code}|{self.order_amount}|{self.currency}".encode()).hexdigest()


def parse_request(*, code: str | None, order_amount: Any, currency: str | None) -> WriteOffRequest:
    """Validate the till's input; bad input is a ServiceError (nothing recorded)."""
    errors = ErrorCollector()
    raw = code or ""
    if not raw.strip():
        errors.add("code", CommonErrorCode.REQUIRED, "Scan or type the coupon code.")
    elif len(raw) > RAW_CODE_MAX:
        errors.add("code", CommonErrorCode.TOO_LONG, f"At most {RAW_CODE_MAX} characters.")
    if isinstance(order_amount, bool) or not isinstance(order_amount, int):
        errors.add("order_amount", CommonErrorCode.INVALID, "An integer amount in minor units.")
    elif not 0 < order_amount <= ORDER_AMOUNT_MAX:
        errors.add("order_amount", CommonErrorCode.OUT_OF_RANGE, f"Between 1 and {ORDER_AMOUNT_MAX}.")
    normalised_currency = (currency or "").strip().upper()
    if not _CURRENCY.match(normalised_currency):
        errors.add("currency", RedemptionErrorCode.INVALID_CURRENCY, "A three-letter ISO 4217 code.")
    errors.raise_if_any()
    normalised = codes.normalize(raw)
    return WriteOffRequest(
        code=normalised[:32],
        well_formed=codes.is_well_formed(normalised),
        order_amount=order_amount,
        currency=normalised_currency,
    )


def _validate_idempotency_key(key: str | None) -> str:
    key = (key or "").strip()
    if not key:
        raise ServiceError.single(
            CommonErrorCode.REQUIRED, "An idempotency key is required.", "idempotency_key"
        )
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise ServiceError.single(
            CommonErrorCode.TOO_LONG, f"At most {IDEMPOTENCY_KEY_MAX} characters.", "idempotency_key"
        )
    if not key.isprintable():
        raise ServiceError.single(CommonErrorCode.INVALID, "Printable characters only.", "idempotency_key")
    return key


# --- abuse limits (counted from Redemption rows, so they hold with Redis down) ---------------

# Only codes that name no coupon are guesses: a used code or an exhausted offer is a
# legitimate rejection and must not lock the till.
GUESS_REASONS = (RedemptionReason.UNKNOWN_CODE.value, RedemptionReason.MISTYPED_CODE.value)

_LIMITS_SQL = """
SELECT (SELECT count(*) FROM redemptions_redemption
         WHERE terminal_id = %(terminal)s AND created_at >= %(minute)s AND status <> 'rejected')
     + (SELECT count(*) FROM redemptions_couponcheckattempt
         WHERE terminal_id = %(terminal)s AND created_at >= %(minute)s),
       (SELECT count(*) FROM redemptions_redemption
         WHERE terminal_id = %(terminal)s AND created_at >= %(window)s
           AND status = 'rejected' AND reason_code = ANY(%(guesses)s))
     + (SELECT count(*) FROM redemptions_couponcheckattempt
         WHERE terminal_id = %(terminal)s AND created_at >= %(window)s AND reason_code = ANY(%(guesses)s))
"""


def check_abuse_limits(*, terminal: Terminal, now: dt.datetime) -> None:
    """RATE_LIMITED past POS_MAX_WRITEOFFS_PER_MINUTE write-offs and checks in the last
    minute; TERMINAL_COOLING_DOWN past POS_MAX_REJECTIONS guesses (UNKNOWN_CODE or
    MISTYPED_CODE, written off or checked) in the rejection window, until enough of them
    have aged out of it."""
    window = dt.timedelta(seconds=settings.POS_REJECTION_WINDOW_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(
            _LIMITS_SQL,
            {
                "terminal": terminal.pk,
                "minute": now - dt.timedelta(minutes=1),
                "window": now - window,
                "guesses": list(GUESS_REASONS),
            },
        )
        writeoffs, rejections = cursor.fetchone()
    if rejections >= settings.POS_MAX_REJECTIONS:
        raise _cooling_down()
    if writeoffs >= settings.POS_MAX_WRITEOFFS_PER_MINUTE:
        raise _rate_limited()


def _cooling_down() -> ServiceError:
    return ServiceError.single(
        RedemptionErrorCode.TERMINAL_COOLING_DOWN,
        f"Too many unknown codes at this terminal; try again within {settings.POS_REJECTION_WINDOW_SECONDS} s.",
    )


def _rate_limited() -> ServiceError:
    return ServiceError.single(
        RedemptionErrorCode.RATE_LIMITED, "Too many write-offs at this terminal; try again in a minute."
    )


# --- the rules: one home, in SQL (migration 0005) ---------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """What the rules say of a code at a terminal, before any cap is touched."""

    coupon: Coupon | None
    reason: RedemptionReason | None
    discount: int
    partnership_id: int | None
    reimbursement: int
    handling_fee: int
    campaign_tz: str | None  # the issuer's: a campaign's days are its issuer's


# redemption_rejection / _discount / _reimbursement / _partnership are the rules; the
# one-statement write-off (redemption_write_off) calls the very same functions.
_EVALUATE_SQL = """
SELECT c.id,
       redemption_rejection(c, k, %(merchant)s, %(store)s, %(store_active)s, p.id IS NOT NULL,
                            %(amount)s, %(currency)s, %(at)s),
       redemption_discount(k, %(amount)s),
       p.id, redemption_reimbursement(redemption_discount(k, %(amount)s), p.max_reimbursement),
       GREATEST(0, p.handling_fee), m.timezone
  FROM coupons_coupon c
  JOIN campaigns_campaign k ON k.id = c.campaign_id
  JOIN merchants_merchant m ON m.id = k.merchant_id
  LEFT JOIN LATERAL (SELECT * FROM redemption_partnership(k.id, %(merchant)s, %(store)s)) p
         ON k.merchant_id <> %(merchant)s
 WHERE c.code = %(code)s
"""


def evaluate(*, terminal: Terminal, request: WriteOffRequest, now: dt.datetime) -> Evaluation:
    """The rules for ``request`` at ``terminal`` now (checkCoupon and the general write-off path)."""
    row = None
    if request.well_formed:
        with connection.cursor() as cursor:
            cursor.execute(
                _EVALUATE_SQL,
                {
                    "merchant": terminal.merchant_id,
                    "store": terminal.store_id,
                    "store_active": terminal.store.is_active,
                    "amount": request.order_amount,
                    "currency": request.currency,
                    "at": now,
                    "code": request.code,
                },
            )
            row = cursor.fetchone()
    if row is None:
        reason = RedemptionReason.UNKNOWN_CODE if request.well_formed else RedemptionReason.MISTYPED_CODE
        return Evaluation(None, reason, 0, None, 0, 0, None)
    coupon = Coupon.objects.select_related("campaign").get(pk=row[0])
    reason = RedemptionReason(row[1]) if row[1] else None
    return Evaluation(coupon, reason, row[2], row[3], row[4] or 0, row[5] or 0, row[6])


# --- the facts a write-off answers with: stored once, replayed --------------------------------


def _facts(*, status: str, reason: str | None, discount: int, campaign: Campaign | None) -> dict[str, Any]:
    """What the till was told, as domain facts (the schema shapes the answer): the outcome
    at the time (a later void does not change a replay), and the campaign's name then."""
    verified = status == Redemption.Status.VERIFIED
    return {
        "status": str(status),
        "reason_code": None if verified else str(reason),
        "discount_amount": discount if verified else 0,
        "campaign_name": campaign.name if campaign is not None else None,
    }


@dataclass(frozen=True)
class Receipt:
    """The answer to the request that wrote a Redemption, as its facts say; the same for a replay."""

    redemption_id: int
    status: str
    reason_code: str | None
    code: str
    order_amount: int
    discount_amount: int
    currency: str
    campaign_name: str | None
    created_at: dt.datetime

    @property
    def pay_amount(self) -> int:
        return self.order_amount - self.discount_amount


def receipt_of(redemption: Redemption) -> Receipt:
    """The first answer to the request that wrote ``redemption``.

    Rows written before migration 0005 hold the camelCase answer itself; they are read as
    they are (their facts are the same)."""
    facts = redemption.response
    if "redemption" in facts:  # the old shape: the GraphQL answer
        old = facts["redemption"]
        facts = {
            "status": old["status"].lower(),
            "reason_code": old["reasonCode"],
            "discount_amount": old["discountAmount"],
            "campaign_name": old["campaignName"],
        }
    return Receipt(
        redemption_id=redemption.pk,
        status=facts["status"],
        reason_code=facts["reason_code"],
        code=redemption.code,
        order_amount=redemption.order_amount,
        discount_amount=facts["discount_amount"],
        currency=redemption.currency,
        campaign_name=facts["campaign_name"],
        created_at=redemption.created_at,
    )


# --- redeem -----------------------------------------------------------------------------------


def _replay(*, terminal: Terminal, key: str, request: WriteOffRequest) -> Redemption | None:
    existing = Redemption.objects.filter(terminal=terminal, idempotency_key=key).first()
    _same_request(existing, request)
    return existing


def _same_request(existing: Redemption | None, request: WriteOffRequest) -> None:
    if existing is not None and existing.request_fingerprint != request.fingerprint:
        raise ServiceError.single(
            RedemptionErrorCode.IDEMPOTENCY_KEY_REUSED,
            "This idempotency key was used for a different request.",
            "idempotency_key",
        )


def redeem_coupon(
    *,
    terminal: Terminal,
    code: str,
    order_amount: int,
    currency: str,
    idempotency_key: str,
    now: dt.datetime | None = None,
) -> Redemption:
    """Write ``code`` off at ``terminal``: a verified or rejected Redemption, recorded either way.

    Guarantees: a coupon is written off at most once, and a campaign never passes its max
    redemptions, its budget or a fan's limit, whatever the concurrency; one transaction
    writes everything or nothing. The same (terminal, idempotency key) returns the first
    Redemption and writes nothing, also when both requests arrive together; the same key
    with another request is IDEMPOTENCY_KEY_REUSED. Abuse limits and bad input raise
    ServiceError and record nothing.

    Usually one statement (redemption_write_off, migration 0005) does all of it. When a cap
    refuses half-way, a deadlock picks it, or the slots need a rebalance, that statement
    rolls back whole and the general path below runs, with the same rules.
    """
    request = parse_request(code=code, order_amount=order_amount, currency=currency)
    key = _validate_idempotency_key(idempotency_key)
    now = now or timezone.now()
    try:
        redemption = _write_off_in_one_statement(terminal=terminal, request=request, key=key, now=now)
    except IntegrityError:
        redemption = None  # a concurrent request with the same key won: replayed below
    if redemption is not None:
        _same_request(redemption, request)
        return redemption
    existing = _replay(terminal=terminal, key=key, request=request)
    if existing is not None:
        return existing
    check_abuse_limits(terminal=terminal, now=now)
    try:
        return _write_off_retrying(terminal=terminal, request=request, key=key, now=now)
    except IntegrityError:
        # A concurrent request with the same key committed first (the unique index made us
        # wait for it): its answer is ours.
        existing = _replay(terminal=terminal, key=key, request=request)
        if existing is None:
            raise
        return existing


_WRITE_OFF_SQL = (
    "SELECT * FROM redemption_write_off(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_GENERAL_PATH = "CN409"  # a cap refused half-way: rolled back, the general path names the reason
_COOLING_DOWN, _RATE_LIMITED = "CN420", "CN429"
_DEADLOCK = "40P01"


def _write_off_in_one_statement(
    *, terminal: Terminal, request: WriteOffRequest, key: str, now: dt.datetime
) -> Redemption | None:
    """The whole write-off as one statement (its own transaction in autocommit); None when
    the general path must take over (nothing was written then)."""
    params = [
        terminal.pk,
        terminal.merchant_id,
        terminal.store_id,
        terminal.store.is_active,
        request.code,
        request.well_formed,
        request.order_amount,
        request.currency,
        key,
        request.fingerprint,
        now,
        settings.POS_MAX_WRITEOFFS_PER_MINUTE,
        settings.POS_MAX_REJECTIONS,
        dt.timedelta(seconds=settings.POS_REJECTION_WINDOW_SECONDS),
        list(GUESS_REASONS),
    ]
    try:
        if connection.in_atomic_block:  # inside a caller's transaction (tests): a savepoint
            with transaction.atomic():
                row, names = _execute(params)
        else:
            row, names = _execute(params)
    except IntegrityError:
        raise
    except DatabaseError as exc:
        pgcode = getattr(exc.__cause__, "pgcode", None)
        if pgcode == _COOLING_DOWN:
            raise _cooling_down() from None
        if pgcode == _RATE_LIMITED:
            raise _rate_limited() from None
        if pgcode in (_GENERAL_PATH, _DEADLOCK):
            return None
        raise
    values = dict(zip(names, row, strict=True))
    if isinstance(values["response"], str):
        values["response"] = json.loads(values["response"])
    attnames = [f.attname for f in Redemption._meta.concrete_fields]
    return Redemption.from_db("default", attnames, [values[name] for name in attnames])


def _execute(params: list) -> tuple[tuple, list[str]]:
    with connection.cursor() as cursor:
        cursor.execute(_WRITE_OFF_SQL, params)
        return cursor.fetchone(), [column.name for column in cursor.description]


DEADLOCK_RETRIES = 3


def _write_off_retrying(**kwargs) -> Redemption:
    """PostgreSQL may still pick this transaction as a deadlock victim (rolled back whole,
    nothing written): run it again, a few times, rather than fail the till."""
    for attempt in range(DEADLOCK_RETRIES + 1):
        try:
            return _write_off(**kwargs)
        except OperationalError as exc:
            if getattr(exc.__cause__, "pgcode", None) != _DEADLOCK or attempt == DEADLOCK_RETRIES:
                raise
    raise AssertionError("unreachable")


_TAKE_FAN_USAGE = """
INSERT INTO campaigns_campaignfanusage AS u (campaign_id, fan_id, used) VALUES (%s, %s, 1)
ON CONFLICT (campaign_id, fan_id) DO UPDATE SET used = u.used + 1 WHERE u.used < %s
"""


def _take_fan_usage(*, campaign: Campaign, fan_id: int) -> bool:
    if campaign.per_fan_limit < 1:
        return False
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_FAN_USAGE, [campaign.pk, fan_id, campaign.per_fan_limit])
        return cursor.rowcount == 1


_LOST_TO = {
    Coupon.Status.REVOKED: RedemptionReason.COUPON_REVOKED,
    Coupon.Status.EXPIRED: RedemptionReason.EXPIRED,
}


def _claim(*, coupon: Coupon, campaign: Campaign, cost: int, now: dt.datetime, tz_name: str) -> int:
    """Take the coupon, the fan's usage and the campaign's caps; the slot used. Rows are
    taken in a fixed order (coupon, fan, slot), and a failed step raises _Rejected."""
    claimed = Coupon.objects.filter(pk=coupon.pk, status=Coupon.Status.ISSUED).update(
        status=Coupon.Status.REDEEMED, redeemed_at=now
    )
    if claimed != 1:  # taken since we read it: redeemed, or revoked / expired meanwhile
        now_status = Coupon.objects.filter(pk=coupon.pk).values_list("status", flat=True).first()
        raise _Rejected(_LOST_TO.get(now_status, RedemptionReason.ALREADY_REDEEMED))
    if not _take_fan_usage(campaign=campaign, fan_id=coupon.fan_id):
        raise _Rejected(RedemptionReason.FAN_LIMIT_REACHED)
    slot = budget.take(campaign_id=campaign.pk, cost=cost)
    if slot is None:
        raise _Rejected(RedemptionReason.BUDGET_EXHAUSTED)
    if campaign.daily_redemption_cap is not None or campaign.daily_spend_cap is not None:
        if not budget.take_daily(campaign=campaign, day=budget.day_of(now, tz_name), cost=cost):
            raise _Rejected(RedemptionReason.DAILY_CAP_REACHED)
    return slot


@transaction.atomic
def _write_off(*, terminal: Terminal, request: WriteOffRequest, key: str, now: dt.datetime) -> Redemption:
    """The general path: the rules (evaluate), then the caps one statement at a time, in a
    savepoint so a refusal undoes a partial take and is recorded with its reason."""
    found = evaluate(terminal=terminal, request=request, now=now)
    coupon, reason = found.coupon, found.reason
    campaign = coupon.campaign if coupon is not None else None
    discount = fee = 0
    slot = None
    if reason is None:
        discount = found.discount
        fee = campaign.fee_per_redemption
        try:
            with transaction.atomic():  # a savepoint: a rejection undoes a partial take
                slot = _claim(
                    coupon=coupon, campaign=campaign, cost=discount + fee, now=now, tz_name=found.campaign_tz
                )
        except _Rejected as rejected:
            reason = rejected.reason
    if reason == RedemptionReason.WRONG_MERCHANT:
        campaign = None  # another merchant's offer: record nothing of it on this merchant's row
    status = Redemption.Status.VERIFIED if reason is None else Redemption.Status.REJECTED
    verified = reason is None
    partnered = verified and found.partnership_id is not None
    redemption = Redemption.objects.create(
        merchant_id=terminal.merchant_id,
        store_id=terminal.store_id,
        terminal=terminal,
        coupon=coupon,
        campaign=campaign,
        placement_id=coupon.placement_id if campaign is not None else None,
        code=request.code,
        status=status,
        reason_code=reason or "",
        order_amount=request.order_amount,
        currency=request.currency,
        discount_amount=discount if verified else 0,
        fee_amount=fee if verified else 0,
        partnership_id=found.partnership_id if verified else None,
        reimbursement_amount=found.reimbursement if partnered else 0,
        handling_fee_amount=found.handling_fee if partnered else 0,
        slot=slot,
        idempotency_key=key,
        request_fingerprint=request.fingerprint,
        response=_facts(status=status, reason=reason, discount=discount, campaign=campaign),
        created_at=now,
    )
    if verified:
        emit(topic=registry.REDEMPTION_VERIFIED, payload={"redemption_id": redemption.pk})
    return redemption


# --- check (no write) -----------------------------------------------------------------------


@dataclass(frozen=True)
class CouponCheck:
    """What a write-off would give now; the caps may still run out before it happens."""

    ok: bool
    reason: str | None
    message: str
    code: str
    order_amount: int
    discount_amount: int
    currency: str
    campaign_name: str | None

    @property
    def pay_amount(self) -> int:
        return self.order_amount - self.discount_amount


def _caps_left(campaign: Campaign, cost: int) -> bool:
    slots = list(
        campaign.slots.values_list(
            "redemption_allowance", "redeemed_count", "budget_allowance", "spent_amount"
        )
    )
    if not slots:
        return False
    counts_capped = all(s[0] is not None for s in slots)
    budget_capped = all(s[2] is not None for s in slots)
    if counts_capped and sum(s[0] - s[1] for s in slots) < 1:
        return False
    return not (budget_capped and sum(s[2] - s[3] for s in slots) < cost)


def check_coupon(
    *, terminal: Terminal, code: str, order_amount: int, currency: str, now: dt.datetime | None = None
) -> CouponCheck:
    """The outcome a write-off of ``code`` would have now; only the check itself is recorded.

    The rules are the write-off's own (evaluate: the same SQL functions). Each check is
    recorded (a CouponCheckAttempt) and counts toward the terminal's limits, and a terminal
    that is cooling down is refused here too, so checks cannot be used to guess codes
    around the write-off limits."""
    request = parse_request(code=code, order_amount=order_amount, currency=currency)
    now = now or timezone.now()
    check_abuse_limits(terminal=terminal, now=now)
    found = evaluate(terminal=terminal, request=request, now=now)
    coupon, reason = found.coupon, found.reason
    campaign = coupon.campaign if coupon is not None else None
    discount = 0
    if reason is None:
        discount = found.discount
        used = (
            CampaignFanUsage.objects.filter(campaign=campaign, fan_id=coupon.fan_id)
            .values_list("used", flat=True)
            .first()
        )
        if (used or 0) >= campaign.per_fan_limit:
            reason = RedemptionReason.FAN_LIMIT_REACHED
        elif not _caps_left(campaign, discount + campaign.fee_per_redemption):
            reason = RedemptionReason.BUDGET_EXHAUSTED
    if reason == RedemptionReason.WRONG_MERCHANT:
        campaign = None
    CouponCheckAttempt.objects.create(terminal=terminal, reason_code=reason or "", created_at=now)
    return CouponCheck(
        ok=reason is None,
        reason=str(reason) if reason else None,
        message=str(CAN_BE_USED_MESSAGE) if reason is None else reason_message(reason),
        code=request.code,
        order_amount=request.order_amount,
        discount_amount=discount if reason is None else 0,
        currency=request.currency,
        campaign_name=campaign.name if campaign is not None else None,
    )


# --- void ------------------------------------------------------------------------------------


_GIVE_BACK_FAN_USAGE = (
    "UPDATE campaigns_campaignfanusage SET used = used - 1 "
    "WHERE campaign_id = %s AND fan_id = %s AND used > 0"
)


def void_redemption(
    *, terminal: Terminal, redemption_id: int, reason: str = "", now: dt.datetime | None = None
) -> Redemption:
    """Undo a verified write-off inside the campaign's void window, once.

    Only a terminal of the merchant that wrote it off may (another merchant's id is
    NOT_FOUND). The slot's unit and budget and the fan's usage are given back; the coupon
    stays used (no second discount) unless the campaign returns voided coupons. A
    REDEMPTION_VOIDED outbox event lets billing reverse the charge. Exactly once whatever
    the concurrency; rows are locked in the write-off's order (coupon, fan usage, slot,
    then the redemption), and a deadlock victim is run again, as a write-off is.
    """
    reason = (reason or "").strip()
    if len(reason) > VOID_REASON_MAX:
        raise ServiceError.single(
            CommonErrorCode.TOO_LONG, f"At most {VOID_REASON_MAX} characters.", "reason"
        )
    for attempt in range(DEADLOCK_RETRIES + 1):
        try:
            return _void(terminal=terminal, redemption_id=redemption_id, reason=reason, now=now)
        except OperationalError as exc:
            if getattr(exc.__cause__, "pgcode", None) != "40P01" or attempt == DEADLOCK_RETRIES:
                raise
    raise AssertionError("unreachable")


def _voidable(redemption: Redemption | None, now: dt.datetime) -> Redemption:
    if redemption is None:
        raise ServiceError.not_found("redemption_id", "Redemption")
    if redemption.status == Redemption.Status.VOIDED:
        raise ServiceError.single(RedemptionErrorCode.ALREADY_VOIDED, "Already voided.", "redemption_id")
    if redemption.status != Redemption.Status.VERIFIED:
        raise ServiceError.single(
            RedemptionErrorCode.NOT_VOIDABLE, "Only a verified write-off can be voided.", "redemption_id"
        )
    if now > redemption.created_at + dt.timedelta(seconds=redemption.campaign.void_window_seconds):
        raise ServiceError.single(
            RedemptionErrorCode.VOID_WINDOW_PASSED,
            "The void window of this write-off has passed.",
            "redemption_id",
        )
    return redemption


@transaction.atomic
def _void(*, terminal: Terminal, redemption_id: int, reason: str, now: dt.datetime | None) -> Redemption:
    now = now or timezone.now()
    # A plain read and the checks first, no lock (as the write-off does).
    found = (
        Redemption.objects.select_related("campaign__merchant", "coupon")
        .filter(pk=redemption_id, merchant_id=terminal.merchant_id)
        .first()
    )
    redemption = _voidable(found, now)
    campaign = redemption.campaign
    # 1. the coupon: concurrent voids of one write-off queue here, then re-check the status.
    Coupon.objects.select_for_update(no_key=True).filter(pk=redemption.coupon_id).values_list("pk").first()
    redemption.refresh_from_db(fields=["status"])
    _voidable(redemption, now)
    if campaign.voided_coupon_returns:
        Coupon.objects.filter(pk=redemption.coupon_id, status=Coupon.Status.REDEEMED).update(
            status=Coupon.Status.ISSUED, redeemed_at=None
        )
    # 2. the fan's usage, 3. the slot
    with connection.cursor() as cursor:
        cursor.execute(_GIVE_BACK_FAN_USAGE, [campaign.pk, redemption.coupon.fan_id])
    if redemption.slot is not None:
        budget.release(
            campaign_id=campaign.pk,
            slot=redemption.slot,
            cost=redemption.discount_amount + redemption.fee_amount,
        )
        budget.release_daily(  # a no-op unless the campaign counted it against a daily cap
            campaign_id=campaign.pk,
            # the issuer's day, where the write-off counted (a partner's till may sit elsewhere)
            day=budget.day_of(redemption.created_at, campaign.merchant.timezone),
            cost=redemption.discount_amount + redemption.fee_amount,
        )
    # 4. the redemption itself, conditionally: only one void can win.
    updated = Redemption.objects.filter(pk=redemption.pk, status=Redemption.Status.VERIFIED).update(
        status=Redemption.Status.VOIDED, voided_at=now, void_reason=reason, voided_by=terminal
    )
    if updated != 1:
        raise ServiceError.single(RedemptionErrorCode.ALREADY_VOIDED, "Already voided.", "redemption_id")
    redemption.status = Redemption.Status.VOIDED
    redemption.voided_at, redemption.void_reason, redemption.voided_by = now, reason, terminal
    emit(topic=registry.REDEMPTION_VOIDED, payload={"redemption_id": redemption.pk})
    return redemption
