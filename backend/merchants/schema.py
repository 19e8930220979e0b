"""GraphQL for merchants: me, stores, terminals and API keys."""

from __future__ import annotations

import graphene
from graphene import relay
from graphene_django import DjangoObjectType
from graphene_django.fields import DjangoConnectionField

from backend.api import ids
from backend.api.errors import ServiceError
from backend.api.mutations import BaseMutation
from backend.api.permissions import ADMIN, ANY_KEY, not_found, require_key
from backend.api.types import CountableConnection, MerchantScopedType

from . import selectors, services
from .errors import MerchantErrorCode
from .models import ApiKey, Merchant, Store, Terminal

ApiKeyRole = graphene.Enum.from_enum(ApiKey.Role, description="What an API key may do.")


class MerchantType(DjangoObjectType):
    class Meta:
        model = Merchant
        name = "Merchant"
        fields = ("name", "slug", "timezone", "default_currency", "created_at")
        interfaces = (relay.Node,)

    @classmethod
    def get_queryset(cls, queryset, info):
        caller = getattr(info.context, "caller", None)
        return queryset.filter(pk=caller.merchant.pk) if caller else queryset.none()


class StoreType(MerchantScopedType):
    class Meta:
        model = Store
        name = "Store"
        fields = ("name", "address", "is_active", "created_at", "updated_at")
        interfaces = (relay.Node,)
        connection_class = CountableConnection


class TerminalType(MerchantScopedType):
    store = graphene.Field(StoreType, required=True)
    is_revoked = graphene.Boolean(required=True)

    class Meta:
        model = Terminal
        name = "Terminal"
        fields = ("uid", "name", "created_at", "revoked_at")
        interfaces = (relay.Node,)
        connection_class = CountableConnection


class ApiKeyType(MerchantScopedType):
    role = ApiKeyRole(required=True)
    is_revoked = graphene.Boolean(required=True)
    revoked_by = graphene.String(description="Who revoked it: a key's name and prefix, or a member's email.")

    class Meta:
        model = ApiKey
        name = "ApiKey"
        fields = ("name", "prefix", "created_at", "revoked_at", "last_used_at")
        interfaces = (relay.Node,)
        connection_class = CountableConnection

    def resolve_revoked_by(root, info):
        if root.revoked_by_key_id is not None:
            key = root.revoked_by_key
            return f"{key.name} ({key.prefix})"
        if root.revoked_by_user_id is not None:
            return root.revoked_by_user.email or root.revoked_by_user.get_username()
        return None


def _store_of(caller, global_id: str, field: str = "storeId") -> Store:
    store = selectors.store_for(merchant=caller.merchant, store_id=ids.decode("Store", global_id) or 0)
    if store is None:
        raise ServiceError.not_found(field, "Store")
    return store


def _terminal_of(caller, global_id: str) -> Terminal:
    terminal = selectors.terminal_for(
        merchant=caller.merchant, terminal_id=ids.decode("Terminal", global_id) or 0
    )
    if terminal is None:
        raise ServiceError.not_found("id", "Terminal")
    return terminal


class Query(graphene.ObjectType):
    me = graphene.Field(MerchantType, required=True, description="The caller's merchant.")
    stores = DjangoConnectionField(StoreType, active=graphene.Boolean())
    store = graphene.Field(StoreType, id=graphene.ID(required=True))
    terminals = DjangoConnectionField(TerminalType, store_id=graphene.ID())
    terminal = graphene.Field(TerminalType, id=graphene.ID(required=True))
    api_keys = DjangoConnectionField(ApiKeyType)

    def resolve_me(root, info):
        return require_key(info, ANY_KEY).merchant

    def resolve_stores(root, info, active=None, **kwargs):
        caller = require_key(info, ANY_KEY)
        return selectors.stores_for(merchant=caller.merchant, active=active)

    def resolve_store(root, info, id):
        caller = require_key(info, ANY_KEY)
        store = selectors.store_for(merchant=caller.merchant, store_id=ids.decode("Store", id) or 0)
        if store is None:
            raise not_found("Store")
        return store

    def resolve_terminals(root, info, store_id=None, **kwargs):
        caller = require_key(info, (ADMIN,))
        pk = ids.decode("Store", store_id) or 0 if store_id is not None else None
        return selectors.terminals_for(merchant=caller.merchant, store_id=pk)

    def resolve_terminal(root, info, id):
        caller = require_key(info, (ADMIN,))
        terminal = selectors.terminal_for(
            merchant=caller.merchant, terminal_id=ids.decode("Terminal", id) or 0
        )
        if terminal is None:
            raise not_found("Terminal")
        return terminal

    def resolve_api_keys(root, info, **kwargs):
        caller = require_key(info, (ADMIN,))
        return selectors.api_keys_for(merchant=caller.merchant)


class StoreCreateInput(graphene.InputObjectType):
    name = graphene.String(required=True)
    address = graphene.String()


class StoreUpdateInput(graphene.InputObjectType):
    name = graphene.String()
    address = graphene.String()
    is_active = graphene.Boolean()


class StoreCreate(BaseMutation):
    error_codes = MerchantErrorCode
    store = graphene.Field(StoreType)
    roles = (ADMIN,)

    class Arguments:
        input = StoreCreateInput(required=True)

    @classmethod
    def perform(cls, caller, info, input):
        store = services.store_create(
            merchant=caller.merchant, name=input.name, address=input.get("address") or ""
        )
        return {"store": store}


class StoreUpdate(BaseMutation):
    error_codes = MerchantErrorCode
    store = graphene.Field(StoreType)
    roles = (ADMIN,)

    class Arguments:
        id = graphene.ID(required=True)
        input = StoreUpdateInput(required=True)

    @classmethod
    def perform(cls, caller, info, id, input):
        store = _store_of(caller, id, field="id")
        store = services.store_update(
            store=store,
            name=input.get("name"),
            address=input.get("address"),
            is_active=input.get("is_active"),
        )
        return {"store": store}


class TerminalCreateInput(graphene.InputObjectType):
    store_id = graphene.ID(required=True)
    name = graphene.String(required=True)


class TerminalCreate(BaseMutation):
    error_codes = MerchantErrorCode
    terminal = graphene.Field(TerminalType)
    secret = graphene.String(description="The signing secret. Shown once: store it now.")
    roles = (ADMIN,)

    class Arguments:
        input = TerminalCreateInput(required=True)

    @classmethod
    def perform(cls, caller, info, input):
        issued = services.terminal_create(store=_store_of(caller, input.store_id), name=input.name)
        return {"terminal": issued.terminal, "secret": issued.secret}


class TerminalUpdate(BaseMutation):
    error_codes = MerchantErrorCode
    terminal = graphene.Field(TerminalType)
    roles = (ADMIN,)

    class Arguments:
        id = graphene.ID(required=True)
        name = graphene.String(required=True)

    @classmethod
    def perform(cls, caller, info, id, name):
        return {"terminal": services.terminal_update(terminal=_terminal_of(caller, id), name=name)}


class TerminalRevoke(BaseMutation):
    error_codes = MerchantErrorCode
    terminal = graphene.Field(TerminalType)
    roles = (ADMIN,)

    class Arguments:
        id = graphene.ID(required=True)

    @classmethod
    def perform(cls, caller, info, id):
        return {"terminal": services.terminal_revoke(terminal=_terminal_of(caller, id))}


class ApiKeyCreateInput(graphene.InputObjectType):
    name = graphene.String(required=True)
    role = ApiKeyRole(required=True)


class ApiKeyCreate(BaseMutation):
    error_codes = MerchantErrorCode
    api_key = graphene.Field(ApiKeyType)
    secret = graphene.String(description="The full API key. Shown once: store it now.")
    roles = (ADMIN,)

    class Arguments:
        input = ApiKeyCreateInput(required=True)

    @classmethod
    def perform(cls, caller, info, input):
        role = input.role.value if hasattr(input.role, "value") else input.role
        issued = services.api_key_create(merchant=caller.merchant, name=input.name, role=role)
        return {"api_key": issued.api_key, "secret": issued.secret}


class ApiKeyRevoke(BaseMutation):
    error_codes = MerchantErrorCode
    api_key = graphene.Field(ApiKeyType)
    roles = (ADMIN,)

    class Arguments:
        id = graphene.ID(required=True)

    @classmethod
    def perform(cls, caller, info, id):
        key = selectors.api_key_for(merchant=caller.merchant, api_key_id=ids.decode("ApiKey", id) or 0)
        if key is None:
            raise ServiceError.not_found("id", "API key")
        revoked = services.api_key_revoke(api_key=key, revoked_by=caller.api_key, revoked_by_user=caller.user)
        return {"api_key": revoked}


class Mutation(graphene.ObjectType):
    store_create = StoreCreate.Field()
    store_update = StoreUpdate.Field()
    terminal_create = TerminalCreate.Field()
    terminal_update = TerminalUpdate.Field()
    terminal_revoke = TerminalRevoke.Field()
    api_key_create = ApiKeyCreate.Field()
    api_key_revoke = ApiKeyRevoke.Field()
