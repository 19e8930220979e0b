"""GraphQL for campaigns and placements: thin, every rule lives in services and selectors."""

from __future__ import annotations

from typing import Any

import graphene
from django.db.models import Q, Sum
from graphene import relay
from graphene.utils.str_converters import to_camel_case
from graphene_django.fields import DjangoConnectionField

from backend.api import ids
from backend.api.errors import ServiceError
from backend.api.mutations import BaseMutation
from backend.api.permissions import ADMIN, ANY_KEY, BRAND, caller_of, require_key
from backend.api.scalars import DateTime, Money
from backend.api.selection import selected_paths, selects_any
from backend.api.types import CountableConnection, MerchantScopedType, ModelType
from backend.audience.selectors import listed_pool
from backend.merchants.schema import StoreType

from . import selectors, services
from .errors import CampaignErrorCode, CampaignPartnerErrorCode, PlacementErrorCode
from .models import Campaign, CampaignPartner, CampaignSlot, Placement
from .terms import TERM_FIELDS

WRITE = (ADMIN, BRAND)

CampaignStatus = graphene.Enum.from_enum(
    Campaign.Status, name="CampaignStatus", description="draft -> active <-> paused -> ended."
)
BenefitKind = graphene.Enum.from_enum(
    Campaign.BenefitKind, name="BenefitKind", description="What the fan gets."
)
PlacementStatus = graphene.Enum.from_enum(
    Placement.Status, name="PlacementStatus", description="proposed -> accepted | declined; -> ended."
)

CampaignPartnerStatus = graphene.Enum.from_enum(
    CampaignPartner.Status,
    name="CampaignPartnerStatus",
    description="invited -> accepted | declined; invited / accepted -> ended.",
)


class PartnerSide(graphene.Enum):
    ISSUER = "issuer"
    PARTNER = "partner"


class PlacementSide(graphene.Enum):
    ISSUER = "issuer"
    PUBLISHER = "publisher"


def _value(enum_or_value: Any) -> Any:
    return getattr(enum_or_value, "value", enum_or_value)


# Fields of a campaign computed from its budget slots: a list reaching campaigns through a
# foreign key loads them for the whole page when one of these is selected.
CAMPAIGN_USAGE = ("campaign.redeemedCount", "campaign.spentAmount")


class CouponCounts(graphene.ObjectType):
    """Coupons by state: issued (still usable), claimed, redeemed, expired, revoked."""

    issued = graphene.Int(required=True)
    claimed = graphene.Int(description="Null until fans can claim coupons (claim links).")
    redeemed = graphene.Int(required=True)
    expired = graphene.Int(required=True)
    revoked = graphene.Int(required=True)


def _coupon_counts(owner: Campaign | Placement) -> CouponCounts:
    return CouponCounts(claimed=None, **selectors.coupon_counts(owner=owner))


class CampaignChangeType(graphene.ObjectType):
    """One live change of a campaign: the field, its old and new value, who and when."""

    field = graphene.String(required=True, description="camelCase field name.")
    old_value = graphene.JSONString()
    new_value = graphene.JSONString()
    actor = graphene.String(required=True, description="The API key's name at the time.")
    actor_api_key_id = graphene.ID()
    changed_at = DateTime(required=True)


class CampaignType(MerchantScopedType):
    status = CampaignStatus(required=True)
    benefit_kind = BenefitKind(required=True)
    accepted_stores = graphene.List(
        graphene.NonNull(StoreType), required=True, description="Empty when allStores is true."
    )
    redeemed_count = graphene.Int(required=True, description="Verified, non-voided write-offs.")
    referral_reward_id = graphene.ID(
        description="The campaign a sharer gets a coupon of when a friend's coupon is written off."
    )
    spent_amount = Money(required=True, description="Discounts given plus fees, minor units.")
    placements = graphene.List(graphene.NonNull(lambda: PlacementType), required=True)
    coupon_counts = graphene.Field(CouponCounts, required=True)
    history = graphene.List(
        graphene.NonNull(CampaignChangeType), required=True, description="Live changes, oldest first."
    )

    class Meta:
        model = Campaign
        name = "Campaign"
        fields = (
            "name",
            "description",
            "amount_off",
            "percent_off_bps",
            "percent_cap",
            "free_item_name",
            "free_item_value",
            "min_spend",
            "currency",
            "valid_from",
            "valid_until",
            "valid_days_after_issue",
            "all_stores",
            "per_fan_limit",
            "coupons_per_fan",
            "max_redemptions",
            "budget_cap",
            "fee_per_redemption",
            "publisher_share_bps",
            "void_window_seconds",
            "attribution_window_days",
            "voided_coupon_returns",
            "daily_redemption_cap",
            "daily_spend_cap",
            "allow_gifting",
            "created_at",
            "updated_at",
            "activated_at",
            "ended_at",
        )
        convert_choices_to_enum = False
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    def resolve_accepted_stores(root, info):
        return [] if root.all_stores else sorted(root.accepted_stores.all(), key=lambda store: store.pk)

    def resolve_redeemed_count(root, info):
        return CampaignType._usage(root)[0]

    def resolve_referral_reward_id(root, info):
        return ids.encode("Campaign", root.referral_reward_id) if root.referral_reward_id else None

    def resolve_spent_amount(root, info):
        return CampaignType._usage(root)[1]

    @staticmethod
    def _usage(root) -> tuple[int, int]:
        if hasattr(root, "redeemed_total"):  # annotated by the selectors
            return root.redeemed_total or 0, root.spent_total or 0
        usage = CampaignSlot.objects.filter(campaign=root).aggregate(
            count=Sum("redeemed_count"), spent=Sum("spent_amount")
        )
        return usage["count"] or 0, usage["spent"] or 0

    def resolve_coupon_counts(root, info):
        return _coupon_counts(root)

    def resolve_history(root, info):
        return [
            CampaignChangeType(
                field=to_camel_case(change.field),
                old_value=change.old_value,
                new_value=change.new_value,
                actor=change.actor_label,
                actor_api_key_id=ids.encode("ApiKey", change.actor_api_key_id)
                if change.actor_api_key_id
                else None,
                changed_at=change.changed_at,
            )
            for change in root.changes.all()
        ]

    def resolve_placements(root, info):
        if hasattr(root, "issuer_placements"):  # prefetched by campaigns_for
            return root.issuer_placements
        caller = caller_of(info)
        return list(selectors.placements_for(merchant=caller.merchant, side="issuer", campaign_id=root.pk))


class CampaignOffer(graphene.ObjectType):
    """The terms of a placed campaign, as both parties of the placement see them."""

    name = graphene.String(required=True)
    description = graphene.String(required=True)
    status = CampaignStatus(required=True)
    benefit_kind = BenefitKind(required=True)
    amount_off = Money()
    percent_off_bps = graphene.Int()
    percent_cap = Money()
    free_item_name = graphene.String(required=True)
    free_item_value = Money()
    min_spend = Money(required=True)
    currency = graphene.String(required=True)
    valid_from = DateTime()
    valid_until = DateTime()
    valid_days_after_issue = graphene.Int()
    coupons_per_fan = graphene.Int(required=True)
    per_fan_limit = graphene.Int(required=True)
    fee_per_redemption = Money(required=True)


class PlacementType(ModelType):
    status = PlacementStatus(required=True)
    side = PlacementSide(required=True, description="The caller's side of this placement.")
    issuer_name = graphene.String(required=True)
    publisher_name = graphene.String(required=True)
    pool_id = graphene.ID(required=True)
    pool_name = graphene.String(required=True)
    offer = graphene.Field(CampaignOffer, required=True)
    campaign = graphene.Field(CampaignType, description="The campaign itself: the issuer's side only.")
    ended_by = PlacementSide(description="Which side ended it.")
    coupon_counts = graphene.Field(CouponCounts, required=True)

    class Meta:
        model = Placement
        name = "Placement"
        fields = (
            "quota",
            "publisher_share_bps",
            "issued_count",
            "share_allowance",
            "share_issued_count",
            "proposed_at",
            "decided_at",
            "ended_at",
            "auto_accepted",
        )
        convert_choices_to_enum = False
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    @classmethod
    def get_queryset(cls, queryset, info):
        caller = caller_of(info)
        if caller is None:
            return queryset.none()
        return queryset.filter(Q(issuer=caller.merchant) | Q(publisher=caller.merchant))

    def resolve_side(root, info):
        return "issuer" if root.issuer_id == caller_of(info).merchant.pk else "publisher"

    def resolve_issuer_name(root, info):
        return root.issuer.name

    def resolve_publisher_name(root, info):
        return root.publisher.name

    def resolve_pool_id(root, info):
        return ids.encode("FanPool", root.pool_id)

    def resolve_pool_name(root, info):
        return root.pool.name

    def resolve_offer(root, info):
        return root.campaign

    def resolve_campaign(root, info):
        return root.campaign if root.issuer_id == caller_of(info).merchant.pk else None

    def resolve_coupon_counts(root, info):
        return _coupon_counts(root)

    def resolve_ended_by(root, info):
        if root.ended_by_id is None:
            return None
        return "issuer" if root.ended_by_id == root.issuer_id else "publisher"


class CampaignPartnerType(ModelType):
    """An issuer's agreement that a partner merchant's stores accept one of its campaigns,
    as both sides see it. Amounts are minor units of the campaign's currency."""

    status = CampaignPartnerStatus(required=True)
    side = PartnerSide(required=True, description="The caller's side of this partnership.")
    issuer_name = graphene.String(required=True)
    partner_name = graphene.String(required=True)
    partner_slug = graphene.String(required=True)
    currency = graphene.String(required=True)
    store_names = graphene.List(
        graphene.NonNull(graphene.String),
        required=True,
        description="The partner's chosen stores; empty when allStores is true or not yet chosen.",
    )
    stores = graphene.List(
        graphene.NonNull(StoreType), description="The chosen stores themselves: the partner's side only."
    )
    offer = graphene.Field(CampaignOffer, required=True)
    campaign = graphene.Field(CampaignType, description="The campaign itself: the issuer's side only.")
    ended_by = PartnerSide(description="Which side ended it.")

    class Meta:
        model = CampaignPartner
        name = "CampaignPartner"
        fields = (
            "all_stores",
            "max_reimbursement",
            "handling_fee",
            "invited_at",
            "decided_at",
            "ended_at",
        )
        convert_choices_to_enum = False
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    @classmethod
    def get_queryset(cls, queryset, info):
        caller = caller_of(info)
        if caller is None:
            return queryset.none()
        return queryset.filter(Q(issuer=caller.merchant) | Q(partner=caller.merchant))

    def resolve_side(root, info):
        return "issuer" if root.issuer_id == caller_of(info).merchant.pk else "partner"

    def resolve_issuer_name(root, info):
        return root.issuer.name

    def resolve_partner_name(root, info):
        return root.partner.name

    def resolve_partner_slug(root, info):
        return root.partner.slug

    def resolve_currency(root, info):
        return root.campaign.currency

    def resolve_store_names(root, info):
        return [store.name for store in sorted(root.stores.all(), key=lambda store: store.pk)]

    def resolve_stores(root, info):
        if root.partner_id != caller_of(info).merchant.pk:
            return None
        return sorted(root.stores.all(), key=lambda store: store.pk)

    def resolve_offer(root, info):
        return root.campaign

    def resolve_campaign(root, info):
        return root.campaign if root.issuer_id == caller_of(info).merchant.pk else None

    def resolve_ended_by(root, info):
        if root.ended_by_id is None:
            return None
        return "issuer" if root.ended_by_id == root.issuer_id else "partner"


def campaign_of(caller, global_id: str, field: str = "id") -> Campaign:
    """The caller's campaign named by a GraphQL id; NOT_FOUND on ``field`` otherwise."""
    campaign = selectors.campaign_for(
        merchant=caller.merchant, campaign_id=ids.decode("Campaign", global_id) or 0
    )
    if campaign is None:
        raise ServiceError.not_found(field, "Campaign")
    return campaign


def placement_of(caller, global_id: str, field: str = "id") -> Placement:
    """The caller's placement named by a GraphQL id (issuer or publisher side); NOT_FOUND on
    ``field`` for a missing id and another merchant's alike. Other apps' mutations use it too."""
    placement = selectors.placement_for(
        merchant=caller.merchant, placement_id=ids.decode("Placement", global_id) or 0
    )
    if placement is None:
        raise ServiceError.not_found(field, "Placement")
    return placement


def partnership_of(caller, global_id: str, field: str = "id") -> CampaignPartner:
    """The caller's partnership (issuer or partner side); NOT_FOUND otherwise."""
    partnership = selectors.partnership_for(
        merchant=caller.merchant, partnership_id=ids.decode("CampaignPartner", global_id) or 0
    )
    if partnership is None:
        raise ServiceError.not_found(field, "Partnership")
    return partnership


class Query(graphene.ObjectType):
    campaign_partners = DjangoConnectionField(
        CampaignPartnerType,
        side=PartnerSide(),
        status=CampaignPartnerStatus(),
        campaign_id=graphene.ID(),
        description="Partnerships the caller is party to, as the issuer or the partner.",
    )
    campaign_partner = graphene.Field(CampaignPartnerType, id=graphene.ID(required=True))
    campaigns = DjangoConnectionField(CampaignType, status=CampaignStatus())
    campaign = graphene.Field(CampaignType, id=graphene.ID(required=True))
    placements = DjangoConnectionField(
        PlacementType, side=PlacementSide(), status=PlacementStatus(), campaign_id=graphene.ID()
    )
    placement = graphene.Field(PlacementType, id=graphene.ID(required=True))

    def resolve_campaigns(root, info, status=None, **kwargs):
        caller = require_key(info, ANY_KEY)
        return selectors.campaigns_for(
            merchant=caller.merchant,
            status=_value(status),
            with_placements="placements" in (paths := selected_paths(info)),
            with_coupon_counts="couponCounts" in paths,
            with_history="history" in paths,
        )

    def resolve_campaign(root, info, id):
        caller = require_key(info, ANY_KEY)
        return selectors.campaign_for(merchant=caller.merchant, campaign_id=ids.decode("Campaign", id) or 0)

    def resolve_placements(root, info, side=None, status=None, campaign_id=None, **kwargs):
        caller = require_key(info, ANY_KEY)
        return selectors.placements_for(
            merchant=caller.merchant,
            side=_value(side),
            status=_value(status),
            campaign_id=(ids.decode("Campaign", campaign_id) or 0) if campaign_id is not None else None,
            with_campaign_usage=selects_any(paths := selected_paths(info), *CAMPAIGN_USAGE),
            with_coupon_counts="couponCounts" in paths,
        )

    def resolve_campaign_partners(root, info, side=None, status=None, campaign_id=None, **kwargs):
        caller = require_key(info, ANY_KEY)
        return selectors.partnerships_for(
            merchant=caller.merchant,
            side=_value(side),
            status=_value(status),
            campaign_id=(ids.decode("Campaign", campaign_id) or 0) if campaign_id is not None else None,
            with_campaign_usage=selects_any(selected_paths(info), *CAMPAIGN_USAGE),
        )

    def resolve_campaign_partner(root, info, id):
        caller = require_key(info, ANY_KEY)
        return selectors.partnership_for(
            merchant=caller.merchant, partnership_id=ids.decode("CampaignPartner", id) or 0
        )

    def resolve_placement(root, info, id):
        caller = require_key(info, ANY_KEY)
        return selectors.placement_for(
            merchant=caller.merchant, placement_id=ids.decode("Placement", id) or 0
        )


class _CampaignTermsFields:
    description = graphene.String()
    amount_off = Money(description="AMOUNT_OFF: minor units off the order.")
    percent_off_bps = graphene.Int(description="PERCENT_OFF: 1..10000 basis points.")
    percent_cap = Money(description="PERCENT_OFF: the most it takes off, minor units (required).")
    free_item_name = graphene.String(description="FREE_ITEM: what the fan gets.")
    free_item_value = Money(description="FREE_ITEM: its price, minor units.")
    min_spend = Money()
    currency = graphene.String(description="ISO 4217; defaults to the merchant's currency.")
    valid_from = DateTime()
    valid_until = DateTime()
    valid_days_after_issue = graphene.Int(description="Each coupon is valid this many days after issue.")
    accepted_store_ids = graphene.List(
        graphene.NonNull(graphene.ID), description="The issuer's own stores; empty or absent = all stores."
    )
    per_fan_limit = graphene.Int()
    coupons_per_fan = graphene.Int()
    max_redemptions = graphene.Int()
    budget_cap = Money()
    fee_per_redemption = Money()
    publisher_share_bps = graphene.Int()
    void_window_seconds = graphene.Int()
    attribution_window_days = graphene.Int()
    voided_coupon_returns = graphene.Boolean()
    allow_gifting = graphene.Boolean(
        description="Fans may give an unused coupon to a friend, once (default true)."
    )


class CampaignCreateInput(_CampaignTermsFields, graphene.InputObjectType):
    name = graphene.String(required=True)
    benefit_kind = BenefitKind(required=True)


class CampaignUpdateInput(_CampaignTermsFields, graphene.InputObjectType):
    name = graphene.String()
    benefit_kind = BenefitKind()


def _terms_from(input_: dict) -> tuple[dict, list[int | None] | None]:
    """Only the fields the client sent (an explicit null included), as service keywords."""
    terms = {key: _value(value) for key, value in dict(input_).items() if key in TERM_FIELDS}
    store_ids = None
    if "accepted_store_ids" in input_ and input_["accepted_store_ids"] is not None:
        store_ids = [ids.decode("Store", gid) for gid in input_["accepted_store_ids"]]
    return terms, store_ids


class CampaignCreate(BaseMutation):
    error_codes = CampaignErrorCode
    campaign = graphene.Field(CampaignType)
    roles = WRITE

    class Arguments:
        input = CampaignCreateInput(required=True)

    @classmethod
    def perform(cls, caller, info, input):
        terms, store_ids = _terms_from(input)
        campaign = services.campaign_create(merchant=caller.merchant, accepted_store_ids=store_ids, **terms)
        return {"campaign": campaign}


class CampaignUpdate(BaseMutation):
    error_codes = CampaignErrorCode
    campaign = graphene.Field(CampaignType)
    roles = WRITE

    class Arguments:
        id = graphene.ID(required=True)
        input = CampaignUpdateInput(required=True)

    @classmethod
    def perform(cls, caller, info, id, input):
        terms, store_ids = _terms_from(input)
        campaign = services.campaign_update(
            campaign=campaign_of(caller, id), accepted_store_ids=store_ids, **terms
        )
        return {"campaign": campaign}


def _campaign_transition(service, doc: str):
    class Transition(BaseMutation):
        error_codes = CampaignErrorCode
        __doc__ = doc
        campaign = graphene.Field(CampaignType)
        roles = WRITE

        class Arguments:
            id = graphene.ID(required=True)

        @classmethod
        def perform(cls, caller, info, id):
            return {"campaign": service(campaign=campaign_of(caller, id))}

    return Transition


class CampaignActivate(_campaign_transition(services.campaign_activate, "draft -> active.")):
    pass


class CampaignPause(_campaign_transition(services.campaign_pause, "active -> paused.")):
    pass


class CampaignResume(_campaign_transition(services.campaign_resume, "paused -> active.")):
    pass


class CampaignEnd(_campaign_transition(services.campaign_end, "Any non-ended -> ended (final).")):
    pass


class PlacementProposeInput(graphene.InputObjectType):
    campaign_id = graphene.ID(required=True)
    pool_id = graphene.ID(required=True, description="A listed pool from the directory.")
    quota = graphene.Int(required=True, description="Most coupons issued through this placement.")
    publisher_share_bps = graphene.Int(description="Defaults to the campaign's publisher share.")


class PlacementPropose(BaseMutation):
    error_codes = PlacementErrorCode
    placement = graphene.Field(PlacementType)
    roles = WRITE

    class Arguments:
        input = PlacementProposeInput(required=True)

    @classmethod
    def perform(cls, caller, info, input):
        campaign = campaign_of(caller, input.campaign_id, field="campaign_id")
        pool = listed_pool(pool_id=ids.decode("FanPool", input.pool_id))
        placement = services.placement_propose(
            campaign=campaign,
            pool=pool,
            quota=input.quota,
            publisher_share_bps=input.get("publisher_share_bps"),
        )
        return {"placement": placement}


def _placement_action(service, doc: str):
    class Action(BaseMutation):
        error_codes = PlacementErrorCode
        __doc__ = doc
        placement = graphene.Field(PlacementType)
        roles = WRITE

        class Arguments:
            id = graphene.ID(required=True)

        @classmethod
        def perform(cls, caller, info, id):
            return {"placement": service(placement=placement_of(caller, id), merchant=caller.merchant)}

    return Action


class PlacementAccept(_placement_action(services.placement_accept, "The publisher accepts a proposal.")):
    pass


class PlacementDecline(_placement_action(services.placement_decline, "The publisher declines a proposal.")):
    pass


class PlacementEnd(_placement_action(services.placement_end, "Either party ends an open placement.")):
    pass


class CampaignPartnerInviteInput(graphene.InputObjectType):
    campaign_id = graphene.ID(required=True, description="An active campaign of the caller's.")
    partner_slug = graphene.String(required=True, description="The partner merchant's slug.")
    all_stores = graphene.Boolean(
        description="All the partner's stores (default); false: the partner chooses them when accepting."
    )
    max_reimbursement = Money(
        required=True,
        description="Most of the discount reimbursed per write-off, minor units of the campaign's "
        "currency; at most the campaign's largest discount per coupon.",
    )
    handling_fee = Money(description="Paid per write-off on top, minor units (default 0).")


class CampaignPartnerInvite(BaseMutation):
    """The issuer invites another merchant to accept an active campaign at its stores."""

    error_codes = CampaignPartnerErrorCode
    campaign_partner = graphene.Field(CampaignPartnerType)
    roles = WRITE

    class Arguments:
        input = CampaignPartnerInviteInput(required=True)

    @classmethod
    def perform(cls, caller, info, input):
        partnership = services.campaign_partner_invite(
            campaign=campaign_of(caller, input.campaign_id, field="campaign_id"),
            partner=selectors.merchant_by_slug(slug=input.partner_slug),
            all_stores=input.get("all_stores") is not False,
            max_reimbursement=input.max_reimbursement,
            handling_fee=input.get("handling_fee"),
        )
        return {"campaign_partner": partnership}


class CampaignPartnerAccept(BaseMutation):
    """The partner accepts an invitation; for chosen stores it names them (its own)."""

    error_codes = CampaignPartnerErrorCode
    campaign_partner = graphene.Field(CampaignPartnerType)
    roles = WRITE

    class Arguments:
        id = graphene.ID(required=True)
        store_ids = graphene.List(
            graphene.NonNull(graphene.ID), description="Required when the invitation is for chosen stores."
        )

    @classmethod
    def perform(cls, caller, info, id, store_ids=None):
        partnership = services.campaign_partner_accept(
            partnership=partnership_of(caller, id),
            merchant=caller.merchant,
            store_ids=[ids.decode("Store", gid) for gid in store_ids] if store_ids is not None else None,
        )
        return {"campaign_partner": partnership}


def _partner_action(service, doc: str):
    class Action(BaseMutation):
        error_codes = CampaignPartnerErrorCode
        __doc__ = doc
        campaign_partner = graphene.Field(CampaignPartnerType)
        roles = WRITE

        class Arguments:
            id = graphene.ID(required=True)

        @classmethod
        def perform(cls, caller, info, id):
            partnership = service(partnership=partnership_of(caller, id), merchant=caller.merchant)
            return {"campaign_partner": partnership}

    return Action


class CampaignPartnerDecline(
    _partner_action(services.campaign_partner_decline, "The partner declines an invitation.")
):
    pass


class CampaignPartnerEnd(
    _partner_action(services.campaign_partner_end, "Either side ends an open partnership.")
):
    pass


class CampaignLiveChangeInput(graphene.InputObjectType):
    """Only the fields sent change; an explicit null removes that cap."""

    budget_cap = Money(description="Minor units; never below what is spent (BELOW_USED).")
    max_redemptions = graphene.Int(description="Never below the write-offs made (BELOW_USED).")
    valid_until = DateTime(description="Only later (VALIDITY_NOT_EXTENDED).")
    daily_redemption_cap = graphene.Int(description="Write-offs per local day.")
    daily_spend_cap = Money(description="Discount + fees per local day, minor units.")


class CampaignLiveChange(BaseMutation):
    """Change an active or paused campaign's caps, validity or daily caps (recorded in its history)."""

    campaign = graphene.Field(CampaignType)
    roles = WRITE
    error_codes = CampaignErrorCode

    class Arguments:
        id = graphene.ID(required=True)
        input = CampaignLiveChangeInput(required=True)

    @classmethod
    def perform(cls, caller, info, id, input):
        changes = {key: value for key, value in dict(input).items() if key in services.LIVE_FIELDS}
        campaign = services.campaign_change_live(
            campaign=campaign_of(caller, id),
            actor=caller.merchant,
            actor_api_key_id=caller.api_key.pk if caller.api_key else None,
            actor_label=caller.api_key.name if caller.api_key else caller.merchant.name,
            **changes,
        )
        return {"campaign": campaign}


class Mutation(graphene.ObjectType):
    campaign_live_change = CampaignLiveChange.Field()
    campaign_create = CampaignCreate.Field()
    campaign_update = CampaignUpdate.Field()
    campaign_activate = CampaignActivate.Field()
    campaign_pause = CampaignPause.Field()
    campaign_resume = CampaignResume.Field()
    campaign_end = CampaignEnd.Field()
    placement_propose = PlacementPropose.Field()
    placement_accept = PlacementAccept.Field()
    placement_decline = PlacementDecline.Field()
    placement_end = PlacementEnd.Field()
    campaign_partner_invite = CampaignPartnerInvite.Field()
    campaign_partner_accept = CampaignPartnerAccept.Field()
    campaign_partner_decline = CampaignPartnerDecline.Field()
    campaign_partner_end = CampaignPartnerEnd.Field()
