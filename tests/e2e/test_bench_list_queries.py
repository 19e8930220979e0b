"""The GraphQL redemptions list costs as many SQL queries for 100 rows as for 10 (scenario 5)."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from tests.bench import scenarios
from tests.bench.sizes import TINY

pytestmark = pytest.mark.django_db


def test_list_queries_do_not_grow_with_rows():
    ctx = scenarios.Context(sizes=TINY, log=lambda message: None)
    _, key = scenarios.list_world(ctx, 105)

    queries_10, rows_10 = scenarios.count_list_queries(key, 10)
    queries_100, rows_100 = scenarios.count_list_queries(key, 100)

    assert (rows_10, rows_100) == (10, 100)
    assert queries_100 == queries_10


@override_settings(ROOT_URLCONF="tests.bench.urls")
def test_plain_view_returns_what_the_graphql_list_returns(client):
    ctx = scenarios.Context(sizes=TINY, log=lambda message: None)
    _, key = scenarios.list_world(ctx, 30)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    body = json.dumps({"query": scenarios._operation("pos_redemptions"), "variables": {"first": 25}})

    graphql = client.post("/graphql/", body, content_type="application/json", **auth).json()
    view = client.get("/bench/redemptions/?first=25", **auth).json()

    assert "errors" not in graphql
    assert len(view["data"]["redemptions"]["edges"]) == 25
    assert view == graphql
