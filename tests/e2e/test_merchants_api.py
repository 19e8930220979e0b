"""The foundation's API over HTTP: authentication, roles, tenant isolation, bad input."""

from __future__ import annotations

import pytest

from backend.api import ids
from backend.merchants.models import ApiKey, Store, Terminal
from tests.factories import MerchantFactory, StoreFactory, make_api_key, make_terminal

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    merchant = MerchantFactory(name="Sweet Spoon")
    store = StoreFactory(merchant=merchant, name="Jing'an")
    return merchant, store


@pytest.fixture
def other():
    merchant = MerchantFactory(name="Mochi Cartoon")
    store = StoreFactory(merchant=merchant, name="Flagship")
    terminal, _ = make_terminal(store)
    return merchant, store, terminal


def gid(obj) -> str:
    return ids.encode(type(obj).__name__ if not isinstance(obj, ApiKey) else "ApiKey", obj.pk)


# --- authentication ---------------------------------------------------------------


def test_missing_key_is_unauthenticated(api, operation):
    r = api.execute(operation("merchants_me"))
    assert r.error_codes == ["UNAUTHENTICATED"]
    assert r.data in (None, {"me": None}) or r.data.get("me") is None


@pytest.mark.parametrize(
    "key",
    ["garbage", "cn_short_x", "cn_0123456789ab_not-the-right-secret", "Basic abc"],
    ids=["malformed", "bad-prefix", "unknown", "basic-scheme"],
)
def test_bad_keys_are_unauthenticated(api, operation, key, shop):
    r = api.execute(operation("merchants_me"), key=key)
    assert r.status == 401
    assert r.error_codes == ["UNAUTHENTICATED"]
    assert r.data is None


def test_wrong_scheme_is_unauthenticated(api, operation, shop):
    key = make_api_key(shop[0])
    r = api.post_raw(b'{"query": "{ me { name } }"}', {"Authorization": f"Token {key}"})
    assert r.error_codes == ["UNAUTHENTICATED"]


def test_revoked_key_is_unauthenticated(api, operation, shop):
    key = make_api_key(shop[0], "admin", revoked=True)
    r = api.execute(operation("merchants_me"), key=key)
    assert r.status == 401
    assert r.error_codes == ["UNAUTHENTICATED"]
    assert "revoked" in r.errors[0]["message"]


def test_valid_key_answers_me_and_records_last_use(api, operation, shop):
    key = make_api_key(shop[0], "finance")
    data = api.execute(operation("merchants_me"), key=key).ok()
    assert data["me"]["name"] == "Sweet Spoon"
    assert data["me"]["timezone"] == "Asia/Shanghai"
    assert ApiKey.objects.get(merchant=shop[0]).last_used_at is not None


def test_key_and_terminal_headers_together_are_refused(api, shop, other):
    key = make_api_key(shop[0])
    terminal, secret = make_terminal(shop[1])
    from tests.client import terminal_headers

    body = b'{"query": "{ me { name } }"}'
    headers = {"Authorization": f"Bearer {key}", **terminal_headers(terminal.uid, secret, body)}
    assert api.post_raw(body, headers).error_codes == ["UNAUTHENTICATED"]


# --- roles ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ["finance", "brand"])
def test_non_admin_keys_may_not_call_admin_mutations(api, operation, shop, role):
    key = make_api_key(shop[0], role)
    r = api.execute(operation("merchants_store_create"), {"input": {"name": "New"}}, key=key)
    assert r.error_codes == ["FORBIDDEN"]
    assert r.data["storeCreate"] is None
    assert not Store.objects.filter(name="New").exists()


@pytest.mark.parametrize("op", ["merchants_api_keys", "merchants_terminals"])
def test_brand_key_may_not_list_credentials(api, operation, shop, op):
    key = make_api_key(shop[0], "brand")
    assert api.execute(operation(op), key=key).error_codes == ["FORBIDDEN"]


def test_terminal_may_not_use_key_operations(api, operation, shop):
    terminal, secret = make_terminal(shop[1])
    r = api.execute(operation("merchants_me"), terminal=(terminal.uid, secret))
    assert r.error_codes == ["FORBIDDEN"]


# --- tenant isolation -------------------------------------------------------------


def test_other_merchants_store_is_not_found(api, operation, shop, other):
    key = make_api_key(shop[0], "admin")
    r = api.execute(operation("merchants_store"), {"id": gid(other[1])}, key=key)
    assert r.error_codes == ["NOT_FOUND"]
    assert "Flagship" not in str(r.body)


def test_other_merchants_terminal_is_not_found(api, operation, shop, other):
    key = make_api_key(shop[0], "admin")
    r = api.execute(operation("merchants_terminal"), {"id": gid(other[2])}, key=key)
    assert r.error_codes == ["NOT_FOUND"]
    assert other[2].uid not in str(r.body)


def test_lists_show_only_own_rows(api, operation, shop, other):
    make_terminal(shop[1])
    key = make_api_key(shop[0], "admin")
    stores = api.execute(operation("merchants_stores"), {"first": 50}, key=key).ok()["stores"]
    assert [e["node"]["name"] for e in stores["edges"]] == ["Jing'an"]
    terminals = api.execute(operation("merchants_terminals"), {"first": 50}, key=key).ok()["terminals"]
    assert terminals["totalCount"] == 1
    # Filtering by another merchant's store finds nothing.
    r = api.execute(operation("merchants_terminals"), {"storeId": gid(other[1])}, key=key).ok()
    assert r["terminals"]["totalCount"] == 0
    keys = api.execute(operation("merchants_api_keys"), key=key).ok()["apiKeys"]
    assert keys["totalCount"] == 1


@pytest.mark.parametrize(
    "op,variables",
    [
        ("merchants_store_update", lambda o: {"id": gid(o[1]), "input": {"name": "Mine now"}}),
        ("merchants_terminal_create", lambda o: {"input": {"storeId": gid(o[1]), "name": "Sneaky"}}),
        ("merchants_terminal_update", lambda o: {"id": gid(o[2]), "name": "Mine now"}),
        ("merchants_terminal_revoke", lambda o: {"id": gid(o[2])}),
        ("merchants_api_key_revoke", lambda o: {"id": ids.encode("ApiKey", o[3].pk)}),
    ],
)
def test_mutations_on_other_merchants_ids_are_not_found(api, operation, shop, other, op, variables):
    other_key = make_api_key(other[0], "brand")
    other_full = (*other, ApiKey.objects.get(merchant=other[0]))
    key = make_api_key(shop[0], "admin")
    r = api.execute(operation(op), variables(other_full), key=key)
    payload = next(iter(r.ok().values()))
    assert [(e["field"], e["code"]) for e in payload["errors"]] in (
        [("id", "NOT_FOUND")],
        [("storeId", "NOT_FOUND")],
    )
    other[1].refresh_from_db()
    other[2].refresh_from_db()
    assert other[1].name == "Flagship"
    assert other[2].name == "till" and other[2].revoked_at is None
    assert not Terminal.objects.filter(name="Sneaky").exists()
    assert api.execute(operation("merchants_me"), key=other_key).ok()["me"]["name"] == "Mochi Cartoon"


# --- mutations: success and bad input ----------------------------------------------


def errors_of(response) -> list[tuple[str | None, str]]:
    payload = next(iter(response.ok().values()))
    return [(e["field"], e["code"]) for e in payload["errors"]]


def test_store_create_and_update(api, operation, shop):
    key = make_api_key(shop[0], "admin")
    created = api.execute(
        operation("merchants_store_create"), {"input": {"name": " Xuhui ", "address": "1 Road"}}, key=key
    ).ok()["storeCreate"]
    assert created["errors"] == [] and created["store"]["name"] == "Xuhui"
    updated = api.execute(
        operation("merchants_store_update"),
        {"id": created["store"]["id"], "input": {"isActive": False, "address": "2 Road"}},
        key=key,
    ).ok()["storeUpdate"]
    assert updated["store"] == {**created["store"], "isActive": False, "address": "2 Road"}
    inactive = api.execute(operation("merchants_stores"), {"active": False}, key=key).ok()
    assert inactive["stores"]["totalCount"] == 1


@pytest.mark.parametrize(
    "input,expected",
    [
        ({"name": ""}, [("name", "REQUIRED")]),
        ({"name": "   "}, [("name", "REQUIRED")]),
        ({"name": "x" * 201}, [("name", "TOO_LONG")]),
        ({"name": "ok", "address": "y" * 501}, [("address", "TOO_LONG")]),
        ({"name": "", "address": "y" * 501}, [("name", "REQUIRED"), ("address", "TOO_LONG")]),
        ({"name": "Jing'an"}, [("name", "DUPLICATE")]),
    ],
)
def test_store_create_bad_input(api, operation, shop, input, expected):
    key = make_api_key(shop[0], "admin")
    assert errors_of(api.execute(operation("merchants_store_create"), {"input": input}, key=key)) == expected
    assert Store.objects.filter(merchant=shop[0]).count() == 1


@pytest.mark.parametrize(
    "store_id,input,expected",
    [
        ("own", {"name": ""}, [("name", "REQUIRED")]),
        ("own", {"address": "z" * 501}, [("address", "TOO_LONG")]),
        ("not-a-global-id", {"name": "x"}, [("id", "NOT_FOUND")]),
        (ids.encode("Terminal", 1), {"name": "x"}, [("id", "NOT_FOUND")]),
        (ids.encode("Store", 2**70), {"name": "x"}, [("id", "NOT_FOUND")]),
    ],
)
def test_store_update_bad_input(api, operation, shop, store_id, input, expected):
    key = make_api_key(shop[0], "admin")
    target = gid(shop[1]) if store_id == "own" else store_id
    r = api.execute(operation("merchants_store_update"), {"id": target, "input": input}, key=key)
    assert errors_of(r) == expected


def test_store_update_to_a_taken_name_is_duplicate(api, operation, shop):
    StoreFactory(merchant=shop[0], name="Xuhui")
    key = make_api_key(shop[0], "admin")
    r = api.execute(
        operation("merchants_store_update"), {"id": gid(shop[1]), "input": {"name": "Xuhui"}}, key=key
    )
    assert errors_of(r) == [("name", "DUPLICATE")]


def test_terminal_lifecycle(api, operation, shop):
    key = make_api_key(shop[0], "admin")
    created = api.execute(
        operation("merchants_terminal_create"),
        {"input": {"storeId": gid(shop[1]), "name": "Till 1"}},
        key=key,
    ).ok()["terminalCreate"]
    assert created["errors"] == [] and created["secret"].startswith("ts_")
    uid, secret = created["terminal"]["uid"], created["secret"]
    # The secret signs requests: authentication passes (a terminal may not call `me`).
    assert api.execute(operation("merchants_me"), terminal=(uid, secret)).error_codes == ["FORBIDDEN"]
    assert api.execute(operation("merchants_me"), terminal=(uid, "ts_wrong")).error_codes == ["BAD_SIGNATURE"]
    tid = created["terminal"]["id"]
    renamed = api.execute(operation("merchants_terminal_update"), {"id": tid, "name": "Till A"}, key=key).ok()
    assert renamed["terminalUpdate"]["terminal"]["name"] == "Till A"
    revoked = api.execute(operation("merchants_terminal_revoke"), {"id": tid}, key=key).ok()["terminalRevoke"]
    assert revoked["terminal"]["isRevoked"] is True
    assert api.execute(operation("merchants_me"), terminal=(uid, secret)).error_codes == ["TERMINAL_REVOKED"]
    again = api.execute(operation("merchants_terminal_revoke"), {"id": tid}, key=key)
    assert errors_of(again) == [("id", "ALREADY_REVOKED")]
    # The secret is stored encrypted, never in clear.
    assert secret.encode() not in bytes(Terminal.objects.get(uid=uid).secret_encrypted)


@pytest.mark.parametrize(
    "input,expected",
    [
        ({"storeId": "own", "name": ""}, [("name", "REQUIRED")]),
        ({"storeId": "own", "name": "t" * 201}, [("name", "TOO_LONG")]),
        ({"storeId": "bogus", "name": "t"}, [("storeId", "NOT_FOUND")]),
        ({"storeId": "inactive", "name": "t"}, [("storeId", "STORE_INACTIVE")]),
    ],
)
def test_terminal_create_bad_input(api, operation, shop, input, expected):
    inactive = StoreFactory(merchant=shop[0], name="Closed", is_active=False)
    store_ids = {"own": gid(shop[1]), "bogus": "bogus", "inactive": gid(inactive)}
    key = make_api_key(shop[0], "admin")
    variables = {"input": {**input, "storeId": store_ids[input["storeId"]]}}
    assert errors_of(api.execute(operation("merchants_terminal_create"), variables, key=key)) == expected
    assert not Terminal.objects.exists()


def test_terminal_update_bad_input(api, operation, shop):
    terminal, _ = make_terminal(shop[1])
    key = make_api_key(shop[0], "admin")
    r = api.execute(operation("merchants_terminal_update"), {"id": gid(terminal), "name": " "}, key=key)
    assert errors_of(r) == [("name", "REQUIRED")]
    r = api.execute(operation("merchants_terminal_update"), {"id": "nope", "name": "x"}, key=key)
    assert errors_of(r) == [("id", "NOT_FOUND")]


def test_api_key_lifecycle(api, operation, shop):
    key = make_api_key(shop[0], "admin")
    created = api.execute(
        operation("merchants_api_key_create"), {"input": {"name": "Finance team", "role": "FINANCE"}}, key=key
    ).ok()["apiKeyCreate"]
    assert created["errors"] == [] and created["apiKey"]["role"] == "FINANCE"
    new_key = created["secret"]
    assert created["apiKey"]["prefix"] in new_key
    assert api.execute(operation("merchants_me"), key=new_key).ok()["me"]["name"] == "Sweet Spoon"
    # Stored hashed: the secret is nowhere in the row.
    row = ApiKey.objects.get(prefix=created["apiKey"]["prefix"])
    assert new_key not in (row.secret_hash, row.name)
    revoked = api.execute(
        operation("merchants_api_key_revoke"), {"id": created["apiKey"]["id"]}, key=key
    ).ok()
    assert revoked["apiKeyRevoke"]["apiKey"]["isRevoked"] is True
    assert api.execute(operation("merchants_me"), key=new_key).error_codes == ["UNAUTHENTICATED"]
    again = api.execute(operation("merchants_api_key_revoke"), {"id": created["apiKey"]["id"]}, key=key)
    assert errors_of(again) == [("id", "ALREADY_REVOKED")]


def test_api_key_bad_input(api, operation, shop):
    key = make_api_key(shop[0], "admin")
    r = api.execute(operation("merchants_api_key_create"), {"input": {"name": "", "role": "BRAND"}}, key=key)
    assert errors_of(r) == [("name", "REQUIRED")]
    # An unknown enum value is refused by GraphQL validation: a typed error, not a 500.
    r = api.execute(operation("merchants_api_key_create"), {"input": {"name": "x", "role": "OWNER"}}, key=key)
    assert r.status == 400 and r.error_codes == ["GRAPHQL_VALIDATION_FAILED"]
    self_id = ids.encode("ApiKey", ApiKey.objects.get(merchant=shop[0]).pk)
    r = api.execute(operation("merchants_api_key_revoke"), {"id": self_id}, key=key)
    assert errors_of(r) == [("id", "CANNOT_REVOKE_SELF")]
    r = api.execute(operation("merchants_api_key_revoke"), {"id": ids.encode("Store", 1)}, key=key)
    assert errors_of(r) == [("id", "NOT_FOUND")]


def test_pagination_walks_every_store_once(api, operation, shop):
    for i in range(6):
        StoreFactory(merchant=shop[0], name=f"S{i}")
    key = make_api_key(shop[0], "brand")
    seen, after = [], None
    while True:
        page = api.execute(operation("merchants_stores"), {"first": 3, "after": after}, key=key).ok()[
            "stores"
        ]
        seen += [e["node"]["name"] for e in page["edges"]]
        assert page["totalCount"] == 7
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(["Jing'an", *[f"S{i}" for i in range(6)]])


# --- protocol hygiene -------------------------------------------------------------


@pytest.mark.parametrize(
    "body,code",
    [
        (b"{not json", None),
        (b'{"query": "{ me { name "}', "GRAPHQL_VALIDATION_FAILED"),
        (b'{"query": "{ nope }"}', "GRAPHQL_VALIDATION_FAILED"),
        (
            b'{"query": "query($n: Int!) { stores(first: $n) { totalCount } }", "variables": {"n": "x"}}',
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ],
)
def test_malformed_requests_get_4xx_not_500(api, shop, body, code):
    key = make_api_key(shop[0])
    r = api.post_raw(body, {"Authorization": f"Bearer {key}"})
    assert 400 <= r.status < 500
    assert r.errors
    if code:
        assert r.error_codes == [code]


def test_depth_limit(api, shop):
    key = make_api_key(shop[0], "admin")
    deep = "{ terminals { edges { node { store { id } } } } }"
    assert api.execute(deep, key=key).status == 200
    nested = "query { " + "stores { edges { node { " * 6 + "id" + " } } }" * 6 + " }"
    r = api.execute(nested, key=key)
    assert r.error_codes == ["QUERY_TOO_COMPLEX"]
    assert r.errors[0]["extensions"]["limit"] == "depth"
    assert "depth" in r.errors[0]["message"]


def test_introspection_and_graphiql_are_off_without_debug(api, shop, client):
    key = make_api_key(shop[0])
    r = api.execute("{ __schema { types { name } } }", key=key)
    assert r.error_codes == ["GRAPHQL_VALIDATION_FAILED"]
    page = client.get("/graphql/", HTTP_ACCEPT="text/html")
    assert b"graphiql" not in page.content.lower()


def test_a_repeated_query_is_parsed_and_validated_once_and_answers_each_caller(api, shop, other):
    from backend.gateway.view import valid_document

    valid_document.cache_clear()
    query = "{ me { name } }"
    first = api.execute(query, key=make_api_key(shop[0]))
    second = api.execute(query, key=make_api_key(other[0]))
    assert first.data["me"]["name"] == shop[0].name
    assert second.data["me"]["name"] == other[0].name  # the document is shared, never the data
    info = valid_document.cache_info()
    assert (info.misses, info.hits) == (1, 1)


def test_an_invalid_query_is_refused_every_time_and_never_cached(api, shop):
    from backend.gateway.view import valid_document

    valid_document.cache_clear()
    key = make_api_key(shop[0])
    for _ in range(2):
        assert api.execute("{ nope }", key=key).error_codes == ["GRAPHQL_VALIDATION_FAILED"]
        assert api.execute("{ me { name ", key=key).error_codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert valid_document.cache_info().currsize == 0


def test_a_document_valid_under_debug_is_still_checked_without_it(api, shop, settings):
    key = make_api_key(shop[0])
    introspect = "{ __schema { queryType { name } } }"
    settings.DEBUG = True
    assert api.execute(introspect, key=key).data["__schema"]["queryType"]["name"] == "Query"
    settings.DEBUG = False
    assert api.execute(introspect, key=key).error_codes == ["GRAPHQL_VALIDATION_FAILED"]


def test_a_mutation_over_get_is_refused(api, shop, client):
    key = make_api_key(shop[0], "admin")
    response = client.get(
        "/graphql/",
        {"query": 'mutation { storeCreate(input: {name: "x"}) { errors { code } } }'},
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 405
    assert not Store.objects.filter(name="x").exists()


def test_unexpected_errors_are_masked(api, shop, monkeypatch):
    from backend.merchants import selectors

    def boom(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "stores_for", boom)
    key = make_api_key(shop[0])
    r = api.execute("{ stores { totalCount } }", key=key)
    assert r.error_codes == ["INTERNAL_ERROR"]
    assert "secret internals" not in str(r.body)


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
