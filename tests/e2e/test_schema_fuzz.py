"""A property-based fuzz of the whole schema (issue 10, item 3): whatever a client sends, the
answer is never INTERNAL_ERROR and never a 5xx.

hypothesis-graphql generates valid documents over every root field (queries and mutations,
arguments included). The custom scalars get strategies that reach the edges a client can:
DateTime over years 1..9999 with offsets up to +-14:00 (so 0001-01-01T00:00:00+14:00, year 0
in UTC, is in reach), Date over 1..9999, Money and BigInt over +-2^63, and IDs that are the
real ids of this merchant's and another merchant's objects, ids of unknown rows, and junk.
Built-in Strings include NUL; Ints include negative and 32-bit extremes (first/last/offset).

It runs with an API key (every field) and with a signed terminal (the POS fields), through
Django's whole request stack. Derandomized, so CI is repeatable; the example counts keep it
around half a minute (FUZZ_EXAMPLES raises it).
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema, nodes

from backend.api import ids
from backend.config.schema import schema
from tests.factories import (
    FanPoolFactory,
    MerchantFactory,
    PlacementFactory,
    StoreFactory,
    make_api_key,
    make_terminal,
    pos_setup,
    redeem,
)

pytestmark = pytest.mark.django_db

GRAPHQL_SCHEMA = schema.graphql_schema
OFFSETS = st.sampled_from([-14 * 60, -12 * 60, -5 * 60, 0, 8 * 60, 14 * 60]).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)
DATETIMES = st.one_of(
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)).flatmap(
        lambda moment: OFFSETS.map(lambda tz: moment.replace(tzinfo=tz).isoformat())
    ),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-11-30T12:00:00Z"]),
    st.text(max_size=30),
)
DATES = st.one_of(
    st.dates().map(dt.date.isoformat), st.sampled_from(["0001-01-01", "9999-12-31"]), st.text(max_size=12)
)
BIG = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63), st.sampled_from([0, 1, -1, 2**31, 2**53, -(2**53)])
)


def id_strategy(known: list[str]) -> st.SearchStrategy[str]:
    node_types = [
        "Campaign",
        "Placement",
        "Store",
        "Terminal",
        "FanPool",
        "Redemption",
        "ApiKey",
        "Coupon",
        "Fan",
    ]
    return st.one_of(
        st.sampled_from(known),
        st.builds(ids.encode, st.sampled_from(node_types), st.integers(min_value=-(2**63), max_value=2**63)),
        st.text(max_size=40),
    )


def scalars(known_ids: list[str]) -> dict:
    return {
        "DateTime": DATETIMES.map(nodes.String),
        "Date": DATES.map(nodes.String),
        "Money": BIG.map(nodes.Int),
        "BigInt": BIG.map(nodes.Int),
        "ID": id_strategy(known_ids).map(nodes.String),
    }


@pytest.fixture
def world():
    """Two merchants with a bit of everything, and the ids a client could know or guess."""
    setup = pos_setup(coupons=3)
    redeem(setup)
    other = MerchantFactory(name="Other")
    other_store = StoreFactory(merchant=other)
    make_terminal(other_store)
    pool = FanPoolFactory(merchant=setup.merchant)
    other_placement = PlacementFactory(campaign=setup.campaign, pool=FanPoolFactory(merchant=other))
    known = [
        ids.encode("Campaign", setup.campaign.pk),
        ids.encode("Placement", setup.placement.pk),
        ids.encode("Placement", other_placement.pk),
        ids.encode("Store", setup.store.pk),
        ids.encode("Store", other_store.pk),
        ids.encode("Terminal", setup.terminal.pk),
        ids.encode("FanPool", pool.pk),
        ids.encode("Coupon", setup.coupons[1].pk),
    ]
    return setup, make_api_key(setup.merchant, "admin"), known


def assert_no_internal_error(response, query: str) -> None:
    assert response.status < 500, (response.status, query, response.body)
    assert "INTERNAL_ERROR" not in response.error_codes, (query, response.body)
    assert "NOT_JSON" not in response.error_codes, (query, response.body)


FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "100")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)


def test_no_input_gives_an_internal_error_with_an_api_key(api, world):
    _setup, key, known = world

    @FUZZ
    @given(query=from_schema(GRAPHQL_SCHEMA, custom_scalars=scalars(known)))
    def run(query: str) -> None:
        assert_no_internal_error(api.execute(query, key=key), query)

    run()


def test_no_input_gives_an_internal_error_at_a_till(api, world, settings):
    settings.POS_MAX_REJECTIONS = 10**6  # let every generated code reach the write-off path
    settings.POS_MAX_WRITEOFFS_PER_MINUTE = 10**6
    setup, _key, known = world
    pos_fields = ["checkCoupon", "redeemCoupon", "voidRedemption"]

    @FUZZ
    @given(query=from_schema(GRAPHQL_SCHEMA, fields=pos_fields, custom_scalars=scalars(known)))
    def run(query: str) -> None:
        assert_no_internal_error(api.execute(query, terminal=setup.signing), query)

    run()
