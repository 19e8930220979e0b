"""GraphQL for the publisher's fan operations: claim links (with their QR posters)."""

from __future__ import annotations

import graphene
from django.urls import reverse
from graphene import relay

from backend.api import ids
from backend.api.errors import ServiceError
from backend.api.mutations import BaseMutation
from backend.api.permissions import ADMIN, ANY_KEY, BRAND, require_key
from backend.api.scalars import DateTime
from backend.api.types import MerchantScopedType
from backend.audience.errors import AudienceErrorCode
from backend.campaigns.schema import campaign_of, placement_of
from backend.coupons.delivery import delivery_url

from . import selectors, services
from .errors import ClaimLinkErrorCode, PublishErrorCode, SharingErrorCode
from .models import ClaimLink

WRITE = (ADMIN, BRAND)


class ClaimLinkType(MerchantScopedType):
    """A link through which fans claim a placement's coupons; ``channel`` tags where it is posted."""

    merchant_field = "placement__publisher"
    placement_id = graphene.ID(required=True)
    url = graphene.String(required=True, description="The claim page, absolute: post it or print the poster.")
    poster_png_url = graphene.String(required=True, description="QR poster as PNG (same API key).")
    poster_svg_url = graphene.String(required=True, description="QR poster as SVG (same API key).")
    is_active = graphene.Boolean(required=True)
    claim_count = graphene.Int(required=True, description="Coupons claimed through this link.")

    class Meta:
        model = ClaimLink
        name = "ClaimLink"
        fields = ("channel", "token", "created_at", "disabled_at")
        interfaces = (relay.Node,)

    def resolve_placement_id(root, info):
        return ids.encode("Placement", root.placement_id)

    def resolve_url(root, info):
        return info.context.build_absolute_uri(reverse("fans:claim", kwargs={"token": root.token}))

    def resolve_poster_png_url(root, info):
        return reverse("fans:claim-link-poster", kwargs={"link_id": root.pk, "fmt": "png"})

    def resolve_poster_svg_url(root, info):
        return reverse("fans:claim-link-poster", kwargs={"link_id": root.pk, "fmt": "svg"})

    def resolve_claim_count(root, info):
        count = getattr(root, "claim_count", None)
        return count if count is not None else root.claims.count()


ClaimDimension = graphene.Enum("ClaimDimension", [("CHANNEL", "CHANNEL"), ("SHARER", "SHARER")])


class ClaimFunnelRow(graphene.ObjectType):
    key = graphene.String(required=True, description="The channel, or the sharer's fan id.")
    claimed = graphene.Int(required=True)
    redeemed = graphene.Int(required=True)


class ClaimFunnel(graphene.ObjectType):
    """issued -> claimed -> shared -> redeemed for one placement, with rows by the dimension."""

    issued = graphene.Int(required=True)
    claimed = graphene.Int(required=True)
    shared = graphene.Int(required=True, description="Fans who made a share link.")
    redeemed = graphene.Int(required=True)
    rows = graphene.List(graphene.NonNull(ClaimFunnelRow), required=True)


class Query(graphene.ObjectType):
    claim_funnel = graphene.Field(
        ClaimFunnel,
        placement_id=graphene.ID(required=True),
        dimension=ClaimDimension(required=True),
        description="The placement's claim funnel by CHANNEL or SHARER: its issuer and publisher only.",
    )
    claim_links = graphene.List(
        graphene.NonNull(ClaimLinkType),
        required=True,
        placement_id=graphene.ID(required=True),
        description="The placement's claim links: its publisher only (empty otherwise).",
    )

    def resolve_claim_funnel(root, info, placement_id, dimension):
        caller = require_key(info, ANY_KEY)
        funnel = selectors.claim_funnel_for(
            merchant=caller.merchant,
            placement_id=ids.decode("Placement", placement_id) or 0,
            dimension=getattr(dimension, "value", dimension),
        )
        if funnel is None:
            return None
        rows = [
            ClaimFunnelRow(
                key=ids.encode("Fan", int(row.key[4:])) if row.key.startswith("fan:") else row.key,
                claimed=row.claimed,
                redeemed=row.redeemed,
            )
            for row in funnel.rows
        ]
        return ClaimFunnel(
            issued=funnel.issued,
            claimed=funnel.claimed,
            shared=funnel.shared,
            redeemed=funnel.redeemed,
            rows=rows,
        )

    def resolve_claim_links(root, info, placement_id):
        caller = require_key(info, ANY_KEY)
        return selectors.claim_links_for(
            merchant=caller.merchant, placement_id=ids.decode("Placement", placement_id) or 0
        )


class ClaimLinkCreateInput(graphene.InputObjectType):
    placement_id = graphene.ID(required=True)
    channel = graphene.String(
        required=True, description="Where it is posted, e.g. wechat-group, counter-poster."
    )


class ClaimLinkCreate(BaseMutation):
    """The publisher creates a claim link for an accepted placement."""

    claim_link = graphene.Field(ClaimLinkType)
    roles = WRITE
    error_codes = ClaimLinkErrorCode

    class Arguments:
        input = ClaimLinkCreateInput(required=True)

    @classmethod
    def perform(cls, caller, info, input):
        placement = placement_of(caller, input.placement_id, "placement_id")
        link = services.claim_link_create(
            merchant=caller.merchant, placement=placement, channel=input.channel
        )
        return {"claim_link": link}


class ClaimLinkDisable(BaseMutation):
    """The publisher stops a claim link; coupons already claimed stay valid."""

    claim_link = graphene.Field(ClaimLinkType)
    roles = WRITE
    error_codes = ClaimLinkErrorCode

    class Arguments:
        id = graphene.ID(required=True)

    @classmethod
    def perform(cls, caller, info, id):
        link = selectors.claim_link_for(
            merchant=caller.merchant, claim_link_id=ids.decode("ClaimLink", id) or 0
        )
        if link is None:
            raise ServiceError.not_found("id", "Claim link")
        return {"claim_link": services.claim_link_disable(merchant=caller.merchant, claim_link=link)}


class PublishedCoupon(graphene.ObjectType):
    """One coupon published to one of the publisher's customers."""

    code = graphene.String(required=True)
    link = graphene.String(
        required=True, description="The coupon's delivery link: send it through your channels."
    )
    valid_until = DateTime()
    created = graphene.Boolean(required=True, description="False when the customer already held this coupon.")


class CouponPublishInput(graphene.InputObjectType):
    placement_id = graphene.ID(required=True)
    external_ref = graphene.String(
        description="Your CRM id of the customer (as given to poolFansAdd or the CSV)."
    )
    phone = graphene.String(description="Or the customer's phone number, with its country code.")


class CouponPublish(BaseMutation):
    """The publisher's CRM or mini-program publishes one coupon to one consenting customer.

    Idempotent by customer: calling again returns the same code and link.
    """

    coupon = graphene.Field(PublishedCoupon)
    roles = WRITE
    error_codes = (PublishErrorCode, AudienceErrorCode)  # a phone that names no fan: INVALID_*

    class Arguments:
        input = CouponPublishInput(required=True)

    @classmethod
    def perform(cls, caller, info, input):
        placement = placement_of(caller, input.placement_id, "placement_id")
        coupon, created = services.coupon_publish(
            merchant=caller.merchant,
            placement=placement,
            external_ref=input.get("external_ref"),
            phone=input.get("phone"),
        )
        published = PublishedCoupon(
            code=coupon.code, link=delivery_url(coupon.pk), valid_until=coupon.valid_until, created=created
        )
        return {"coupon": published}


class PlacementShareAllowance(graphene.ObjectType):
    """Coupons for friends claiming through share links once the placement's quota is used up."""

    placement_id = graphene.ID(required=True)
    allowance = graphene.Int(required=True)
    taken = graphene.Int(required=True, description="Of the allowance, coupons friends already claimed.")


class PlacementShareAllowanceSet(BaseMutation):
    """The placement's issuer or publisher sets its share allowance (never below what is taken)."""

    share_allowance = graphene.Field(PlacementShareAllowance)
    roles = WRITE
    error_codes = SharingErrorCode

    class Arguments:
        placement_id = graphene.ID(required=True)
        allowance = graphene.Int(required=True)

    @classmethod
    def perform(cls, caller, info, placement_id, allowance):
        placement = placement_of(caller, placement_id, "placement_id")
        placement = services.placement_share_allowance_set(
            merchant=caller.merchant, placement=placement, allowance=allowance
        )
        result = PlacementShareAllowance(
            placement_id=ids.encode("Placement", placement.pk),
            allowance=placement.share_allowance,
            taken=placement.share_issued_count,
        )
        return {"share_allowance": result}


class CampaignReferralReward(graphene.ObjectType):
    campaign_id = graphene.ID(required=True)
    reward_campaign_id = graphene.ID(description="None: no referral reward.")


class CampaignReferralRewardSet(BaseMutation):
    """The issuer sets (or, without rewardCampaignId, removes) a campaign's referral reward:
    a friend's write-off of a coupon claimed through a fan's share link gives that fan one
    coupon of the reward campaign, taken back while unused if the write-off is voided."""

    referral_reward = graphene.Field(CampaignReferralReward)
    roles = WRITE
    error_codes = SharingErrorCode

    class Arguments:
        campaign_id = graphene.ID(required=True)
        reward_campaign_id = graphene.ID(description="Another campaign of yours; leave out to remove.")

    @classmethod
    def perform(cls, caller, info, campaign_id, reward_campaign_id=None):
        campaign = campaign_of(caller, campaign_id, "campaign_id")
        reward = None
        if reward_campaign_id is not None:
            reward = campaign_of(caller, reward_campaign_id, "reward_campaign_id")
        campaign = services.campaign_referral_reward_set(
            merchant=caller.merchant, campaign=campaign, reward=reward
        )
        result = CampaignReferralReward(
            campaign_id=ids.encode("Campaign", campaign.pk),
            reward_campaign_id=ids.encode("Campaign", reward.pk) if reward is not None else None,
        )
        return {"referral_reward": result}


class Mutation(graphene.ObjectType):
    placement_share_allowance_set = PlacementShareAllowanceSet.Field()
    campaign_referral_reward_set = CampaignReferralRewardSet.Field()
    coupon_publish = CouponPublish.Field()
    claim_link_create = ClaimLinkCreate.Field()
    claim_link_disable = ClaimLinkDisable.Field()
