"""Scalars of the API that graphene does not have.

``Money``: an amount in minor units of the currency named beside it. GraphQL's ``Int`` is
32-bit and overflows near 21 million minor units (about USD 130k in VND), and graphene's
``BigInt`` accepts any size, which JavaScript clients read inexactly past 2^53. ``Money`` is
an integer within +-(2^53 - 1): exact in every client, far above any real amount, and inside
PostgreSQL's bigint. Anything else (a fraction, a string, a larger number) is refused with
a clear message before a resolver runs.

Every ``BigIntegerField`` of a model exposed through a DjangoObjectType is an amount here,
so graphene-django converts them to ``Money`` (registered below); counts stay ``Int``/``BigInt``.
"""

from __future__ import annotations

from typing import Any

import graphene
from django.db import models
from graphene_django.converter import convert_django_field
from graphql import GraphQLError
from graphql.language import IntValueNode, ValueNode

MONEY_MAX = 2**53 - 1


def _checked(value: Any) -> int:
    if isinstance(value, bool):
        raise GraphQLError("Money is an integer number of minor units, not a boolean.")
    if isinstance(value, float):
        if not value.is_integer():
            raise GraphQLError(f"Money is an integer number of minor units: {value!r} is not.")
        value = int(value)
    if not isinstance(value, int):
        raise GraphQLError("Money is an integer number of minor units.")
    if not -MONEY_MAX <= value <= MONEY_MAX:
        raise GraphQLError(f"Money must be between {-MONEY_MAX} and {MONEY_MAX} minor units.")
    return value


class Money(graphene.Scalar):
    """An amount in minor units of its currency (cents, fen, dong): an integer within
    +-(2^53 - 1), so every client reads it exactly."""

    @staticmethod
    def serialize(value: Any) -> int:
        return int(value)

    @staticmethod
    def parse_value(value: Any) -> int:
        return _checked(value)

    @staticmethod
    def parse_literal(node: ValueNode, _variables: Any = None) -> int:
        if not isinstance(node, IntValueNode):
            raise GraphQLError("Money is an integer number of minor units.")
        return _checked(int(node.value))


@convert_django_field.register(models.BigIntegerField)
def _money_of_big_integer_field(field, registry=None):
    return Money(description=field.help_text or None, required=not field.null)
