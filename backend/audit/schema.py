"""GraphQL for the audit trail: a merchant's admins read who changed what."""

from __future__ import annotations

import graphene
from graphene import relay
from graphene_django.fields import DjangoConnectionField

from backend.api import ids
from backend.api.permissions import ADMIN, require_key
from backend.api.scalars import DateTime
from backend.api.types import CountableConnection, MerchantScopedType

from . import selectors
from .models import AuditEntry

AuditActorKind = graphene.Enum.from_enum(
    AuditEntry.ActorKind, description="Who wrote: a console member, an API key, or network staff."
)


class AuditTarget(graphene.ObjectType):
    """One object a write touched."""

    type = graphene.String(required=True, description="Its GraphQL type, e.g. ApiKey.")
    id = graphene.ID(required=True, description="Its global id (it may since have been deleted).")


class AuditEntryType(MerchantScopedType):
    actor_kind = AuditActorKind(required=True)
    actor_api_key_id = graphene.ID(description="The API key that wrote, if a key did.")
    targets = graphene.List(graphene.NonNull(AuditTarget), required=True)
    input = graphene.JSONString(
        required=True, description="The input as sent, secrets left out, long values cut."
    )

    class Meta:
        model = AuditEntry
        name = "AuditEntry"
        fields = ("created_at", "actor_label", "operation")
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    def resolve_actor_kind(root, info):
        return root.actor_kind

    def resolve_actor_api_key_id(root, info):
        return ids.encode("ApiKey", root.actor_api_key_id) if root.actor_api_key_id else None

    def resolve_targets(root, info):
        return [AuditTarget(type=t.get("type", ""), id=t.get("id", "")) for t in root.targets or []]

    def resolve_input(root, info):
        return root.summary


class AuditTrailFilter(graphene.InputObjectType):
    operations = graphene.List(
        graphene.NonNull(graphene.String), description="Mutation names, e.g. apiKeyRevoke."
    )
    actor_kind = AuditActorKind()
    actor_api_key_id = graphene.ID()
    target_id = graphene.ID(description="Rows that touched this object (a global id).")
    since = DateTime(description="From this time on (inclusive).")
    until = DateTime(description="Before this time.")


class Query(graphene.ObjectType):
    audit_trail = DjangoConnectionField(
        AuditEntryType,
        filter=AuditTrailFilter(),
        description="Who changed what in your merchant's account, newest first (admin only).",
    )

    def resolve_audit_trail(root, info, filter=None, **kwargs):
        caller = require_key(info, (ADMIN,))
        filter = filter or {}
        key_id = filter.get("actor_api_key_id")
        kind = filter.get("actor_kind")
        filters = selectors.TrailFilters(
            operations=tuple(filter.get("operations") or ()),
            actor_kind=getattr(kind, "value", kind),
            actor_api_key_id=(ids.decode("ApiKey", key_id) or 0) if key_id else None,
            target_id=filter.get("target_id") or None,
            since=filter.get("since"),
            until=filter.get("until"),
        )
        return selectors.trail_for(merchant=caller.merchant, filters=filters)


class Mutation(graphene.ObjectType):
    pass
