"""Scalars of the API that graphene does not have, or has without bounds.

``Money``: an amount in minor units of the currency named beside it. GraphQL's ``Int`` is
32-bit and overflows near 21 million minor units (about USD 130k in VND), and graphene's
``BigInt`` accepts any size, which JavaScript clients read inexactly past 2^53. ``Money`` is
an integer within +-(2^53 - 1): exact in every client, far above any real amount, and inside
PostgreSQL's bigint. Anything else (a fraction, a string, a larger number) is refused with
a clear message before a resolver runs.

Every ``BigIntegerField`` of a model exposed through a DjangoObjectType is an amount here,
so graphene-django converts them to ``Money`` (registered below); counts stay ``Int``/``BigInt``.

``DateTime`` and ``Date``: graphene's, limited to years 1900..2999 *after* conversion to
UTC. ``0001-01-01T00:00:00+14:00`` is year 0 in UTC: PostgreSQL stores it as 1 BC and
Python cannot read it back, which broke every read of a merchant's campaigns. Models'
date and time fields use these scalars too (one type per name in a schema).
"""

from __future__ import annotations

import datetime as dt
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


DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2999, 12, 31)


def _date_in_range(value: dt.date) -> dt.date:
    if not DATE_MIN <= value <= DATE_MAX:
        raise GraphQLError(f"Dates must be between {DATE_MIN.isoformat()} and {DATE_MAX.isoformat()}.")
    return value


def _datetime_in_range(value: dt.datetime) -> dt.datetime:
    try:
        utc = value.astimezone(dt.UTC) if value.tzinfo is not None else value
    except OverflowError:
        utc = None
    if utc is None or not DATE_MIN <= utc.date() <= DATE_MAX:
        raise GraphQLError(
            f"Times must be between {DATE_MIN.isoformat()} and {DATE_MAX.isoformat()} (UTC) with their offset applied."
        )
    return value


class DateTime(graphene.DateTime):
    """An ISO 8601 date and time with its offset, between 1900 and 2999 in UTC."""

    class Meta:
        name = "DateTime"

    @classmethod
    def parse_value(cls, value: Any) -> dt.datetime:
        return _datetime_in_range(graphene.DateTime.parse_value(value))

    @classmethod
    def parse_literal(cls, node: ValueNode, _variables: Any = None) -> dt.datetime:
        return _datetime_in_range(graphene.DateTime.parse_literal(node, _variables))


class Date(graphene.Date):
    """An ISO 8601 calendar date between 1900-01-01 and 2999-12-31."""

    class Meta:
        name = "Date"

    @classmethod
    def parse_value(cls, value: Any) -> dt.date:
        return _date_in_range(graphene.Date.parse_value(value))

    @classmethod
    def parse_literal(cls, node: ValueNode, _variables: Any = None) -> dt.date:
        return _date_in_range(graphene.Date.parse_literal(node, _variables))


@convert_django_field.register(models.DateTimeField)
def _datetime_of_datetime_field(field, registry=None):
    return DateTime(description=field.help_text or None, required=not field.null)


@convert_django_field.register(models.DateField)
def _date_of_date_field(field, registry=None):
    return Date(description=field.help_text or None, required=not field.null)
