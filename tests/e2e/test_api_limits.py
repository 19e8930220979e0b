"""The cost of a request is bounded before it runs (issue 10): every attack of the probe is
refused with a stable code and the numbers that broke the limit; anonymous requests run
nothing but ``__typename``. How fast the refusals are is measured by ``scripts/bench``
(tests/bench/attacks.py), never asserted here."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from tests.bench.attacks import fragment_bomb  # the documents scripts/bench times
from tests.factories import MerchantFactory, StoreFactory, make_api_key, make_terminal

pytestmark = pytest.mark.django_db


@pytest.fixture
def key():
    merchant = MerchantFactory(name="Sweet Spoon")
    StoreFactory(merchant=merchant)
    return make_api_key(merchant, "admin")


def refusal(response, limit: str) -> dict:
    assert response.error_codes == ["QUERY_TOO_COMPLEX"], response.body
    extensions = response.errors[0]["extensions"]
    assert extensions["limit"] == limit
    assert extensions["value"] > extensions["maximum"]
    assert response.data is None
    return extensions


def test_a_fragment_bomb_without_credentials_is_refused_before_any_work(api):
    r = api.execute(fragment_bomb())
    assert (r.status, r.error_codes) == (401, ["UNAUTHENTICATED"])


def test_a_fragment_bomb_with_a_key_is_refused_by_its_expanded_field_count(api, key):
    r = api.execute(fragment_bomb(45), key=key)  # 2^45 spreads: counted, never expanded
    extensions = refusal(r, "fields")
    assert extensions["maximum"] == settings.GRAPHQL_MAX_FIELDS


def test_fragments_spread_a_few_times_still_run(api, key):
    r = api.execute(fragment_bomb(3), key=key)
    assert r.ok() == {"me": {"id": r.data["me"]["id"]}}


def test_a_fragment_cycle_and_an_unknown_fragment_are_validation_errors(api, key):
    cycle = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }"
    r = api.execute(cycle, key=key)
    assert r.error_codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "within itself" in r.errors[0]["message"]
    r = api.execute("query { ...Nope }", key=key)
    assert r.error_codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Unknown fragment" in r.errors[0]["message"]


def test_a_thousand_aliases_of_a_list_are_refused(api, key):
    aliases = " ".join(f'a{i}: poolMembers(poolId: "x", first: 500) {{ totalCount }}' for i in range(1000))
    r = api.execute("{ " + aliases + " }", key=key)
    # The text is past the size limits before the aliases are even counted.
    assert r.error_codes == ["QUERY_TOO_COMPLEX"]
    assert r.errors[0]["extensions"]["limit"] in {"bytes", "tokens"}
    few = " ".join(
        f"a{i}: stores(first: 1) {{ totalCount }}" for i in range(settings.GRAPHQL_MAX_ALIASES + 1)
    )
    refusal(api.execute("{ " + few + " }", key=key), "aliases")


def test_ten_thousand_fields_are_refused(api, key):
    r = api.execute("{ me { " + "id " * 10_000 + "} }", key=key)
    refusal(r, "tokens")


def test_five_thousand_operations_are_refused(api, key):
    r = api.execute(" ".join(f"query Q{i} {{ me {{ id }} }}" for i in range(5000)), key=key)
    assert r.error_codes == ["QUERY_TOO_COMPLEX"]
    assert r.errors[0]["extensions"]["limit"] in {"bytes", "tokens"}
    count = settings.GRAPHQL_MAX_OPERATIONS + 1
    r = api.execute(" ".join(f"query Q{i} {{ me {{ id }} }}" for i in range(count)), key=key)
    refusal(r, "operations")


def test_an_oversized_list_argument_is_refused_as_a_variable_and_as_a_literal(api, key, operation, settings):
    fan_ids = [f"RmFuOj{i}" for i in range(100_000)]
    variables = {"input": {"placementId": "x", "fanIds": fan_ids}}
    refusal(api.execute(operation("coupons_issuance_start"), variables, key=key), "listItems")
    settings.GRAPHQL_MAX_LIST_ITEMS = 100  # a literal of the default's size is past the token limit first
    literal = ", ".join(f'"{i}"' for i in range(101))
    r = api.execute(
        f'mutation {{ issuanceStart(input: {{placementId: "x", fanIds: [{literal}]}}) {{ job {{ id }} }} }}',
        key=key,
    )
    refusal(r, "listItems")


def test_a_computed_cost_multiplies_by_the_rows_asked_for(api, key):
    page = "stores(first: 500) { edges { node { id name } } }"  # 1 + 500 x 4
    assert api.execute("{ " + page + " }", key=key).status == 200
    pages = " ".join(f"a{i}: {page}" for i in range(29))
    extensions = refusal(api.execute("{ " + pages + " }", key=key), "cost")
    assert extensions["maximum"] == settings.GRAPHQL_MAX_COST
    small = " ".join(f"a{i}: stores(first: 5) {{ edges {{ node {{ id }} }} }}" for i in range(29))
    assert api.execute("{ " + small + " }", key=key).status == 200


def test_reports_cost_more_than_a_field(api, key):
    report = 'attributionReconcile(dateFrom: "2026-11-01", dateTo: "2026-11-30") { __typename }'
    reports = " ".join(f"r{i}: {report}" for i in range(11))
    refusal(api.execute("{ " + reports + " }", key=key), "cost")


@pytest.mark.parametrize(
    ("arguments", "variables"),
    [
        ("first: 501", {}),
        ("first: -1", {}),
        ("last: 100000", {}),
        ("offset: -1", {}),
        ("first: $n", {"n": 10_000}),
    ],
)
def test_pagination_out_of_bounds_is_a_clear_error(api, key, arguments, variables):
    declared = "($n: Int)" if "$n" in arguments else ""
    r = api.execute(f"query Q{declared} {{ stores({arguments}) {{ totalCount }} }}", variables, key=key)
    assert r.error_codes == ["BAD_USER_INPUT"], r.body
    assert "500" in r.errors[0]["message"] or "negative" in r.errors[0]["message"]


def test_a_cached_document_still_checks_the_variables_it_is_paged_by(api, key):
    """A valid document is measured once and cached; the rows its variables ask for are
    checked on every request all the same (and a page given by a literal needs no second
    walk: its variables cannot change the cost, only their lists are counted)."""
    query = "query Q($n: Int, $after: String) { stores(first: $n, after: $after) { totalCount } }"
    assert api.execute(query, {"n": 10}, key=key).status == 200
    assert api.execute(query, {"n": 10_000}, key=key).error_codes == ["BAD_USER_INPUT"]
    nested = 'query Q($o: Int) { stores(first: 5, offset: $o, before: "x") { totalCount } }'
    assert api.execute(nested, {"o": 1}, key=key).error_codes == ["BAD_USER_INPUT"]


def test_reads_variables_names_only_documents_paged_by_a_variable():
    from graphql import parse

    from backend.api.cost import reads_variables

    assert reads_variables(parse("query Q($n: Int) { stores(first: $n) { totalCount } }"))
    assert reads_variables(parse("query Q($b: String) { stores(offset: 1, before: $b) { totalCount } }"))
    assert not reads_variables(parse("query Q($a: String) { stores(first: 5, after: $a) { totalCount } }"))
    assert not reads_variables(
        parse(
            'mutation M($c: String!) { redeemCoupon(code: $c, orderAmount: 1, currency: "CNY", '
            'idempotencyKey: "k") { errors { code } } }'
        )
    )


def test_a_variable_default_out_of_bounds_is_refused_too(api, key):
    r = api.execute("query Q($n: Int = 100000) { stores(first: $n) { totalCount } }", key=key)
    assert r.error_codes == ["BAD_USER_INPUT"]


# --- anonymous requests, __typename, suggestions, malformed bodies -------------------------


def test_anonymous_requests_may_ask_only_typename(api):
    assert api.execute("{ __typename }").ok() == {"__typename": "Query"}
    r = api.execute("{ me { id } }")
    assert (r.status, r.error_codes) == (401, ["UNAUTHENTICATED"])
    r = api.execute("{ __schema { queryType { name } } }")  # introspection is off without DEBUG
    assert r.error_codes == ["UNAUTHENTICATED"]


def test_under_debug_an_anonymous_client_may_introspect(api, settings):
    settings.DEBUG = True
    r = api.execute("{ __schema { queryType { name } } }")
    assert r.ok() == {"__schema": {"queryType": {"name": "Query"}}}
    assert api.execute("{ me { id } }").error_codes == ["UNAUTHENTICATED"]


def test_typename_is_allowed_with_introspection_off(api, key):
    r = api.execute("{ me { __typename id } }", key=key)
    assert r.ok()["me"]["__typename"] == "MerchantType" or r.data["me"]["__typename"]
    r = api.execute('{ __type(name: "Query") { name } }', key=key)
    assert r.error_codes == ["GRAPHQL_VALIDATION_FAILED"]


def test_no_suggestions_reveal_field_names_when_introspection_is_off(api, key):
    r = api.execute("{ mee { id } }", key=key)
    assert r.error_codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Did you mean" not in r.errors[0]["message"]
    assert "'me'" not in r.errors[0]["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"query": 5},
        {"query": ["{ me { id } }"]},
        {"query": "{ me { id } }", "variables": [1]},
        {"query": "{ me { id } }", "operationName": 7},
        [1, 2],
        "just a string",
    ],
)
def test_malformed_bodies_answer_a_clean_json_error(api, key, body):
    r = api.post_raw(json.dumps(body).encode(), {"Authorization": f"Bearer {key}"})
    assert r.status == 400
    assert r.error_codes == ["BAD_REQUEST"], r.body
    message = r.errors[0]["message"]
    assert "object of type" not in message and "Traceback" not in message


def test_a_terminal_is_bounded_the_same_way(api):
    merchant = MerchantFactory()
    store = StoreFactory(merchant=merchant)
    terminal, secret = make_terminal(store)
    r = api.execute(fragment_bomb(40), terminal=(terminal.uid, secret))
    refusal(r, "fields")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_legitimate_request_is_answered_while_eight_clients_send_bombs(live_server):
    """Real concurrent HTTP clients against the threaded live server: every bomb is refused
    with its code and every `{ me { name } }` meanwhile answers. How fast is measured by
    scripts/bench (scenario 9), not asserted here."""
    from tests.bench import attacks

    merchant = MerchantFactory(name="Sweet Spoon")
    key = make_api_key(merchant, "admin")
    url = f"{live_server.url}/graphql/"
    for attack in attacks.attacks():
        result = attacks.measure_attack(url, key, attack, repeats=2)
        assert result["refused"], (attack.name, result["wrong_answers"])
    legit = attacks.legit_during_bombs(url, key, requests_=10)
    assert legit["answered"], legit["failures"]
    assert legit["bombs_sent"] > 0


def test_a_mutation_over_get_is_a_json_405(client, key):
    query = 'mutation { storeCreate(input: {name: "x"}) { errors { code } } }'
    response = client.get("/graphql/", {"query": query}, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


def test_a_keyed_answer_sets_no_csrf_cookie_graphiql_still_gets_one(client, key, settings):
    """The CSRF cookie is GraphiQL's (a browser without credentials); a caller with a key or a
    terminal signature never sends it back (the endpoint is csrf-exempt), so none is minted."""
    response = client.post(
        "/graphql/",
        {"query": "{ me { id } }"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 200
    assert settings.CSRF_COOKIE_NAME not in response.cookies
    settings.DEBUG = True
    page = client.get("/graphql/", HTTP_ACCEPT="text/html")
    assert settings.CSRF_COOKIE_NAME in page.cookies


def test_under_debug_graphiqls_introspection_query_runs(api, settings):
    """GraphiQL (and other tools) ask graphql-js's introspection query: ``ofType`` nested
    nine deep. The fields of the introspection types do not count towards the depth limit."""
    from graphql import get_introspection_query

    settings.DEBUG = True
    query = get_introspection_query(descriptions=True, input_value_deprecation=True)
    data = api.execute(query).ok()
    assert data["__schema"]["queryType"]["name"] == "Query"
