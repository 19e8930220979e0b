"""No input reaches an internal error (issue 10, item 3): dates outside 1900..2999 after their
offset, NUL and lone surrogates in any string, each answered with a clear code."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from backend.campaigns.models import Campaign
from tests.factories import MerchantFactory, make_api_key, pos_setup

pytestmark = pytest.mark.django_db


@pytest.fixture
def brand_key():
    return make_api_key(MerchantFactory(name="Sweet Spoon"), "admin")


def campaign_input(**overrides):
    return {
        "name": "5 off",
        "benefitKind": "AMOUNT_OFF",
        "amountOff": 500,
        "currency": "CNY",
        "validDaysAfterIssue": 30,
        **overrides,
    }


@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00:00+14:00",  # year 0 in UTC: PostgreSQL would store 1 BC
        "9999-12-31T23:00:00-14:00",  # past 9999 in UTC
        "1899-12-31T23:59:59Z",
        "3000-01-01T00:00:00Z",
    ],
)
def test_a_campaign_with_an_out_of_range_date_is_refused_at_creation(api, operation, brand_key, when):
    variables = {"input": campaign_input(validFrom=when)}
    r = api.execute(operation("campaigns_create"), variables, key=brand_key)
    assert r.error_codes == ["GRAPHQL_VALIDATION_FAILED"], r.body
    assert "between 1900-01-01 and 2999-12-31" in r.errors[0]["message"]
    literal = f'mutation {{ campaignCreate(input: {{name: "x", benefitKind: AMOUNT_OFF, amountOff: 5, currency: "CNY", validDaysAfterIssue: 1, validUntil: "{when}"}}) {{ errors {{ code }} }} }}'
    assert api.execute(literal, key=brand_key).error_codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert not Campaign.objects.exists()


def test_the_database_refuses_an_out_of_range_validity_too():
    campaign = pos_setup().campaign
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(valid_from=dt.datetime(1, 1, 1, tzinfo=dt.UTC))


def test_dates_in_range_still_work(api, operation, brand_key):
    variables = {
        "input": campaign_input(validFrom="1900-01-01T00:00:00Z", validUntil="2999-12-31T00:00:00+08:00")
    }
    payload = api.execute(operation("campaigns_create"), variables, key=brand_key).ok()["campaignCreate"]
    assert payload["errors"] == []


def test_reconcile_over_all_of_time_is_a_clear_error(api, operation, brand_key):
    r = api.execute(
        operation("attribution_reconcile"), {"dateFrom": "0001-01-01", "dateTo": "9999-12-31"}, key=brand_key
    )
    assert set(r.error_codes) == {"GRAPHQL_VALIDATION_FAILED"}  # one error per variable
    assert "between 1900-01-01 and 2999-12-31" in r.errors[0]["message"]
    r = api.execute(
        operation("attribution_reconcile"), {"dateFrom": "1900-01-01", "dateTo": "2999-12-31"}, key=brand_key
    )
    assert r.ok()["attributionReconcile"]["ok"] is True


BAD_TEXT = ["a\x00b", "\ud800", "x\udfffy"]


@pytest.mark.parametrize("text", BAD_TEXT)
@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query Q($t: String) { ledgerLines(currency: $t) { totalCount } }", lambda t: {"t": t}),
        ("query Q($t: String) { fanPools(category: $t) { totalCount } }", lambda t: {"t": t}),
        ("query Q($t: String) { poolDirectory(category: $t) { totalCount } }", lambda t: {"t": t}),
        (
            "mutation M($t: String!) { apiKeyCreate(input: {name: $t, role: BRAND}) { errors { code } } }",
            lambda t: {"t": t},
        ),
        (
            "mutation M($i: CampaignCreateInput!) { campaignCreate(input: $i) { errors { code } } }",
            lambda t: {"i": campaign_input(name=t)},
        ),
        (
            "mutation M($t: String!) { fanPoolCreate(input: {name: $t, description: $t}) { errors { code } } }",
            lambda t: {"t": t},
        ),
        (
            "mutation M($i: IssuanceStartInput!) { issuanceStart(input: $i) { errors { code } } }",
            lambda t: {"i": {"placementId": "x", "fanKeys": ["ok", t]}},
        ),
    ],
)
def test_nul_and_lone_surrogates_are_refused_in_any_string(api, brand_key, query, variables, text):
    r = api.execute(query, variables(text), key=brand_key)
    assert r.error_codes == ["BAD_USER_INPUT"], r.body
    assert "NUL" in r.errors[0]["message"]


def test_escaped_nul_in_a_literal_and_a_lone_surrogate_at_the_till_are_refused(api, operation, brand_key):
    r = api.execute('{ fanPools(category: "a\\u0000b") { totalCount } }', key=brand_key)
    assert r.error_codes == ["BAD_USER_INPUT"]
    setup = pos_setup()
    variables = {"code": "AB\ud800", "orderAmount": 3000, "currency": "CNY", "idempotencyKey": "k1"}
    r = api.execute(operation("pos_redeem_coupon"), variables, terminal=setup.signing)
    assert r.error_codes == ["BAD_USER_INPUT"]
