"""GraphQL for the audience: pools, members, CSV imports and the network's pool directory."""

from __future__ import annotations

import graphene
from graphene import relay
from graphene_django import DjangoObjectType
from graphene_django.fields import DjangoConnectionField

from backend.api import ids
from backend.api.errors import CommonErrorCode, ServiceError
from backend.api.mutations import BaseMutation
from backend.api.permissions import ADMIN, ANY_KEY, BRAND, not_found, require_key
from backend.api.scalars import DateTime
from backend.api.selection import selected_paths
from backend.api.types import CountableConnection, MerchantScopedType

from . import imports, selectors, services
from .errors import AudienceErrorCode
from .models import Fan, FanImport, FanPool, PoolMembership

WRITE = (ADMIN, BRAND)
FanImportStatus = graphene.Enum.from_enum(FanImport.Status, name="FanImportStatus")
FanKind = graphene.Enum.from_enum(Fan.Kind, name="FanKind", description="How a fan is known (never shown).")
CSV_TEXT_MAX = 1024 * 1024  # larger files go through POST /imports/fans/<pool id>


class FanPoolType(MerchantScopedType):
    member_count = graphene.Int(required=True, description="Members whose consent is not withdrawn.")
    categories = graphene.List(graphene.NonNull(graphene.String), required=True)

    class Meta:
        model = FanPool
        name = "FanPool"
        fields = (
            "name",
            "description",
            "is_listed",
            "auto_accept_min_share_bps",
            "auto_accept_max_quota",
            "created_at",
            "updated_at",
        )
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    def resolve_member_count(root, info):
        count = getattr(root, "member_count", None)
        if count is None:
            count = selectors.consenting_member_fan_ids(pool=root).count()
        return count


class PoolMembershipType(MerchantScopedType):
    merchant_field = "pool__merchant"
    fan_kind = FanKind(required=True, description="Phone or open id; the identifier itself is never shown.")

    class Meta:
        model = PoolMembership
        name = "PoolMembership"
        fields = ("consented_at", "source", "consent_withdrawn_at", "external_ref", "created_at")
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    def resolve_fan_kind(root, info):
        return root.fan.kind


class FanImportBadRow(graphene.ObjectType):
    row = graphene.Int(required=True, description="1 = the first data row after the header.")
    field = graphene.String()
    code = graphene.String(required=True)
    reason = graphene.String(required=True)


class FanImportType(MerchantScopedType):
    status = FanImportStatus(required=True)
    pool = graphene.Field(FanPoolType, required=True)
    bad_rows = graphene.List(graphene.NonNull(FanImportBadRow), required=True)
    bad_rows_truncated = graphene.Boolean(required=True, description="badRows holds only the first bad rows.")

    class Meta:
        model = FanImport
        name = "FanImport"
        fields = (
            "total_rows",
            "processed_rows",
            "added",
            "duplicates",
            "bad_count",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        )
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    def resolve_bad_rows(root, info):
        return [
            FanImportBadRow(**{k: r.get(k) for k in ("row", "field", "code", "reason")})
            for r in root.bad_rows
        ]

    def resolve_bad_rows_truncated(root, info):
        return root.bad_count > len(root.bad_rows)


class DirectoryPoolType(DjangoObjectType):
    """A listed pool as every merchant sees it: its public profile and a size band, nothing more."""

    id = graphene.ID(required=True, description="The pool's id, to propose a placement into it.")
    categories = graphene.List(graphene.NonNull(graphene.String), required=True)
    owner_name = graphene.String(required=True, description="The publisher merchant's name.")
    size_band = graphene.String(
        required=True, description='Consenting members, banded: "<100", "1k-10k", ...'
    )

    class Meta:
        model = FanPool
        name = "DirectoryPool"
        fields = ("name", "description")
        skip_registry = True
        use_connection = True
        connection_class = CountableConnection

    @classmethod
    def get_queryset(cls, queryset, info):
        return queryset.filter(is_listed=True)

    def resolve_id(root, info):
        return ids.encode("FanPool", root.pk)

    def resolve_owner_name(root, info):
        return root.merchant.name

    def resolve_size_band(root, info):
        return selectors.size_band(root.member_count)


def _pool_of(caller, global_id: str | None, field: str = "poolId") -> FanPool:
    pool = selectors.pool_for_owner(merchant=caller.merchant, pool_id=ids.decode("FanPool", global_id))
    if pool is None:
        raise ServiceError.not_found(field, "Fan pool")
    return pool


class Query(graphene.ObjectType):
    fan_pools = DjangoConnectionField(FanPoolType, category=graphene.String(), description="Your pools.")
    fan_pool = graphene.Field(FanPoolType, id=graphene.ID(required=True))
    pool_members = DjangoConnectionField(
        PoolMembershipType, pool_id=graphene.ID(required=True), include_withdrawn=graphene.Boolean()
    )
    fan_import = graphene.Field(FanImportType, id=graphene.ID(required=True))
    fan_imports = DjangoConnectionField(FanImportType, pool_id=graphene.ID())
    pool_directory = DjangoConnectionField(
        DirectoryPoolType,
        category=graphene.String(),
        description="Listed pools of every merchant on the network: public profile and size band only.",
    )
    directory_pool = graphene.Field(
        DirectoryPoolType,
        id=graphene.ID(required=True),
        description="One listed pool of the directory (to propose a placement into it); NOT_FOUND otherwise.",
    )

    def resolve_fan_pools(root, info, category=None, **kwargs):
        caller = require_key(info, ANY_KEY)
        return selectors.pools_for(merchant=caller.merchant, category=category)

    def resolve_fan_pool(root, info, id):
        caller = require_key(info, ANY_KEY)
        return selectors.pool_for_owner(merchant=caller.merchant, pool_id=ids.decode("FanPool", id))

    def resolve_pool_members(root, info, pool_id, include_withdrawn=True, **kwargs):
        caller = require_key(info, ANY_KEY)
        pool = selectors.pool_for_owner(merchant=caller.merchant, pool_id=ids.decode("FanPool", pool_id))
        if pool is None:
            return PoolMembership.objects.none()
        return selectors.memberships_for(
            merchant=caller.merchant, pool=pool, include_withdrawn=include_withdrawn is not False
        )

    def resolve_fan_import(root, info, id):
        caller = require_key(info, ANY_KEY)
        return selectors.fan_import_for(merchant=caller.merchant, import_id=ids.decode("FanImport", id))

    def resolve_fan_imports(root, info, pool_id=None, **kwargs):
        caller = require_key(info, ANY_KEY)
        pool = None
        if pool_id is not None:
            pool = selectors.pool_for_owner(merchant=caller.merchant, pool_id=ids.decode("FanPool", pool_id))
            if pool is None:
                return FanImport.objects.none()
        return selectors.fan_imports_for(
            merchant=caller.merchant, pool=pool, with_pool_counts="pool.memberCount" in selected_paths(info)
        )

    def resolve_pool_directory(root, info, category=None, **kwargs):
        require_key(info, ANY_KEY)
        return selectors.directory_pools(category=category)

    def resolve_directory_pool(root, info, id):
        require_key(info, ANY_KEY)
        pool = selectors.directory_pool(pool_id=ids.decode("FanPool", id))
        if pool is None:
            raise not_found("Pool")
        return pool


class FanPoolCreateInput(graphene.InputObjectType):
    name = graphene.String(required=True)
    description = graphene.String()
    categories = graphene.List(graphene.NonNull(graphene.String))
    is_listed = graphene.Boolean()
    auto_accept_min_share_bps = graphene.Int(
        description="Auto-accept placements offering at least this share."
    )
    auto_accept_max_quota = graphene.Int(description="... and asking at most this quota.")


class FanPoolUpdateInput(graphene.InputObjectType):
    name = graphene.String()
    description = graphene.String()
    categories = graphene.List(graphene.NonNull(graphene.String))
    is_listed = graphene.Boolean()
    auto_accept_min_share_bps = graphene.Int(description="null turns auto-accept off.")
    auto_accept_max_quota = graphene.Int(description="null removes the quota limit.")


class FanPoolCreate(BaseMutation):
    error_codes = AudienceErrorCode
    fan_pool = graphene.Field(FanPoolType)
    roles = WRITE

    class Arguments:
        input = FanPoolCreateInput(required=True)

    @classmethod
    def perform(cls, caller, info, input):
        pool = services.pool_create(
            merchant=caller.merchant,
            name=input.name,
            description=input.get("description") or "",
            categories=input.get("categories") or [],
            is_listed=input.get("is_listed") is not False,
            auto_accept_min_share_bps=input.get("auto_accept_min_share_bps"),
            auto_accept_max_quota=input.get("auto_accept_max_quota"),
        )
        return {"fan_pool": pool}


class FanPoolUpdate(BaseMutation):
    error_codes = AudienceErrorCode
    fan_pool = graphene.Field(FanPoolType)
    roles = WRITE

    class Arguments:
        id = graphene.ID(required=True)
        input = FanPoolUpdateInput(required=True)

    @classmethod
    def perform(cls, caller, info, id, input):
        given = {key: input[key] for key in input if key in FanPoolUpdateInput._meta.fields}
        pool = services.pool_update(pool=_pool_of(caller, id, field="id"), **given)
        return {"fan_pool": pool}


class FanIdentityInput(graphene.InputObjectType):
    phone = graphene.String(description="With its country code, e.g. +86 138 0013 8000.")
    open_id = graphene.String(description="A platform open id; give platform too.")
    platform = graphene.String(description="e.g. wechat, alipay, douyin.")


class FanInput(FanIdentityInput):
    consented_at = DateTime(required=True, description="When the fan consented (with offset).")
    source = graphene.String(description="Where the consent was collected; default 'api'.")
    external_ref = graphene.String(
        description="Your own id of this customer (CRM); stored on the membership, shown only to you."
    )


class PoolFansAdd(BaseMutation):
    """Add up to 1000 consented fans: all, or none if any is invalid (errors name fans.<i>.<field>)."""

    error_codes = AudienceErrorCode

    fan_pool = graphene.Field(FanPoolType)
    added = graphene.Int()
    duplicates = graphene.Int(description="Already members, or repeated in this call.")
    roles = WRITE

    class Arguments:
        pool_id = graphene.ID(required=True)
        fans = graphene.List(graphene.NonNull(FanInput), required=True)

    @classmethod
    def perform(cls, caller, info, pool_id, fans):
        pool = _pool_of(caller, pool_id)
        entries = [
            services.FanEntry(
                phone=f.get("phone"),
                open_id=f.get("open_id"),
                platform=f.get("platform"),
                consented_at=f.get("consented_at"),
                source=f.get("source"),
                external_ref=f.get("external_ref"),
            )
            for f in fans
        ]
        result = services.pool_fans_add(pool=pool, fans=entries)
        return {"fan_pool": pool, "added": result.added, "duplicates": result.duplicates}


class PoolFanConsentWithdraw(BaseMutation):
    """Record a fan's withdrawal of consent: named by membership id or by its phone / open id."""

    error_codes = AudienceErrorCode

    membership = graphene.Field(PoolMembershipType)
    roles = WRITE

    class Arguments:
        pool_id = graphene.ID(required=True)
        membership_id = graphene.ID()
        fan = FanIdentityInput()

    @classmethod
    def perform(cls, caller, info, pool_id, membership_id=None, fan=None):
        pool = _pool_of(caller, pool_id)
        membership = None
        if membership_id is not None:
            membership = selectors.membership_for(
                merchant=caller.merchant, membership_id=ids.decode("PoolMembership", membership_id)
            )
            if membership is None:
                raise ServiceError.not_found("membershipId", "Membership")
        entry = None
        if fan is not None:
            entry = services.FanEntry(
                phone=fan.get("phone"), open_id=fan.get("open_id"), platform=fan.get("platform")
            )
        return {
            "membership": services.membership_consent_withdraw(pool=pool, membership=membership, fan=entry)
        }


class FanImportCreate(BaseMutation):
    """Import a small CSV file given as text (up to 1 MiB); larger files: POST /imports/fans/<poolId>."""

    error_codes = AudienceErrorCode

    fan_import = graphene.Field(FanImportType)
    roles = WRITE

    class Arguments:
        pool_id = graphene.ID(required=True)
        csv = graphene.String(
            required=True, description="Header: phone or open_id+platform, consented_at[, source]."
        )

    @classmethod
    def perform(cls, caller, info, pool_id, csv):
        pool = _pool_of(caller, pool_id)
        data = csv.encode()
        if len(data) > CSV_TEXT_MAX:
            raise ServiceError.single(
                CommonErrorCode.TOO_LONG, "At most 1 MiB here; upload larger files to /imports/fans/.", "csv"
            )
        try:
            fan_import = imports.fan_import_create(merchant=caller.merchant, pool=pool, chunks=[data])
        except ServiceError as exc:  # the upload names its input "file"; here it is "csv"
            raise ServiceError(
                [type(e)(code=e.code, message=e.message, field="csv") for e in exc.errors]
            ) from None
        return {"fan_import": fan_import}


class Mutation(graphene.ObjectType):
    fan_pool_create = FanPoolCreate.Field()
    fan_pool_update = FanPoolUpdate.Field()
    pool_fans_add = PoolFansAdd.Field()
    pool_fan_consent_withdraw = PoolFanConsentWithdraw.Field()
    fan_import_create = FanImportCreate.Field()
