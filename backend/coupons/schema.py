"""GraphQL for coupons: bulk issuance jobs and the publisher's export of its codes."""

from __future__ import annotations

import graphene
from django.db.models import Q
from django.urls import reverse
from graphene import relay
from graphene_django import DjangoObjectType
from graphene_django.fields import DjangoConnectionField

from backend.api import ids
from backend.api.mutations import BaseMutation
from backend.api.permissions import ADMIN, ANY_KEY, BRAND, CODE_READERS, caller_of, require_key
from backend.api.types import CountableConnection, MerchantScopedType
from backend.campaigns.schema import campaign_of, placement_of

from . import lifecycle, selectors, services
from .errors import IssuanceErrorCode
from .models import Coupon, IssuanceJob

WRITE = (ADMIN, BRAND)

IssuanceJobStatus = graphene.Enum.from_enum(IssuanceJob.Status, name="IssuanceJobStatus")
CouponStatus = graphene.Enum.from_enum(Coupon.Status, name="CouponStatus")


class IssuanceJobType(DjangoObjectType):
    """Progress of a bulk issuance: ``issued`` of ``total`` coupons. Counts only, never fans."""

    status = IssuanceJobStatus(required=True)
    placement_id = graphene.ID(required=True)
    fan_count = graphene.Int(description="How many fans were named; null = the whole pool.")

    class Meta:
        model = IssuanceJob
        name = "IssuanceJob"
        fields = ("total", "issued", "error", "created_at", "started_at", "finished_at")
        convert_choices_to_enum = False
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    @classmethod
    def get_queryset(cls, queryset, info):
        caller = caller_of(info)
        if caller is None:
            return queryset.none()
        return queryset.filter(Q(placement__issuer=caller.merchant) | Q(placement__publisher=caller.merchant))

    def resolve_placement_id(root, info):
        return ids.encode("Placement", root.placement_id)

    def resolve_fan_count(root, info):
        if hasattr(root, "named_fans"):  # counted by the selector
            return root.named_fans
        return None if root.fan_ids is None else len(root.fan_ids)


class CouponType(MerchantScopedType):
    """A code delivered to one of the publisher's fans (the publisher's view only)."""

    merchant_field = "placement__publisher"
    status = CouponStatus(required=True)
    fan_id = graphene.ID(required=True, description="The fan's pseudonymous id in the network.")
    fan_key = graphene.String(required=True, description="The fan's keyed hash (no raw phone or open id).")
    qr_url = graphene.String(required=True, description="Path of the code's QR PNG (same API key).")

    class Meta:
        model = Coupon
        name = "Coupon"
        fields = ("code", "ordinal", "issued_at", "valid_from", "valid_until", "redeemed_at")
        convert_choices_to_enum = False
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    def resolve_fan_id(root, info):
        return ids.encode("Fan", root.fan_id)

    def resolve_fan_key(root, info):
        return root.fan.fan_key

    def resolve_qr_url(root, info):
        return reverse("coupons:coupon-qr", kwargs={"code": root.code})


class Query(graphene.ObjectType):
    placement_coupons = DjangoConnectionField(
        CouponType,
        placement_id=graphene.ID(required=True),
        description="The placement's codes and fans, in issue order: its publisher only (empty otherwise).",
    )
    issuance_job = graphene.Field(IssuanceJobType, id=graphene.ID(required=True))
    issuance_jobs = DjangoConnectionField(IssuanceJobType, placement_id=graphene.ID())

    def resolve_placement_coupons(root, info, placement_id, **kwargs):
        caller = require_key(info, CODE_READERS)
        return selectors.coupons_for_publisher(
            merchant=caller.merchant, placement_id=ids.decode("Placement", placement_id) or 0
        )

    def resolve_issuance_job(root, info, id):
        caller = require_key(info, ANY_KEY)
        return selectors.issuance_job_for(merchant=caller.merchant, job_id=ids.decode("IssuanceJob", id) or 0)

    def resolve_issuance_jobs(root, info, placement_id=None, **kwargs):
        caller = require_key(info, ANY_KEY)
        pk = (ids.decode("Placement", placement_id) or 0) if placement_id is not None else None
        return selectors.issuance_jobs_for(merchant=caller.merchant, placement_id=pk)


class IssuanceStartInput(graphene.InputObjectType):
    placement_id = graphene.ID(required=True)
    fan_ids = graphene.List(
        graphene.NonNull(graphene.ID),
        description="Only these fans (consenting members of the pool); absent = every consenting member.",
    )
    fan_keys = graphene.List(
        graphene.NonNull(graphene.String),
        description="Only these fans, by fan key (as the export shows them).",
    )


class IssuanceStart(BaseMutation):
    """The publisher issues an accepted placement's coupons to its fans, as a background job."""

    error_codes = IssuanceErrorCode

    job = graphene.Field(IssuanceJobType)
    roles = WRITE

    class Arguments:
        input = IssuanceStartInput(required=True)

    @classmethod
    def perform(cls, caller, info, input):
        placement = placement_of(caller, input.placement_id, "placement_id")
        fan_ids = input.get("fan_ids")
        if fan_ids is not None:
            fan_ids = [ids.decode("Fan", gid) for gid in fan_ids]
        job = services.issuance_start(
            merchant=caller.merchant, placement=placement, fan_ids=fan_ids, fan_keys=input.get("fan_keys")
        )
        return {"job": job}


class CouponsRevoke(BaseMutation):
    """The issuer revokes one coupon (code), a placement's or a campaign's unredeemed coupons.
    Revoked codes answer COUPON_REVOKED at the till; redeemed and expired ones stay as they are."""

    revoked_count = graphene.Int()
    roles = (ADMIN, BRAND)

    class Arguments:
        code = graphene.String()
        placement_id = graphene.ID()
        campaign_id = graphene.ID()
        reason = graphene.String()

    @classmethod
    def perform(cls, caller, info, code=None, placement_id=None, campaign_id=None, reason=""):
        placement = campaign = None
        if placement_id is not None:
            placement = placement_of(caller, placement_id, "placement_id")
        if campaign_id is not None:
            campaign = campaign_of(caller, campaign_id, "campaign_id")
        count = lifecycle.coupons_revoke(
            merchant=caller.merchant, code=code, placement=placement, campaign=campaign, reason=reason or ""
        )
        return {"revoked_count": count}


class Mutation(graphene.ObjectType):
    coupons_revoke = CouponsRevoke.Field()
    issuance_start = IssuanceStart.Field()
