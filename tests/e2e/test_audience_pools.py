"""Fan pools, members and the directory over HTTP: validation, roles, tenant isolation."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.api import ids
from backend.audience import identity
from backend.audience.models import Fan, PoolMembership
from tests.factories import FanPoolFactory, MerchantFactory, make_api_key, pool_with_fans

pytestmark = pytest.mark.django_db

CONSENT = "2026-01-05T10:00:00+08:00"


@pytest.fixture
def merchant():
    return MerchantFactory(name="Mochi Cartoon")


@pytest.fixture
def brand_key(merchant):
    return make_api_key(merchant, "brand")


def create_pool(api, operation, key, **fields):
    payload = {"name": "Mochi Fans", **fields}
    return api.execute(operation("audience_fan_pool_create"), {"input": payload}, key=key).ok()[
        "fanPoolCreate"
    ]


def errors_of(payload):
    return {(e["field"], e["code"]) for e in payload["errors"]}


def add_fans(api, operation, key, pool_id, fans):
    return api.execute(operation("audience_pool_fans_add"), {"poolId": pool_id, "fans": fans}, key=key).ok()[
        "poolFansAdd"
    ]


# --- pools -----------------------------------------------------------------------------


def test_create_pool_and_list_it_with_member_count(api, operation, brand_key):
    created = create_pool(
        api,
        operation,
        brand_key,
        description=" Cartoon lovers ",
        categories=["Cartoon", "family", "cartoon"],
        autoAcceptMinShareBps=4000,
        autoAcceptMaxQuota=500,
    )
    assert created["errors"] == []
    pool = created["fanPool"]
    assert pool["categories"] == ["cartoon", "family"]
    assert pool["description"] == "Cartoon lovers"
    assert (pool["autoAcceptMinShareBps"], pool["autoAcceptMaxQuota"], pool["memberCount"]) == (4000, 500, 0)
    add_fans(api, operation, brand_key, pool["id"], [{"phone": "+8613800138000", "consentedAt": CONSENT}])
    listed = api.execute(operation("audience_fan_pools"), key=brand_key).ok()["fanPools"]
    assert listed["totalCount"] == 1
    assert listed["edges"][0]["node"]["memberCount"] == 1


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": "  "}, {("name", "REQUIRED")}),
        ({"name": "x" * 201}, {("name", "TOO_LONG")}),
        ({"description": "x" * 2001}, {("description", "TOO_LONG")}),
        ({"categories": ["Not a slug!"]}, {("categories", "INVALID_CATEGORY")}),
        ({"categories": [f"c{i}" for i in range(11)]}, {("categories", "TOO_MANY_CATEGORIES")}),
        ({"autoAcceptMinShareBps": 10001}, {("autoAcceptMinShareBps", "OUT_OF_RANGE")}),
        ({"autoAcceptMinShareBps": -1}, {("autoAcceptMinShareBps", "OUT_OF_RANGE")}),
        ({"autoAcceptMaxQuota": 0}, {("autoAcceptMaxQuota", "OUT_OF_RANGE")}),
    ],
)
def test_pool_create_validation_errors(api, operation, brand_key, fields, expected):
    created = create_pool(api, operation, brand_key, **fields)
    assert created["fanPool"] is None
    assert errors_of(created) == expected


def test_pool_name_is_unique_per_merchant_only(api, operation, brand_key):
    assert create_pool(api, operation, brand_key)["errors"] == []
    assert errors_of(create_pool(api, operation, brand_key)) == {("name", "DUPLICATE")}
    other_key = make_api_key(MerchantFactory(), "brand")
    assert create_pool(api, operation, other_key)["errors"] == []


def test_update_changes_given_fields_and_clears_auto_accept(api, operation, brand_key):
    pool_id = create_pool(api, operation, brand_key, autoAcceptMinShareBps=3000)["fanPool"]["id"]
    updated = api.execute(
        operation("audience_fan_pool_update"),
        {"id": pool_id, "input": {"isListed": False, "autoAcceptMinShareBps": None}},
        key=brand_key,
    ).ok()["fanPoolUpdate"]
    assert updated["errors"] == []
    pool = updated["fanPool"]
    assert (pool["name"], pool["isListed"], pool["autoAcceptMinShareBps"]) == ("Mochi Fans", False, None)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": ""}, {("name", "REQUIRED")}),
        ({"description": "x" * 2001}, {("description", "TOO_LONG")}),
        ({"categories": [""]}, {("categories", "INVALID_CATEGORY")}),
        ({"autoAcceptMinShareBps": 20000}, {("autoAcceptMinShareBps", "OUT_OF_RANGE")}),
        ({"autoAcceptMaxQuota": -5}, {("autoAcceptMaxQuota", "OUT_OF_RANGE")}),
    ],
)
def test_pool_update_validation_errors(api, operation, brand_key, fields, expected):
    pool_id = create_pool(api, operation, brand_key)["fanPool"]["id"]
    updated = api.execute(
        operation("audience_fan_pool_update"), {"id": pool_id, "input": fields}, key=brand_key
    ).ok()["fanPoolUpdate"]
    assert errors_of(updated) == expected
    assert updated["fanPool"] is None


def test_pool_update_to_a_taken_name_is_duplicate(api, operation, brand_key):
    create_pool(api, operation, brand_key, name="A")
    pool_id = create_pool(api, operation, brand_key, name="B")["fanPool"]["id"]
    updated = api.execute(
        operation("audience_fan_pool_update"), {"id": pool_id, "input": {"name": "A"}}, key=brand_key
    ).ok()["fanPoolUpdate"]
    assert errors_of(updated) == {("name", "DUPLICATE")}


def test_finance_reads_pools_but_cannot_write(api, operation, merchant):
    FanPoolFactory(merchant=merchant, name="Existing")
    finance = make_api_key(merchant, "finance")
    assert api.execute(operation("audience_fan_pools"), key=finance).ok()["fanPools"]["totalCount"] == 1
    response = api.execute(operation("audience_fan_pool_create"), {"input": {"name": "X"}}, key=finance)
    assert response.error_codes == ["FORBIDDEN"]
    assert api.execute(operation("audience_fan_pools")).error_codes == ["UNAUTHENTICATED"]


# --- tenant isolation ----------------------------------------------------------------------


def test_merchant_b_cannot_see_or_change_a_pool_members_or_imports(api, operation, merchant, brand_key):
    pool_a = pool_with_fans(3, merchant=merchant, name="A's pool")
    pool_a_id = ids.encode("FanPool", pool_a.pk)
    membership = pool_a.memberships.first()
    key_b = make_api_key(MerchantFactory(), "admin")

    assert api.execute(operation("audience_fan_pool"), {"id": pool_a_id}, key=key_b).ok() == {"fanPool": None}
    assert api.execute(operation("audience_fan_pools"), key=key_b).ok()["fanPools"]["totalCount"] == 0
    members = api.execute(operation("audience_pool_members"), {"poolId": pool_a_id}, key=key_b).ok()
    assert members["poolMembers"]["totalCount"] == 0
    imports = api.execute(operation("audience_fan_imports"), {"poolId": pool_a_id}, key=key_b).ok()
    assert imports["fanImports"]["totalCount"] == 0

    updated = api.execute(
        operation("audience_fan_pool_update"), {"id": pool_a_id, "input": {"name": "Stolen"}}, key=key_b
    ).ok()["fanPoolUpdate"]
    assert errors_of(updated) == {("id", "NOT_FOUND")}
    added = add_fans(api, operation, key_b, pool_a_id, [{"phone": "+8613800138000", "consentedAt": CONSENT}])
    assert errors_of(added) == {("poolId", "NOT_FOUND")}
    withdrawn = api.execute(
        operation("audience_pool_fan_consent_withdraw"),
        {"poolId": pool_a_id, "membershipId": ids.encode("PoolMembership", membership.pk)},
        key=key_b,
    ).ok()["poolFanConsentWithdraw"]
    assert errors_of(withdrawn) == {("poolId", "NOT_FOUND")}
    imported = api.execute(
        operation("audience_fan_import_create"),
        {"poolId": pool_a_id, "csv": "phone,consented_at\n"},
        key=key_b,
    ).ok()["fanImportCreate"]
    assert errors_of(imported) == {("poolId", "NOT_FOUND")}

    # B's own pool with A's membership id: still NOT_FOUND, never touched.
    pool_b_id = create_pool(api, operation, key_b, name="B's pool")["fanPool"]["id"]
    withdrawn = api.execute(
        operation("audience_pool_fan_consent_withdraw"),
        {"poolId": pool_b_id, "membershipId": ids.encode("PoolMembership", membership.pk)},
        key=key_b,
    ).ok()["poolFanConsentWithdraw"]
    assert errors_of(withdrawn) == {("membershipId", "NOT_FOUND")}
    pool_a.refresh_from_db()
    membership.refresh_from_db()
    assert pool_a.name == "A's pool" and membership.consent_withdrawn_at is None
    assert pool_a.memberships.count() == 3


# --- fans --------------------------------------------------------------------------------


def test_add_fans_merges_formats_and_counts_duplicates(api, operation, merchant, brand_key):
    pool = FanPoolFactory(merchant=merchant)
    pool_id = ids.encode("FanPool", pool.pk)
    fans = [
        {"phone": "+86 138-0013-8000", "consentedAt": CONSENT},
        {"phone": "008613800138000", "consentedAt": CONSENT},  # same number, other format
        {"openId": "  oX12ab  ", "platform": "WeChat", "consentedAt": CONSENT, "source": "mini-program"},
    ]
    result = add_fans(api, operation, brand_key, pool_id, fans)
    assert result["errors"] == []
    assert (result["added"], result["duplicates"], result["fanPool"]["memberCount"]) == (2, 1, 2)
    again = add_fans(api, operation, brand_key, pool_id, fans[:1])
    assert (again["added"], again["duplicates"]) == (0, 1)
    wechat = identity.open_id_identity("oX12ab", "wechat").fan_key
    assert PoolMembership.objects.get(pool=pool, fan__fan_key=wechat).source == "mini-program"
    # One network-wide fan: another merchant's pool reuses the same Fan row.
    other = MerchantFactory()
    other_pool_id = ids.encode("FanPool", FanPoolFactory(merchant=other).pk)
    add_fans(api, operation, make_api_key(other, "brand"), other_pool_id, fans[:1])
    assert Fan.objects.count() == 2
    assert PoolMembership.objects.count() == 3


@pytest.mark.parametrize(
    ("fan", "expected"),
    [
        ({"phone": "138 0013 8000x", "consentedAt": CONSENT}, {("fans.1.phone", "INVALID_PHONE")}),
        ({"phone": "013800138000", "consentedAt": CONSENT}, {("fans.1.phone", "INVALID_PHONE")}),
        ({"phone": "+12345", "consentedAt": CONSENT}, {("fans.1.phone", "INVALID_PHONE")}),
        ({"consentedAt": CONSENT}, {("fans.1.phone", "REQUIRED")}),
        ({"openId": "   ", "platform": "wechat", "consentedAt": CONSENT}, {("fans.1.openId", "REQUIRED")}),
        ({"openId": "abc", "consentedAt": CONSENT}, {("fans.1.platform", "REQUIRED")}),
        (
            {"openId": "abc", "platform": "We Chat!", "consentedAt": CONSENT},
            {("fans.1.platform", "INVALID_PLATFORM")},
        ),
        (
            {"openId": "a b", "platform": "wechat", "consentedAt": CONSENT},
            {("fans.1.openId", "INVALID_OPEN_ID")},
        ),
        (
            {"openId": "x" * 129, "platform": "wechat", "consentedAt": CONSENT},
            {("fans.1.openId", "INVALID_OPEN_ID")},
        ),
        (
            {"phone": "+8613800138001", "openId": "abc", "platform": "wechat", "consentedAt": CONSENT},
            {("fans.1.phone", "AMBIGUOUS_IDENTITY")},
        ),
        (
            {"phone": "+8613800138001", "consentedAt": "2099-01-01T00:00:00Z"},
            {("fans.1.consentedAt", "INVALID_CONSENT_DATE")},
        ),
        (
            {"phone": "+8613800138001", "consentedAt": "2026-01-01T00:00:00"},
            {("fans.1.consentedAt", "INVALID_CONSENT_DATE")},
        ),
        (
            {"phone": "+8613800138001", "consentedAt": "1999-12-31T00:00:00Z"},
            {("fans.1.consentedAt", "INVALID_CONSENT_DATE")},
        ),
        (
            {"phone": "+8613800138001", "consentedAt": CONSENT, "source": "s" * 41},
            {("fans.1.source", "TOO_LONG")},
        ),
    ],
)
def test_add_fans_item_errors_name_the_index_and_write_nothing(
    api, operation, merchant, brand_key, fan, expected
):
    pool = FanPoolFactory(merchant=merchant)
    good = {"phone": "+8613800138000", "consentedAt": CONSENT}
    result = add_fans(api, operation, brand_key, ids.encode("FanPool", pool.pk), [good, fan])
    assert errors_of(result) == expected
    assert result["added"] is None
    assert not PoolMembership.objects.filter(pool=pool).exists()
    for error in result["errors"]:  # messages never echo the raw identifier
        assert "13800138" not in error["message"]


def test_add_fans_batch_limits(api, operation, merchant, brand_key):
    pool_id = ids.encode("FanPool", FanPoolFactory(merchant=merchant).pk)
    assert errors_of(add_fans(api, operation, brand_key, pool_id, [])) == {("fans", "REQUIRED")}
    many = [{"phone": f"+86139{n:08d}", "consentedAt": CONSENT} for n in range(1001)]
    assert errors_of(add_fans(api, operation, brand_key, pool_id, many)) == {("fans", "TOO_MANY_FANS")}
    result = add_fans(api, operation, brand_key, pool_id, many[:1000])
    assert (result["added"], result["duplicates"]) == (1000, 0)


def test_malformed_consent_time_is_a_typed_error_not_a_500(api, operation, merchant, brand_key):
    pool_id = ids.encode("FanPool", FanPoolFactory(merchant=merchant).pk)
    response = api.execute(
        operation("audience_pool_fans_add"),
        {"poolId": pool_id, "fans": [{"phone": "+8613800138000", "consentedAt": "yesterday"}]},
        key=brand_key,
    )
    assert response.status in (200, 400)
    assert response.error_codes == ["GRAPHQL_VALIDATION_FAILED"]


def test_withdraw_consent_by_identity_and_by_membership(api, operation, merchant, brand_key):
    pool = FanPoolFactory(merchant=merchant)
    pool_id = ids.encode("FanPool", pool.pk)
    add_fans(
        api,
        operation,
        brand_key,
        pool_id,
        [
            {"phone": "+8613800138000", "consentedAt": CONSENT},
            {"phone": "+8613800138001", "consentedAt": CONSENT},
        ],
    )
    op = operation("audience_pool_fan_consent_withdraw")
    by_phone = api.execute(op, {"poolId": pool_id, "fan": {"phone": "+86 138 0013 8000"}}, key=brand_key).ok()
    assert by_phone["poolFanConsentWithdraw"]["errors"] == []
    assert by_phone["poolFanConsentWithdraw"]["membership"]["consentWithdrawnAt"] is not None
    again = api.execute(op, {"poolId": pool_id, "fan": {"phone": "+8613800138000"}}, key=brand_key).ok()
    assert errors_of(again["poolFanConsentWithdraw"]) == {("fan", "ALREADY_WITHDRAWN")}

    members = api.execute(
        operation("audience_pool_members"), {"poolId": pool_id, "includeWithdrawn": False}, key=brand_key
    ).ok()["poolMembers"]
    assert members["totalCount"] == 1
    membership_id = members["edges"][0]["node"]["id"]
    by_id = api.execute(op, {"poolId": pool_id, "membershipId": membership_id}, key=brand_key).ok()
    assert by_id["poolFanConsentWithdraw"]["errors"] == []
    pool_view = api.execute(operation("audience_fan_pool"), {"id": pool_id}, key=brand_key).ok()
    assert pool_view["fanPool"]["memberCount"] == 0

    # A consent given after the withdrawal re-admits the fan; an older one does not.
    old = add_fans(api, operation, brand_key, pool_id, [{"phone": "+8613800138000", "consentedAt": CONSENT}])
    assert (old["added"], old["duplicates"]) == (0, 1)
    now = dt.datetime.now(dt.UTC).isoformat()
    new = add_fans(api, operation, brand_key, pool_id, [{"phone": "+8613800138000", "consentedAt": now}])
    assert (new["added"], new["duplicates"]) == (1, 0)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, {("fan", "REQUIRED")}),
        ({"fan": {"phone": "+8619900000000"}}, {("fan", "NOT_A_MEMBER")}),
        ({"fan": {"phone": "bad"}}, {("fan.phone", "INVALID_PHONE")}),
        ({"membershipId": "not-an-id"}, {("membershipId", "NOT_FOUND")}),
    ],
)
def test_withdraw_validation_errors(api, operation, merchant, brand_key, variables, expected):
    pool_id = ids.encode("FanPool", FanPoolFactory(merchant=merchant).pk)
    result = api.execute(
        operation("audience_pool_fan_consent_withdraw"), {"poolId": pool_id, **variables}, key=brand_key
    ).ok()["poolFanConsentWithdraw"]
    assert errors_of(result) == expected


# --- directory ---------------------------------------------------------------------------


def test_directory_shows_listed_pools_with_profile_and_size_band_only(api, operation, merchant):
    big = pool_with_fans(120, merchant=merchant, name="Mochi Fans", categories=["cartoon", "family"])
    PoolMembership.objects.filter(pk__in=big.memberships.values("pk")[:30]).update(
        consent_withdrawn_at=dt.datetime.now(dt.UTC)
    )
    pool_with_fans(5, merchant=merchant, name="Secret list", is_listed=False)
    other = MerchantFactory(name="Bean There")
    pool_with_fans(2, merchant=other, name="Coffee people", categories=["coffee"])
    finance_of_stranger = make_api_key(MerchantFactory(), "finance")

    response = api.execute(operation("audience_pool_directory"), key=finance_of_stranger)
    data = response.ok()["poolDirectory"]
    nodes = {n["node"]["name"]: n["node"] for n in data["edges"]}
    assert set(nodes) == {"Mochi Fans", "Coffee people"}
    assert nodes["Mochi Fans"] == {
        "id": ids.encode("FanPool", big.pk),
        "name": "Mochi Fans",
        "description": "",
        "categories": ["cartoon", "family"],
        "ownerName": "Mochi Cartoon",
        "sizeBand": "<100",  # 90 consenting: withdrawn fans are not counted
    }
    assert nodes["Coffee people"]["sizeBand"] == "<100"
    text = str(response.body)
    for fan in Fan.objects.all():
        assert fan.fan_key not in text
    assert "120" not in text and "90" not in text

    cartoon = api.execute(
        operation("audience_pool_directory"), {"category": "cartoon"}, key=finance_of_stranger
    )
    assert [e["node"]["name"] for e in cartoon.ok()["poolDirectory"]["edges"]] == ["Mochi Fans"]


def test_directory_rejects_unknown_fields_and_paginates(api, operation, merchant):
    for n in range(3):
        FanPoolFactory(merchant=merchant, name=f"P{n}")
    key = make_api_key(merchant, "brand")
    leak = api.execute(
        "{ poolDirectory { edges { node { memberCount isListed merchant { name } } } } }", key=key
    )
    assert leak.error_codes and set(leak.error_codes) == {"GRAPHQL_VALIDATION_FAILED"}
    first = api.execute(operation("audience_pool_directory"), {"first": 2}, key=key).ok()["poolDirectory"]
    assert len(first["edges"]) == 2 and first["pageInfo"]["hasNextPage"]
    rest = api.execute(
        operation("audience_pool_directory"), {"first": 2, "after": first["pageInfo"]["endCursor"]}, key=key
    ).ok()["poolDirectory"]
    assert [e["node"]["name"] for e in rest["edges"]] == ["P2"]
    assert api.execute(operation("audience_pool_directory")).error_codes == ["UNAUTHENTICATED"]


def test_directory_query_count_is_flat(api, operation, merchant, django_assert_max_num_queries):
    for n in range(10):
        pool_with_fans(2, merchant=MerchantFactory(), name=f"P{n}")
    key = make_api_key(merchant, "brand")
    with django_assert_max_num_queries(6):
        data = api.execute(operation("audience_pool_directory"), key=key).ok()
    assert len(data["poolDirectory"]["edges"]) == 10


def test_list_query_counts_are_flat(api, operation, merchant, brand_key, django_assert_max_num_queries):
    pools = [pool_with_fans(3, merchant=merchant, name=f"P{n}") for n in range(8)]
    with django_assert_max_num_queries(6):
        data = api.execute(operation("audience_fan_pools"), key=brand_key).ok()
    assert [e["node"]["memberCount"] for e in data["fanPools"]["edges"]] == [3] * 8
    big = pool_with_fans(30, merchant=merchant, name="Big")
    del pools
    with django_assert_max_num_queries(6):
        members = api.execute(
            operation("audience_pool_members"), {"poolId": ids.encode("FanPool", big.pk)}, key=brand_key
        ).ok()
    assert members["poolMembers"]["totalCount"] == 30
    assert {e["node"]["fanKind"] for e in members["poolMembers"]["edges"]} == {"PHONE"}


def test_one_directory_pool_by_id_listed_only(api, operation, merchant):
    listed = FanPoolFactory(merchant=merchant, name="Listed one", categories=["cartoon"])
    unlisted = FanPoolFactory(merchant=merchant, name="Secret", is_listed=False)
    key = make_api_key(MerchantFactory(), "finance")  # another merchant: the directory is public
    found = api.execute(
        operation("audience_directory_pool"), {"id": ids.encode("FanPool", listed.pk)}, key=key
    ).ok()["directoryPool"]
    assert found["name"] == "Listed one" and found["sizeBand"] == "<100"
    for missing in (
        ids.encode("FanPool", unlisted.pk),
        ids.encode("FanPool", 10**9),
        ids.encode("Campaign", listed.pk),
    ):
        response = api.execute(operation("audience_directory_pool"), {"id": missing}, key=key)
        assert response.error_codes == ["NOT_FOUND"] and response.data["directoryPool"] is None
