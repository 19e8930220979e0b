"""Base GraphQL types: relay nodes scoped to the caller's merchant, countable connections."""

from __future__ import annotations

import graphene
from graphene import relay
from graphene_django import DjangoObjectType

from . import scalars  # noqa: F401 - registers Money for models' BigIntegerFields first
from .permissions import caller_of


class CountableConnection(relay.Connection):
    class Meta:
        abstract = True

    total_count = graphene.Int(required=True, description="Rows matching, over all pages.")

    def resolve_total_count(root, info):
        iterable = root.iterable
        return iterable.count() if hasattr(iterable, "count") else len(iterable)


class ModelType(DjangoObjectType):
    """A Django model's GraphQL type, with a cheap check of the objects it is given."""

    class Meta:
        abstract = True

    @classmethod
    def is_type_of(cls, root, info):
        # graphql-core asks this for every object in a result; graphene-django's answer first
        # validates the model class each time. An instance of exactly our model needs none.
        return type(root) is cls._meta.model or super().is_type_of(root, info)


class MerchantScopedType(ModelType):
    """A model exposed as a relay node whose rows are filtered to the caller's merchant.

    Resolvers already ask tenant-scoped selectors; this is the second lock on the door.
    ``merchant_field`` names the lookup from the model to its owning merchant.
    """

    merchant_field = "merchant"

    class Meta:
        abstract = True

    @classmethod
    def get_queryset(cls, queryset, info):
        caller = caller_of(info)
        if caller is None:
            return queryset.none()
        return queryset.filter(**{cls.merchant_field: caller.merchant})
