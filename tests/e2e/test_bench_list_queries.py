"""The GraphQL redemptions list costs as many SQL queries for 100 rows as for 10 (scenario 5)."""

from __future__ import annotations

import pytest

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
