"""Every write of the audience app (except CSV imports, see imports.py): one transaction each."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.api.errors import CommonErrorCode, ErrorCollector, ServiceError

from . import identity, signals
from .consent import InvalidConsent, check_consent_time
from .errors import AudienceErrorCode
from .members import Candidate, MergeResult, merge_members
from .models import FanPool, PoolMembership

NAME_MAX = 200
DESCRIPTION_MAX = 2000
CATEGORY_MAX = 40
CATEGORIES_MAX = 10
SOURCE_MAX = 40
FANS_PER_CALL_MAX = 1000
SHARE_BPS_MAX = 10_000
CATEGORY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

EXTERNAL_REF_MAX = 100
UNSET: Any = object()  # "not given", distinct from None ("clear it")


@dataclass(frozen=True)
class FanEntry:
    """One fan as a caller names it. The raw identifier is hashed and dropped in pool_fans_add."""

    phone: str | None = None
    open_id: str | None = None
    platform: str | None = None
    consented_at: dt.datetime | None = None
    source: str | None = None
    external_ref: str | None = None


def _clean_categories(errors: ErrorCollector, categories: Sequence[str]) -> list[str]:
    cleaned: list[str] = []
    for value in categories:
        category = (value or "").strip().lower()
        if not category or len(category) > CATEGORY_MAX or not CATEGORY_RE.match(category):
            errors.add(
                "categories",
                AudienceErrorCode.INVALID_CATEGORY,
                f"A category is 1-{CATEGORY_MAX} lower-case letters, digits, '-' or '_'.",
            )
            return []
        if category not in cleaned:
            cleaned.append(category)
    if len(cleaned) > CATEGORIES_MAX:
        errors.add(
            "categories", AudienceErrorCode.TOO_MANY_CATEGORIES, f"At most {CATEGORIES_MAX} categories."
        )
    return cleaned


def _check_auto_accept(errors: ErrorCollector, share_bps: Any, max_quota: Any) -> None:
    if share_bps not in (None, UNSET) and not 0 <= share_bps <= SHARE_BPS_MAX:
        errors.add(
            "auto_accept_min_share_bps", CommonErrorCode.OUT_OF_RANGE, "A share is 0-10000 basis points."
        )
    if max_quota not in (None, UNSET) and max_quota < 1:
        errors.add("auto_accept_max_quota", CommonErrorCode.OUT_OF_RANGE, "The quota must be at least 1.")


def _save_pool(pool: FanPool, update_fields: list[str] | None = None) -> FanPool:
    try:
        with transaction.atomic():
            pool.save(update_fields=update_fields)
    except IntegrityError:
        raise ServiceError.single(
            CommonErrorCode.DUPLICATE, "You already have a pool with this name.", "name"
        ) from None
    return pool


@transaction.atomic
def pool_create(
    *,
    merchant,
    name: str,
    description: str = "",
    categories: Sequence[str] = (),
    is_listed: bool = True,
    auto_accept_min_share_bps: int | None = None,
    auto_accept_max_quota: int | None = None,
) -> FanPool:
    errors = ErrorCollector()
    errors.require_text("name", name, max_length=NAME_MAX)
    if len(description or "") > DESCRIPTION_MAX:
        errors.add("description", CommonErrorCode.TOO_LONG, f"At most {DESCRIPTION_MAX} characters.")
    cleaned = _clean_categories(errors, categories)
    _check_auto_accept(errors, auto_accept_min_share_bps, auto_accept_max_quota)
    errors.raise_if_any()
    pool = FanPool(
        merchant=merchant,
        name=name.strip(),
        description=(description or "").strip(),
        categories=cleaned,
        is_listed=is_listed,
        auto_accept_min_share_bps=auto_accept_min_share_bps,
        auto_accept_max_quota=auto_accept_max_quota,
    )
    return _save_pool(pool)


@transaction.atomic
def pool_update(
    *,
    pool: FanPool,
    name: str | None = UNSET,
    description: str | None = UNSET,
    categories: Sequence[str] | None = UNSET,
    is_listed: bool | None = UNSET,
    auto_accept_min_share_bps: int | None = UNSET,
    auto_accept_max_quota: int | None = UNSET,
) -> FanPool:
    """Change the given fields only; None clears the auto-accept rules (None elsewhere = unchanged)."""
    errors = ErrorCollector()
    if name is not UNSET and name is not None:
        errors.require_text("name", name, max_length=NAME_MAX)
    if description not in (UNSET, None) and len(description) > DESCRIPTION_MAX:
        errors.add("description", CommonErrorCode.TOO_LONG, f"At most {DESCRIPTION_MAX} characters.")
    cleaned = _clean_categories(errors, categories) if categories not in (UNSET, None) else None
    _check_auto_accept(errors, auto_accept_min_share_bps, auto_accept_max_quota)
    errors.raise_if_any()
    fields: list[str] = []
    if name not in (UNSET, None):
        pool.name, fields = name.strip(), [*fields, "name"]
    if description not in (UNSET, None):
        pool.description, fields = description.strip(), [*fields, "description"]
    if cleaned is not None:
        pool.categories, fields = cleaned, [*fields, "categories"]
    if is_listed not in (UNSET, None):
        pool.is_listed, fields = is_listed, [*fields, "is_listed"]
    if auto_accept_min_share_bps is not UNSET:
        pool.auto_accept_min_share_bps = auto_accept_min_share_bps
        fields.append("auto_accept_min_share_bps")
    if auto_accept_max_quota is not UNSET:
        pool.auto_accept_max_quota = auto_accept_max_quota
        fields.append("auto_accept_max_quota")
    if fields:
        _save_pool(pool, update_fields=[*fields, "updated_at"])
    return pool


def _identity_or_error(errors: ErrorCollector, prefix: str, entry: FanEntry) -> identity.FanIdentity | None:
    try:
        return identity.identity_of(phone=entry.phone, open_id=entry.open_id, platform=entry.platform)
    except identity.InvalidIdentity as exc:
        errors.add(f"{prefix}{exc.field}", exc.code, str(exc))
        return None


@transaction.atomic
def pool_fans_add(*, pool: FanPool, fans: Sequence[FanEntry], default_source: str = "api") -> MergeResult:
    """Add a batch of consented fans: all of them or, if any is invalid, none.

    Errors name the item as ``fans.<index>.<field>`` (index from 0). Fans already consenting
    in the pool, or repeated in the batch, are counted as duplicates, not errors, so a
    retried call is harmless.
    """
    errors = ErrorCollector()
    if not fans:
        raise ServiceError.single(CommonErrorCode.REQUIRED, "Give at least one fan.", "fans")
    if len(fans) > FANS_PER_CALL_MAX:
        raise ServiceError.single(
            AudienceErrorCode.TOO_MANY_FANS, f"At most {FANS_PER_CALL_MAX} fans per call.", "fans"
        )
    now = timezone.now()
    candidates: list[Candidate] = []
    for index, entry in enumerate(fans):
        prefix = f"fans.{index}."
        fan_identity = _identity_or_error(errors, prefix, entry)
        try:
            consented_at = check_consent_time(entry.consented_at, now=now)
        except InvalidConsent as exc:
            errors.add(f"{prefix}consentedAt", AudienceErrorCode.INVALID_CONSENT_DATE, str(exc))
            consented_at = None
        source = (entry.source or default_source).strip() or default_source
        if len(source) > SOURCE_MAX:
            errors.add(f"{prefix}source", CommonErrorCode.TOO_LONG, f"At most {SOURCE_MAX} characters.")
        external_ref = (entry.external_ref or "").strip() or None
        if external_ref is not None and len(external_ref) > EXTERNAL_REF_MAX:
            errors.add(
                f"{prefix}externalRef", CommonErrorCode.TOO_LONG, f"At most {EXTERNAL_REF_MAX} characters."
            )
        if fan_identity is not None and consented_at is not None:
            candidates.append(
                Candidate(
                    fan_key=fan_identity.fan_key,
                    kind=fan_identity.kind,
                    consented_at=consented_at,
                    source=source,
                    external_ref=external_ref,
                )
            )
    errors.raise_if_any()
    return merge_members(pool=pool, candidates=candidates)


@transaction.atomic
def membership_consent_withdraw(
    *, pool: FanPool, membership: PoolMembership | None = None, fan: FanEntry | None = None
) -> PoolMembership:
    """Record that a fan withdrew consent: the fan gets no further coupons from this pool.

    Name the member by its membership (from the members list) or by the fan's identifier.
    """
    named_by = "membershipId" if membership is not None else "fan"
    if membership is None:
        if fan is None:
            raise ServiceError.single(CommonErrorCode.REQUIRED, "Name a membership or a fan.", "fan")
        errors = ErrorCollector()
        fan_identity = _identity_or_error(errors, "fan.", fan)
        errors.raise_if_any()
        membership = PoolMembership.objects.filter(pool=pool, fan__fan_key=fan_identity.fan_key).first()
        if membership is None:
            raise ServiceError.single(AudienceErrorCode.NOT_A_MEMBER, "This fan is not in the pool.", "fan")
    elif membership.pool_id != pool.pk:
        raise ServiceError.not_found("membershipId", "Membership")
    with transaction.atomic():
        updated = PoolMembership.objects.filter(pk=membership.pk, consent_withdrawn_at__isnull=True).update(
            consent_withdrawn_at=timezone.now()
        )
        if not updated:
            raise ServiceError.single(
                AudienceErrorCode.ALREADY_WITHDRAWN, "Consent was already withdrawn.", named_by
            )
        signals.consent_withdrawn.send(sender=PoolMembership, fan_id=membership.fan_id)
    membership.refresh_from_db(fields=["consent_withdrawn_at"])
    return membership
