"""Every write of the campaigns app: keyword-only, one transaction each.

Lifecycle of a campaign: draft -> active <-> paused, and any non-ended -> ended (final).
Money, benefit and validity terms change only in draft: once a campaign is active,
publishers have agreed to those terms. Transitions are conditional UPDATEs, so two
concurrent calls cannot both win.

Lifecycle of a placement: proposed -> accepted | declined; proposed/accepted -> ended by
either party. A campaign is proposed only while active (its terms are then frozen, so the
publisher accepts exactly what will be issued). The pool's auto-accept rule accepts it at
proposal time when the share and quota meet it.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from backend.api import ids
from backend.api.errors import CommonErrorCode, ErrorCollector, ServiceError
from backend.audience.models import FanPool
from backend.merchants.models import Merchant, Store
from backend.webhooks import events as webhook_events

from . import budget
from .errors import CampaignErrorCode, CampaignPartnerErrorCode, PlacementErrorCode
from .models import Campaign, CampaignPartner, Placement
from .terms import DEFAULTS, EDITABLE_AFTER_DRAFT, TERM_FIELDS, terms_of, validate_terms

OPEN_CAMPAIGN_STATES = (Campaign.Status.DRAFT, Campaign.Status.ACTIVE, Campaign.Status.PAUSED)
OPEN_PLACEMENT_STATES = (Placement.Status.PROPOSED, Placement.Status.ACCEPTED)
OPEN_PARTNER_STATES = (CampaignPartner.Status.INVITED, CampaignPartner.Status.ACCEPTED)


def _own_stores(errors: ErrorCollector, *, merchant: Merchant, store_ids: list[int | None]) -> list[Store]:
    """The issuer's own stores; another merchant's (or an unknown) store is NOT_FOUND."""
    wanted = {pk for pk in store_ids if pk}
    stores = list(Store.objects.filter(merchant=merchant, pk__in=wanted)) if wanted else []
    if None in store_ids or len(stores) != len(wanted):
        errors.add("accepted_store_ids", CommonErrorCode.NOT_FOUND, "Store not found.")
    return stores


def _clean_text(terms: dict[str, Any]) -> None:
    for field in ("description", "free_item_name"):
        if terms.get(field) is None:
            terms[field] = ""
    for field in ("name", "description", "free_item_name", "currency"):
        if isinstance(terms.get(field), str):
            terms[field] = terms[field].strip()
    if isinstance(terms.get("currency"), str):
        terms["currency"] = terms["currency"].upper()


@transaction.atomic
def campaign_create(
    *, merchant: Merchant, accepted_store_ids: list[int | None] | None = None, **terms: Any
) -> Campaign:
    """A draft campaign. ``terms`` are Campaign fields (see campaigns.terms.TERM_FIELDS);
    ``accepted_store_ids`` None or empty means every store of the issuer."""
    unknown = set(terms) - set(TERM_FIELDS)
    if unknown:
        raise TypeError(f"unknown campaign terms: {sorted(unknown)}")
    values = {**DEFAULTS, **{k: v for k, v in terms.items() if v is not None or k not in DEFAULTS}}
    if values.get("currency") is None:
        values["currency"] = merchant.default_currency
    _clean_text(values)
    errors = validate_terms(values)
    stores = _own_stores(errors, merchant=merchant, store_ids=accepted_store_ids or [])
    errors.raise_if_any()
    campaign = Campaign.objects.create(merchant=merchant, all_stores=not stores, **values)
    if stores:
        campaign.accepted_stores.set(stores)
    return campaign


@transaction.atomic
def campaign_update(
    *, campaign: Campaign, accepted_store_ids: list[int | None] | None = None, **changes: Any
) -> Campaign:
    """Change terms. In draft any term; after draft only name and description.

    ``accepted_store_ids``: None leaves the stores; [] means every store.
    """
    unknown = set(changes) - set(TERM_FIELDS)
    if unknown:
        raise TypeError(f"unknown campaign terms: {sorted(unknown)}")
    campaign = Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)
    errors = ErrorCollector()
    if campaign.status == Campaign.Status.ENDED:
        raise ServiceError.single(CampaignErrorCode.NOT_DRAFT, "An ended campaign cannot change.", "id")
    if campaign.status != Campaign.Status.DRAFT:
        frozen = sorted(set(changes) - EDITABLE_AFTER_DRAFT)
        if accepted_store_ids is not None:
            frozen.append("accepted_store_ids")
        for field in frozen:
            errors.add(field, CampaignErrorCode.NOT_DRAFT, "Terms change only while the campaign is a draft.")
        errors.raise_if_any()
    values = {**terms_of(campaign), **changes}
    _clean_text(values)
    errors = validate_terms(values)
    stores = None
    if accepted_store_ids is not None:
        stores = _own_stores(errors, merchant=campaign.merchant, store_ids=accepted_store_ids)
    errors.raise_if_any()
    fields = [f for f in TERM_FIELDS if getattr(campaign, f) != values[f]]
    for field in fields:
        setattr(campaign, field, values[field])
    if stores is not None:
        campaign.all_stores = not stores
        fields.append("all_stores")
        campaign.accepted_stores.set(stores)
    if fields:
        campaign.save(update_fields=[*fields, "updated_at"])
    return campaign


def _transition(campaign: Campaign, *, to: str, allowed_from: tuple[str, ...], **extra: Any) -> Campaign:
    updated = Campaign.objects.filter(pk=campaign.pk, status__in=allowed_from).update(
        status=to, updated_at=timezone.now(), **extra
    )
    if not updated:
        campaign.refresh_from_db(fields=["status"])
        raise ServiceError.single(
            CampaignErrorCode.INVALID_TRANSITION, f"A {campaign.status} campaign cannot become {to}.", "id"
        )
    campaign.refresh_from_db()
    return campaign


@transaction.atomic
def campaign_activate(*, campaign: Campaign) -> Campaign:
    """draft -> active: the terms freeze and the budget slots are allocated, in one transaction."""
    campaign = Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)
    if campaign.status != Campaign.Status.DRAFT:
        raise ServiceError.single(
            CampaignErrorCode.INVALID_TRANSITION, f"A {campaign.status} campaign cannot be activated.", "id"
        )
    errors = validate_terms(terms_of(campaign))
    if campaign.valid_until is not None and campaign.valid_until <= timezone.now():
        errors.add("valid_until", CampaignErrorCode.WINDOW_ENDED, "The validity window has already ended.")
    errors.raise_if_any()
    campaign = _transition(
        campaign,
        to=Campaign.Status.ACTIVE,
        allowed_from=(Campaign.Status.DRAFT,),
        activated_at=timezone.now(),
    )
    budget.allocate_slots(campaign=campaign)
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign) -> Campaign:
    return _transition(campaign, to=Campaign.Status.PAUSED, allowed_from=(Campaign.Status.ACTIVE,))


@transaction.atomic
def campaign_resume(*, campaign: Campaign) -> Campaign:
    if campaign.valid_until is not None and campaign.valid_until <= timezone.now():
        raise ServiceError.single(
            CampaignErrorCode.WINDOW_ENDED, "The validity window has already ended.", "valid_until"
        )
    return _transition(campaign, to=Campaign.Status.ACTIVE, allowed_from=(Campaign.Status.PAUSED,))


@transaction.atomic
def campaign_end(*, campaign: Campaign) -> Campaign:
    """Any non-ended -> ended (final). Its open placements end with it."""
    now = timezone.now()
    campaign = _transition(
        campaign, to=Campaign.Status.ENDED, allowed_from=OPEN_CAMPAIGN_STATES, ended_at=now
    )
    Placement.objects.filter(campaign=campaign, status__in=OPEN_PLACEMENT_STATES).update(
        status=Placement.Status.ENDED, ended_at=now, ended_by=campaign.merchant
    )
    CampaignPartner.objects.filter(campaign=campaign, status__in=OPEN_PARTNER_STATES).update(
        status=CampaignPartner.Status.ENDED, ended_at=now, ended_by=campaign.merchant
    )
    return campaign


def auto_accepts(pool: FanPool, *, quota: int, share_bps: int) -> bool:
    """The pool's rule: at least its minimum share and at most its maximum quota (if set)."""
    if pool.auto_accept_min_share_bps is None:
        return False
    if share_bps < pool.auto_accept_min_share_bps:
        return False
    return pool.auto_accept_max_quota is None or quota <= pool.auto_accept_max_quota


@transaction.atomic
def placement_propose(
    *, campaign: Campaign, pool: FanPool | None, quota: int | None, publisher_share_bps: int | None = None
) -> Placement:
    """The issuer proposes ``campaign`` into a listed ``pool`` (None: unknown or unlisted).

    ``publisher_share_bps`` defaults to the campaign's. Accepted at once if the pool's
    auto-accept rule is met.
    """
    errors = ErrorCollector()
    campaign = Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)
    if pool is None:
        errors.add("pool_id", CommonErrorCode.NOT_FOUND, "Fan pool not found.")
    if campaign.status != Campaign.Status.ACTIVE:
        errors.add(
            "campaign_id", PlacementErrorCode.CAMPAIGN_NOT_ACTIVE, "Only an active campaign can be placed."
        )
    if quota is None:
        errors.add("quota", CommonErrorCode.REQUIRED, "This field is required.")
    elif not 1 <= quota <= 2**31 - 1:
        errors.add("quota", CommonErrorCode.OUT_OF_RANGE, "Must be at least 1.")
    share = campaign.publisher_share_bps if publisher_share_bps is None else publisher_share_bps
    if not 0 <= share <= 10000:
        errors.add("publisher_share_bps", CommonErrorCode.OUT_OF_RANGE, "Must be between 0 and 10000.")
    errors.raise_if_any()
    now = timezone.now()
    auto = auto_accepts(pool, quota=quota, share_bps=share)
    placement = Placement(
        campaign=campaign,
        issuer_id=campaign.merchant_id,
        publisher_id=pool.merchant_id,
        pool=pool,
        quota=quota,
        publisher_share_bps=share,
        status=Placement.Status.ACCEPTED if auto else Placement.Status.PROPOSED,
        decided_at=now if auto else None,
        auto_accepted=auto,
    )
    try:
        with transaction.atomic():
            placement.save()
    except IntegrityError:
        raise ServiceError.single(
            PlacementErrorCode.OPEN_PLACEMENT_EXISTS,
            "This campaign already has an open placement in this pool.",
            "pool_id",
        ) from None
    _announce_placement(placement, webhook_events.PLACEMENT_PROPOSED.name)
    if auto:
        _announce_placement(placement, webhook_events.PLACEMENT_ACCEPTED.name)
    return placement


def _announce_placement(placement: Placement, topic: str) -> None:
    """Both parties hear of it; the publisher gets no id of the issuer's campaign."""
    shared = {
        "id": ids.encode("Placement", placement.pk),
        "status": placement.status.upper(),
        "quota": placement.quota,
        "publisherShareBps": placement.publisher_share_bps,
        "poolId": ids.encode("FanPool", placement.pool_id),
    }
    webhook_events.announce(
        topic=topic,
        recipients=[
            (
                placement.issuer_id,
                {"placement": {**shared, "campaignId": ids.encode("Campaign", placement.campaign_id)}},
            ),
            (placement.publisher_id, {"placement": shared}),
        ],
        ordering_key=f"placement:{placement.pk}",
    )


def _placement_transition(
    placement: Placement, *, to: str, allowed_from: tuple[str, ...], **extra: Any
) -> Placement:
    updated = Placement.objects.filter(pk=placement.pk, status__in=allowed_from).update(status=to, **extra)
    if not updated:
        placement.refresh_from_db(fields=["status"])
        raise ServiceError.single(
            PlacementErrorCode.INVALID_TRANSITION, f"A {placement.status} placement cannot become {to}.", "id"
        )
    placement.refresh_from_db()
    return placement


@transaction.atomic
def placement_accept(*, placement: Placement, merchant: Merchant) -> Placement:
    """The publisher accepts a proposed placement (the issuer cannot accept its own proposal)."""
    if placement.publisher_id != merchant.pk:
        raise ServiceError.single(CommonErrorCode.NOT_FOUND, "Placement not found.", "id")
    if placement.campaign.status == Campaign.Status.ENDED:
        raise ServiceError.single(PlacementErrorCode.CAMPAIGN_NOT_ACTIVE, "The campaign has ended.", "id")
    placement = _placement_transition(
        placement,
        to=Placement.Status.ACCEPTED,
        allowed_from=(Placement.Status.PROPOSED,),
        decided_at=timezone.now(),
    )
    _announce_placement(placement, webhook_events.PLACEMENT_ACCEPTED.name)
    return placement


@transaction.atomic
def placement_decline(*, placement: Placement, merchant: Merchant) -> Placement:
    if placement.publisher_id != merchant.pk:
        raise ServiceError.single(CommonErrorCode.NOT_FOUND, "Placement not found.", "id")
    placement = _placement_transition(
        placement,
        to=Placement.Status.DECLINED,
        allowed_from=(Placement.Status.PROPOSED,),
        decided_at=timezone.now(),
    )
    _announce_placement(placement, webhook_events.PLACEMENT_DECLINED.name)
    return placement


@transaction.atomic
def placement_end(*, placement: Placement, merchant: Merchant) -> Placement:
    """Either party ends an open placement; coupons already issued stay valid."""
    if merchant.pk not in (placement.issuer_id, placement.publisher_id):
        raise ServiceError.single(CommonErrorCode.NOT_FOUND, "Placement not found.", "id")
    return _placement_transition(
        placement,
        to=Placement.Status.ENDED,
        allowed_from=OPEN_PLACEMENT_STATES,
        ended_at=timezone.now(),
        ended_by=merchant,
    )


# --- partner acceptance -----------------------------------------------------------------------
#
# invited -> accepted | declined (the partner); invited / accepted -> ended (either side).
# Transitions are conditional UPDATEs, so two concurrent calls cannot both win.

REIMBURSEMENT_MAX = 10**15  # minor units, as campaign amounts


def max_discount_per_coupon(campaign: Campaign) -> int | None:
    """The most one coupon of ``campaign`` can take off an order; None when unbounded
    (percent off without a cap)."""
    kind = campaign.benefit_kind
    if kind == Campaign.BenefitKind.AMOUNT_OFF:
        return campaign.amount_off
    if kind == Campaign.BenefitKind.PERCENT_OFF:
        return campaign.percent_cap
    if kind == Campaign.BenefitKind.FREE_ITEM:
        return campaign.free_item_value
    return None


def _amount(errors: ErrorCollector, field: str, value: Any, *, required: bool) -> None:
    if value is None:
        if required:
            errors.add(field, CommonErrorCode.REQUIRED, "This field is required.")
    elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= REIMBURSEMENT_MAX:
        errors.add(field, CommonErrorCode.OUT_OF_RANGE, f"Minor units between 0 and {REIMBURSEMENT_MAX}.")


@transaction.atomic
def campaign_partner_invite(
    *,
    campaign: Campaign,
    partner: Merchant | None,
    all_stores: bool = True,
    max_reimbursement: int | None,
    handling_fee: int | None = None,
) -> CampaignPartner:
    """The issuer invites ``partner`` (None: unknown) to accept ``campaign`` at all its
    stores, or at stores the partner chooses when it accepts.

    ``max_reimbursement`` (minor units of the campaign's currency) caps the discount
    reimbursed per write-off and may not exceed the campaign's largest discount per coupon
    (REIMBURSEMENT_ABOVE_DISCOUNT); ``handling_fee`` is paid per write-off on top. Only an
    active campaign (its terms frozen) can be offered; one open invitation per partner.
    """
    errors = ErrorCollector()
    campaign = Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)
    if partner is None:
        errors.add("partner_slug", CommonErrorCode.NOT_FOUND, "Merchant not found.")
    elif partner.pk == campaign.merchant_id:
        errors.add(
            "partner_slug",
            CampaignPartnerErrorCode.OWN_CAMPAIGN,
            "An issuer cannot partner its own campaign.",
        )
    if campaign.status != Campaign.Status.ACTIVE:
        errors.add(
            "campaign_id",
            CampaignPartnerErrorCode.CAMPAIGN_NOT_ACTIVE,
            "Only an active campaign can be offered to partners.",
        )
    _amount(errors, "max_reimbursement", max_reimbursement, required=True)
    _amount(errors, "handling_fee", handling_fee, required=False)
    most = max_discount_per_coupon(campaign)
    if isinstance(max_reimbursement, int) and most is not None and max_reimbursement > most:
        errors.add(
            "max_reimbursement",
            CampaignPartnerErrorCode.REIMBURSEMENT_ABOVE_DISCOUNT,
            f"At most the campaign's largest discount per coupon ({most}).",
        )
    errors.raise_if_any()
    partnership = CampaignPartner(
        campaign=campaign,
        issuer_id=campaign.merchant_id,
        partner=partner,
        all_stores=bool(all_stores),
        max_reimbursement=max_reimbursement,
        handling_fee=handling_fee or 0,
    )
    try:
        with transaction.atomic():
            partnership.save()
    except IntegrityError:
        raise ServiceError.single(
            CampaignPartnerErrorCode.OPEN_PARTNERSHIP_EXISTS,
            "This merchant already has an open invitation to this campaign.",
            "partner_slug",
        ) from None
    return partnership


def _partner_transition(
    partnership: CampaignPartner, *, to: str, allowed_from: tuple[str, ...], **extra: Any
) -> CampaignPartner:
    updated = CampaignPartner.objects.filter(pk=partnership.pk, status__in=allowed_from).update(
        status=to, **extra
    )
    if not updated:
        partnership.refresh_from_db(fields=["status"])
        raise ServiceError.single(
            CampaignPartnerErrorCode.INVALID_TRANSITION,
            f"An {partnership.status} partnership cannot become {to}."
            if partnership.status[0] in "aeiou"
            else f"A {partnership.status} partnership cannot become {to}.",
            "id",
        )
    partnership.refresh_from_db()
    return partnership


@transaction.atomic
def campaign_partner_accept(
    *, partnership: CampaignPartner, merchant: Merchant, store_ids: list[int | None] | None = None
) -> CampaignPartner:
    """The partner accepts an invitation (the issuer cannot accept its own). An invitation
    for chosen stores needs ``store_ids`` (the partner's own stores); one for all stores
    takes none."""
    if partnership.partner_id != merchant.pk:
        raise ServiceError.not_found("id", "Partnership")
    errors = ErrorCollector()
    if partnership.campaign.status == Campaign.Status.ENDED:
        errors.add("id", CampaignPartnerErrorCode.CAMPAIGN_NOT_ACTIVE, "The campaign has ended.")
    stores: list[Store] = []
    if partnership.all_stores:
        if store_ids:
            errors.add("store_ids", CommonErrorCode.INVALID, "This invitation covers all your stores.")
    elif not store_ids:
        errors.add("store_ids", CommonErrorCode.REQUIRED, "Choose the stores that accept the campaign.")
    else:
        wanted = {pk for pk in store_ids if pk}
        stores = list(Store.objects.filter(merchant=merchant, pk__in=wanted))
        if None in store_ids or len(stores) != len(wanted):
            errors.add("store_ids", CommonErrorCode.NOT_FOUND, "Store not found.")
    errors.raise_if_any()
    partnership = _partner_transition(
        partnership,
        to=CampaignPartner.Status.ACCEPTED,
        allowed_from=(CampaignPartner.Status.INVITED,),
        decided_at=timezone.now(),
    )
    if stores:
        partnership.stores.set(stores)
    return partnership


@transaction.atomic
def campaign_partner_decline(*, partnership: CampaignPartner, merchant: Merchant) -> CampaignPartner:
    if partnership.partner_id != merchant.pk:
        raise ServiceError.not_found("id", "Partnership")
    return _partner_transition(
        partnership,
        to=CampaignPartner.Status.DECLINED,
        allowed_from=(CampaignPartner.Status.INVITED,),
        decided_at=timezone.now(),
    )


@transaction.atomic
def campaign_partner_end(*, partnership: CampaignPartner, merchant: Merchant) -> CampaignPartner:
    """Either side ends an open partnership. The partner's stores refuse the campaign's
    coupons from then on (WRONG_MERCHANT); write-offs already made keep their reimbursement."""
    if merchant.pk not in (partnership.issuer_id, partnership.partner_id):
        raise ServiceError.not_found("id", "Partnership")
    return _partner_transition(
        partnership,
        to=CampaignPartner.Status.ENDED,
        allowed_from=OPEN_PARTNER_STATES,
        ended_at=timezone.now(),
        ended_by=merchant,
    )


# --- live changes ------------------------------------------------------------------------------

LIVE_FIELDS = ("budget_cap", "max_redemptions", "valid_until", "daily_redemption_cap", "daily_spend_cap")
COUNT_MAX = 2**31 - 1
AMOUNT_MAX = 10**15


def _validate_live(
    errors: ErrorCollector, campaign: Campaign, changes: dict[str, Any], used: tuple[int, int]
):
    limits = {
        "max_redemptions": (COUNT_MAX, used[0]),
        "budget_cap": (AMOUNT_MAX, used[1]),
        "daily_redemption_cap": (COUNT_MAX, 0),
        "daily_spend_cap": (AMOUNT_MAX, 0),
    }
    for field, (top, floor) in limits.items():
        value = changes.get(field)
        if field not in changes or value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            errors.add(field, CommonErrorCode.OUT_OF_RANGE, f"Between 1 and {top}, or null for no cap.")
        elif value < floor:
            errors.add(field, CampaignErrorCode.BELOW_USED, f"The campaign has already used {floor}.")
    if "valid_until" in changes:
        value = changes["valid_until"]
        current = campaign.valid_until
        if value is None or value.utcoffset() is None:
            errors.add("valid_until", CommonErrorCode.INVALID, "A date and time with a time zone.")
        elif current is None or value <= current or value <= timezone.now():
            errors.add(
                "valid_until",
                CampaignErrorCode.VALIDITY_NOT_EXTENDED,
                "Validity can only be extended: later than the current end and than now.",
            )


def _extend_coupons(campaign: Campaign, old_until, new_until) -> None:
    """Coupons whose end was the campaign's get the new one (capped by their days after issue);
    ones that expired only because of it are usable again."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE coupons_coupon SET status = 'issued', valid_until = CASE WHEN %(days)s::integer IS NULL "
            "THEN %(new)s ELSE LEAST(%(new)s, issued_at + make_interval(days => %(days)s::integer)) END "
            "WHERE campaign_id = %(campaign)s AND status IN ('issued', 'expired') AND valid_until = %(old)s",
            {
                "campaign": campaign.pk,
                "new": new_until,
                "old": old_until,
                "days": campaign.valid_days_after_issue,
            },
        )


def _recount_today(campaign: Campaign, now) -> None:
    """A daily cap that starts now counts today's write-offs already made."""
    day = budget.day_of(now, campaign.merchant.timezone)
    start = dt.datetime.combine(day, dt.time(), tzinfo=zoneinfo.ZoneInfo(campaign.merchant.timezone))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO campaigns_campaigndailyusage (campaign_id, day, redeemed_count, spent_amount) "
            "SELECT %(campaign)s, %(day)s, count(*), coalesce(sum(discount_amount + fee_amount), 0) "
            "  FROM redemptions_redemption WHERE campaign_id = %(campaign)s AND status = 'verified' "
            "   AND created_at >= %(start)s AND created_at < %(end)s "
            "ON CONFLICT (campaign_id, day) DO UPDATE "
            "   SET redeemed_count = EXCLUDED.redeemed_count, spent_amount = EXCLUDED.spent_amount",
            {"campaign": campaign.pk, "day": day, "start": start, "end": start + dt.timedelta(days=1)},
        )


@transaction.atomic
def campaign_change_live(
    *,
    campaign: Campaign,
    actor: Merchant,
    actor_api_key_id: int | None = None,
    actor_label: str,
    **changes: Any,
) -> Campaign:
    """Change the caps, validity or daily caps of an active or paused campaign.

    Caps may go up, or down to what is already used (never below: BELOW_USED), or to null
    (no cap); the slots are re-spread under the rebalance lock with every slot held, so no
    write-off passes a cap during or after the change and the allowances sum to the new caps.
    Validity only extends. Each changed field is recorded with its actor (the history), and
    the issuer's endpoints hear ``campaign.changed``. One transaction.
    """
    from backend.webhooks import events as webhook_events

    from .models import CampaignChange

    unknown = set(changes) - set(LIVE_FIELDS)
    if unknown:
        raise TypeError(f"not live-changeable: {sorted(unknown)}")
    campaign = Campaign.objects.select_for_update(no_key=True).select_related("merchant").get(pk=campaign.pk)
    if campaign.status not in (Campaign.Status.ACTIVE, Campaign.Status.PAUSED):
        raise ServiceError.single(
            CampaignErrorCode.NOT_LIVE, f"A {campaign.status} campaign has no live changes.", "id"
        )
    changes = {k: v for k, v in changes.items() if getattr(campaign, k) != v}
    caps_change = bool({"budget_cap", "max_redemptions"} & set(changes))
    used = budget.usage(campaign_id=campaign.pk, lock=caps_change)
    errors = ErrorCollector()
    _validate_live(errors, campaign, changes, used)
    errors.raise_if_any()
    if not changes:
        return campaign
    old = {field: getattr(campaign, field) for field in changes}
    daily_before = campaign.daily_redemption_cap is not None or campaign.daily_spend_cap is not None
    for field, value in changes.items():
        setattr(campaign, field, value)
    campaign.save(update_fields=[*changes, "updated_at"])
    if caps_change:
        budget.set_caps(
            campaign_id=campaign.pk, max_redemptions=campaign.max_redemptions, budget_cap=campaign.budget_cap
        )
    if "valid_until" in changes:
        _extend_coupons(campaign, old["valid_until"], campaign.valid_until)
    daily_after = campaign.daily_redemption_cap is not None or campaign.daily_spend_cap is not None
    if daily_after and not daily_before:
        _recount_today(campaign, timezone.now())

    def json_value(value: Any) -> Any:
        return value.isoformat() if hasattr(value, "isoformat") else value

    CampaignChange.objects.bulk_create(
        CampaignChange(
            campaign=campaign,
            field=field,
            old_value=json_value(old[field]),
            new_value=json_value(changes[field]),
            actor_merchant=actor,
            actor_api_key_id=actor_api_key_id,
            actor_label=actor_label[:200],
        )
        for field in changes
    )
    webhook_events.announce(
        topic=webhook_events.CAMPAIGN_CHANGED.name,
        recipients=[
            (
                campaign.merchant_id,
                {
                    "campaign": {"id": ids.encode("Campaign", campaign.pk)},
                    "changes": {
                        field: {"old": json_value(old[field]), "new": json_value(changes[field])}
                        for field in changes
                    },
                    "actor": actor_label[:200],
                },
            )
        ],
        ordering_key=f"campaign:{campaign.pk}",
    )
    return campaign
