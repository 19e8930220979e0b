"""The view's short path for leaf fields answers exactly as graphql-core's general path."""

from __future__ import annotations

import datetime as dt

import graphene
from graphql import ExecutionContext, execute, parse

from backend.api.scalars import DateTime, Money
from backend.gateway.view import SyncExecutionContext


class Color(graphene.Enum):
    RED = "red"
    BLUE = "blue"


class Row(graphene.ObjectType):
    name = graphene.String()
    amount = Money(required=True)
    at = DateTime()
    color = Color()
    count = graphene.Int()
    required_name = graphene.String(required=True)


class Query(graphene.ObjectType):
    rows = graphene.List(Row)

    def resolve_rows(root, info):
        at = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)
        return [
            {"name": "a", "amount": 100, "at": at, "color": "red", "count": 3, "required_name": "x"},
            {
                "name": None,
                "amount": 5,
                "at": None,
                "color": "blue",
                "count": "not a number",
                "required_name": "y",
            },
            {"name": "c", "amount": 7, "at": at, "color": "green", "count": 1, "required_name": None},
        ]


schema = graphene.Schema(query=Query).graphql_schema
QUERY = parse("{ rows { name amount at color count requiredName } }")


def run(context_class):
    result = execute(schema, QUERY, execution_context_class=context_class)
    errors = sorted((e.message, tuple(e.path)) for e in result.errors or ())
    return result.data, errors


def test_the_short_path_gives_the_same_data_and_errors():
    assert run(SyncExecutionContext) == run(ExecutionContext)
    data, errors = run(SyncExecutionContext)
    assert data["rows"][0] == {
        "name": "a",
        "amount": 100,
        "at": "2026-12-02T10:00:00+00:00",
        "color": "RED",
        "count": 3,
        "requiredName": "x",
    }
    assert data["rows"][2] is None  # a null in a non-null field nulls the row, with an error
    assert len(errors) == 3  # the bad Int, the unknown enum value, the null required field
