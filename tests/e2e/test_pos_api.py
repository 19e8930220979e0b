"""The POS operations over HTTP, exactly as a till calls them: signatures, payloads, replays."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.api import ids
from backend.coupons import codes
from backend.merchants.credentials import sign_terminal_request
from backend.merchants.models import Terminal
from backend.redemptions.models import Redemption
from tests.client import terminal_headers
from tests.factories import (
    MerchantFactory,
    RedemptionFactory,
    StoreFactory,
    make_api_key,
    make_terminal,
    pos_setup,
)

pytestmark = pytest.mark.django_db


def redeem_vars(code: str, amount: int = 3000, currency: str = "CNY", key: str | None = None) -> dict:
    return {
        "code": code,
        "orderAmount": amount,
        "currency": currency,
        "idempotencyKey": key or uuid.uuid4().hex,
    }


def body_of(query: str, variables: dict) -> bytes:
    return json.dumps({"query": query, "variables": variables}).encode()


def test_redeem_verified_payload(api, operation):
    setup = pos_setup()
    code = setup.coupons[0].code
    data = api.execute(operation("pos_redeem_coupon"), redeem_vars(code), terminal=setup.signing).ok()
    payload = data["redeemCoupon"]
    assert payload["errors"] == []
    receipt = payload["redemption"]
    assert receipt["status"] == "VERIFIED" and receipt["reasonCode"] is None
    assert (receipt["orderAmount"], receipt["discountAmount"], receipt["payAmount"]) == (3000, 500, 2500)
    assert receipt["campaignName"] == setup.campaign.name and receipt["code"] == code
    redemption = Redemption.objects.get()
    assert ids.decode("Redemption", receipt["id"]) == redemption.pk
    assert redemption.store_id == setup.store.pk  # the terminal's own store, never input


def test_redeem_rejection_is_data_with_a_reason_code(api, operation):
    setup = pos_setup()
    data = api.execute(
        operation("pos_redeem_coupon"), redeem_vars(codes.new_code()), terminal=setup.signing
    ).ok()
    payload = data["redeemCoupon"]
    assert payload["redemption"]["status"] == "REJECTED"
    assert payload["redemption"]["reasonCode"] == "UNKNOWN_CODE"
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("code", "UNKNOWN_CODE")]


def test_replay_is_byte_for_byte_the_first_answer(client, operation):
    setup = pos_setup()
    variables = redeem_vars(setup.coupons[0].code, key="till-42")
    answers = []
    for _ in range(2):
        body = body_of(operation("pos_redeem_coupon"), variables)
        headers = {
            f"HTTP_{k.upper().replace('-', '_')}": v
            for k, v in terminal_headers(*setup.signing, body).items()
        }
        response = client.post("/graphql/", body, content_type="application/json", **headers)
        assert response.status_code == 200
        answers.append(response.content)  # the retry is re-signed at once: a new nonce, no replay
    assert answers[0] == answers[1]
    assert Redemption.objects.count() == 1
    changed = redeem_vars(setup.coupons[0].code, amount=3100, key="till-42")
    from tests.client import ApiClient

    data = (
        ApiClient(django_client=client)
        .execute(operation("pos_redeem_coupon"), changed, terminal=setup.signing)
        .ok()
    )
    assert data["redeemCoupon"]["redemption"] is None
    assert data["redeemCoupon"]["errors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_check_coupon(api, operation):
    setup = pos_setup(min_spend=1000)
    code = setup.coupons[0].code
    variables = {"code": code, "orderAmount": 3000, "currency": "CNY"}
    check = api.execute(operation("pos_check_coupon"), variables, terminal=setup.signing).ok()["checkCoupon"]
    assert check["errors"] == []
    assert check["check"]["ok"] is True and check["check"]["discountAmount"] == 500
    low = api.execute(
        operation("pos_check_coupon"), {**variables, "orderAmount": 999}, terminal=setup.signing
    )
    assert low.ok()["checkCoupon"]["check"]["reasonCode"] == "BELOW_MIN_SPEND"
    bad = api.execute(operation("pos_check_coupon"), {**variables, "currency": "C1"}, terminal=setup.signing)
    assert bad.ok()["checkCoupon"]["errors"][0]["code"] == "INVALID_CURRENCY"
    assert Redemption.objects.count() == 0


def test_void_over_http(api, operation):
    setup = pos_setup()
    receipt = api.execute(
        operation("pos_redeem_coupon"), redeem_vars(setup.coupons[0].code), terminal=setup.signing
    ).ok()["redeemCoupon"]["redemption"]
    variables = {"redemptionId": receipt["id"], "reason": "wrong item"}
    voided = api.execute(operation("pos_void_redemption"), variables, terminal=setup.signing).ok()
    assert voided["voidRedemption"]["errors"] == []
    assert voided["voidRedemption"]["redemption"]["status"] == "VOIDED"
    assert voided["voidRedemption"]["redemption"]["voidReason"] == "wrong item"
    variables["reason"] = "again"  # an identical body in the same second would be a replay
    twice = api.execute(operation("pos_void_redemption"), variables, terminal=setup.signing).ok()
    assert twice["voidRedemption"]["errors"][0]["code"] == "ALREADY_VOIDED"


def test_another_merchants_terminal_cannot_void_or_see(api, operation):
    setup = pos_setup()
    receipt = api.execute(
        operation("pos_redeem_coupon"), redeem_vars(setup.coupons[0].code), terminal=setup.signing
    ).ok()["redeemCoupon"]["redemption"]
    other = pos_setup(coupons=0)
    data = api.execute(
        operation("pos_void_redemption"), {"redemptionId": receipt["id"]}, terminal=other.signing
    ).ok()
    assert data["voidRedemption"]["errors"][0]["code"] == "NOT_FOUND"
    assert Redemption.objects.get().status == "verified"
    key = make_api_key(other.merchant, "admin")
    missing = api.execute(operation("pos_redemption"), {"id": receipt["id"]}, key=key)
    assert missing.error_codes == ["NOT_FOUND"]
    listed = api.execute(operation("pos_redemptions"), {"first": 10}, key=key).ok()
    assert listed["redemptions"]["totalCount"] == 0


def test_another_merchants_coupon_is_wrong_merchant(api, operation):
    setup = pos_setup()
    other = pos_setup(coupons=0)
    data = api.execute(
        operation("pos_redeem_coupon"), redeem_vars(setup.coupons[0].code), terminal=other.signing
    ).ok()
    assert data["redeemCoupon"]["redemption"]["reasonCode"] == "WRONG_MERCHANT"
    assert data["redeemCoupon"]["redemption"]["campaignName"] is None


def test_api_keys_cannot_write_off_and_terminals_cannot_list(api, operation):
    setup = pos_setup()
    key = make_api_key(setup.merchant, "admin")
    response = api.execute(operation("pos_redeem_coupon"), redeem_vars(setup.coupons[0].code), key=key)
    assert response.error_codes == ["FORBIDDEN"]
    response = api.execute(operation("pos_redemptions"), {"first": 5}, terminal=setup.signing)
    assert response.error_codes == ["FORBIDDEN"]
    response = api.execute(operation("pos_redeem_coupon"), redeem_vars(setup.coupons[0].code))
    assert response.error_codes == ["UNAUTHENTICATED"]
    assert Redemption.objects.count() == 0


# --- signatures --------------------------------------------------------------------------------


def send_signed(api, setup, body: bytes, *, timestamp=None, secret=None, uid=None, headers=None):
    signed = terminal_headers(uid or setup.terminal.uid, secret or setup.secret, body, timestamp)
    return api.post_raw(body, {**signed, **(headers or {})})


@pytest.fixture
def signed(operation):
    setup = pos_setup()
    body = body_of(operation("pos_redeem_coupon"), redeem_vars(setup.coupons[0].code))
    return setup, body


@pytest.mark.parametrize(
    "case",
    [
        "stale",
        "future",
        "wrong_secret",
        "tampered",
        "unknown_terminal",
        "bad_timestamp",
        "no_signature",
        "non_ascii_signature",
        "huge_timestamp",
        "scheme_v1",
        "no_nonce",
        "short_nonce",
        "seconds_timestamp",
    ],
)
def test_bad_signatures_are_refused_with_401(api, signed, case):
    setup, body = signed
    now = int(time.time())
    if case == "stale":
        response = send_signed(api, setup, body, timestamp=now - 301)
    elif case == "future":
        # 302, not 301: ``now`` dropped the second's fraction and the request takes its own
        # time, so a timestamp of now + 301 can arrive less than 300 s ahead (and be accepted).
        response = send_signed(api, setup, body, timestamp=now + 302)
    elif case == "wrong_secret":
        response = send_signed(api, setup, body, secret="ts_not-the-secret")
    elif case == "tampered":
        headers = terminal_headers(setup.terminal.uid, setup.secret, body)
        response = api.post_raw(body.replace(b"3000", b"300"), headers)
    elif case == "unknown_terminal":
        response = send_signed(api, setup, body, uid="trm_0000000000000000")
    elif case == "bad_timestamp":
        headers = terminal_headers(setup.terminal.uid, setup.secret, body)
        response = api.post_raw(body, {**headers, "X-Timestamp": "yesterday"})
    elif case == "non_ascii_signature":
        headers = terminal_headers(setup.terminal.uid, setup.secret, body)
        response = api.post_raw(body, {**headers, "X-Signature": "é" * 64})
    elif case == "huge_timestamp":
        headers = terminal_headers(setup.terminal.uid, setup.secret, body)
        response = api.post_raw(body, {**headers, "X-Timestamp": "9" * 5000})
    elif case == "scheme_v1":  # hex HMAC over "<timestamp>.<body>", the scheme v2 replaced
        ts = str(now)
        v1 = hmac.new(setup.secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        response = api.post_raw(
            body, {"X-Terminal-Id": setup.terminal.uid, "X-Timestamp": ts, "X-Signature": v1}
        )
    elif case == "no_nonce":
        headers = terminal_headers(setup.terminal.uid, setup.secret, body)
        response = api.post_raw(body, {k: v for k, v in headers.items() if k != "X-Nonce"})
    elif case == "short_nonce":
        headers = terminal_headers(setup.terminal.uid, setup.secret, body, nonce="abc")
        response = api.post_raw(body, headers)
    elif case == "seconds_timestamp":  # v2 sends milliseconds; seconds are 1970, far outside the window
        headers = terminal_headers(setup.terminal.uid, setup.secret, body)
        ts = str(now)
        signature = sign_terminal_request(
            setup.secret,
            method="POST",
            path="/graphql/",
            query="",
            timestamp=ts,
            nonce=headers["X-Nonce"],
            body=body,
        )
        response = api.post_raw(body, {**headers, "X-Timestamp": ts, "X-Signature": signature})
    else:
        headers = terminal_headers(setup.terminal.uid, setup.secret, body)
        response = api.post_raw(body, {**headers, "X-Signature": ""})
    assert response.status == 401
    assert response.error_codes == ["BAD_SIGNATURE"]
    assert Redemption.objects.count() == 0


def test_timestamps_inside_the_window_are_accepted(api, signed):
    setup, body = signed
    response = send_signed(api, setup, body, timestamp=int(time.time()) - 290)
    assert response.ok()["redeemCoupon"]["redemption"]["status"] == "VERIFIED"


def test_a_replayed_request_is_refused(api, signed):
    setup, body = signed
    headers = terminal_headers(setup.terminal.uid, setup.secret, body)
    assert api.post_raw(body, headers).ok()["redeemCoupon"]["errors"] == []
    replay = api.post_raw(body, headers)
    assert (replay.status, replay.error_codes) == (401, ["BAD_SIGNATURE"])
    assert Redemption.objects.count() == 1


def _meta(headers: dict[str, str]) -> dict[str, str]:
    return {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}


@pytest.mark.parametrize("change", ["query_string", "path", "method"])
def test_a_signed_request_sent_to_another_url_or_method_is_refused(client, operation, change):
    """The signature covers method, path and query string: none can be changed in flight."""
    setup = pos_setup()
    code = setup.coupons[0].code
    body = body_of(operation("pos_check_coupon"), {"code": code, "orderAmount": 3000, "currency": "CNY"})
    url = "/graphql/"
    if change == "query_string":  # signed without one, sent with a smuggled redeem
        headers = terminal_headers(*setup.signing, body)
        url += "?" + urlencode(
            {"query": operation("pos_redeem_coupon"), "variables": json.dumps(redeem_vars(code))}
        )
    elif change == "path":
        headers = terminal_headers(*setup.signing, body, path="/graphql/other/")
    else:
        headers = terminal_headers(*setup.signing, body, method="PATCH")
    response = client.post(url, body, content_type="application/json", **_meta(headers))
    assert response.status_code == 401, response.content
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_SIGNATURE"
    assert Redemption.objects.count() == 0


def test_a_post_runs_its_body_even_when_the_signed_url_carries_a_query(client, operation):
    """Even a till that signs a URL with ?query=... runs only the body it sent."""
    setup = pos_setup()
    code = setup.coupons[0].code
    body = body_of(operation("pos_check_coupon"), {"code": code, "orderAmount": 3000, "currency": "CNY"})
    query = urlencode({"query": operation("pos_redeem_coupon"), "variables": json.dumps(redeem_vars(code))})
    headers = _meta(terminal_headers(*setup.signing, body, query=query))
    response = client.post(f"/graphql/?{query}", body, content_type="application/json", **headers)
    assert response.status_code == 200, response.content
    assert response.json()["data"]["checkCoupon"]["check"]["ok"] is True
    assert Redemption.objects.count() == 0


def test_a_signed_get_covers_its_query_string(client):
    setup = pos_setup(coupons=2)
    check = '{ checkCoupon(code: "%s", orderAmount: 3000, currency: "CNY") { check { ok } } }'
    query = urlencode({"query": check % setup.coupons[0].code})
    headers = _meta(terminal_headers(*setup.signing, b"", method="GET", query=query))
    ok = client.get(f"/graphql/?{query}", **headers)
    assert ok.status_code == 200, ok.content
    headers = _meta(terminal_headers(*setup.signing, b"", method="GET", query=query))
    tampered = urlencode({"query": check % setup.coupons[1].code})
    response = client.get(f"/graphql/?{tampered}", **headers)
    assert response.status_code == 401


def test_an_identical_retry_resigned_in_the_same_second_is_replayed_by_its_key(api, operation):
    setup = pos_setup()
    body = body_of(operation("pos_redeem_coupon"), redeem_vars(setup.coupons[0].code, key="same-second"))
    ts = int(time.time())
    first = api.post_raw(body, terminal_headers(*setup.signing, body, ts))
    again = api.post_raw(body, terminal_headers(*setup.signing, body, ts))
    assert first.status == again.status == 200
    assert first.body == again.body
    assert first.data["redeemCoupon"]["redemption"]["status"] == "VERIFIED"
    assert Redemption.objects.count() == 1


def test_a_revoked_terminal_is_refused(api, signed):
    setup, body = signed
    Terminal.objects.filter(pk=setup.terminal.pk).update(revoked_at=timezone.now())
    response = send_signed(api, setup, body)
    assert (response.status, response.error_codes) == (401, ["TERMINAL_REVOKED"])


def _checked_coupon(api, setup, *, secret=None):
    """A signed checkCoupon (nothing written but the check), as its answer."""
    from tests.conftest import load_operation

    body = body_of(
        load_operation("pos_check_coupon"),
        {"code": setup.coupons[0].code, "orderAmount": 3000, "currency": "CNY"},
    )
    return send_signed(api, setup, body, secret=secret)


def test_a_warm_terminal_authenticates_in_one_statement_that_records_the_nonce(api, signed):
    from backend.merchants.models import TerminalRequestNonce

    setup, _ = signed
    assert _checked_coupon(api, setup).status == 200  # warms this process's secret cache
    with CaptureQueriesContext(connection) as ctx:
        assert _checked_coupon(api, setup).status == 200
    touching = [q["sql"] for q in ctx.captured_queries if "merchants_terminal" in q["sql"]]
    assert len(touching) == 1 and "INSERT INTO merchants_terminalrequestnonce" in touching[0]
    assert TerminalRequestNonce.objects.filter(terminal=setup.terminal).count() == 2


def test_a_rotated_secret_takes_effect_at_the_next_request(api, signed):
    from backend.merchants.models import TerminalRequestNonce
    from backend.merchants.services import terminal_rotate_secret

    setup, _ = signed
    assert _checked_coupon(api, setup).status == 200  # the old secret is cached now
    new_secret = terminal_rotate_secret(terminal=Terminal.objects.get(pk=setup.terminal.pk))
    before = TerminalRequestNonce.objects.count()
    old = _checked_coupon(api, setup)
    assert (old.status, old.error_codes) == (401, ["BAD_SIGNATURE"])
    assert TerminalRequestNonce.objects.count() == before  # a refused request records no nonce
    assert _checked_coupon(api, setup, secret=new_secret).status == 200
    again = _checked_coupon(api, setup)  # the old secret, with the new one cached
    assert (again.status, again.error_codes) == (401, ["BAD_SIGNATURE"])


def test_a_revocation_takes_effect_at_the_next_request(api, signed):
    from backend.merchants.models import TerminalRequestNonce
    from backend.merchants.services import terminal_revoke

    setup, body = signed
    assert _checked_coupon(api, setup).status == 200  # the secret is cached now
    terminal_revoke(terminal=Terminal.objects.get(pk=setup.terminal.pk))
    before = TerminalRequestNonce.objects.count()
    response = send_signed(api, setup, body)
    assert (response.status, response.error_codes) == (401, ["TERMINAL_REVOKED"])
    assert TerminalRequestNonce.objects.count() == before
    assert not Redemption.objects.exists()


def test_a_key_and_a_signature_together_are_refused(api, signed):
    setup, body = signed
    key = make_api_key(setup.merchant, "admin")
    response = send_signed(api, setup, body, headers={"Authorization": f"Bearer {key}"})
    assert response.status == 401


# --- bad input: typed errors, never a 500 -------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"orderAmount": -1}, "OUT_OF_RANGE"),
        ({"orderAmount": 0}, "OUT_OF_RANGE"),
        ({"currency": "RMB!"}, "INVALID_CURRENCY"),
        ({"currency": ""}, "INVALID_CURRENCY"),
        ({"code": ""}, "REQUIRED"),
        ({"code": "x" * 5000}, "TOO_LONG"),
        ({"idempotencyKey": "k" * 101}, "TOO_LONG"),
        ({"idempotencyKey": ""}, "REQUIRED"),
    ],
)
def test_bad_input_is_a_payload_error(api, operation, override, expected):
    setup = pos_setup()
    variables = {**redeem_vars(setup.coupons[0].code), **override}
    response = api.execute(operation("pos_redeem_coupon"), variables, terminal=setup.signing)
    payload = response.ok()["redeemCoupon"]
    assert payload["redemption"] is None
    assert [e["code"] for e in payload["errors"]] == [expected]
    assert Redemption.objects.count() == 0


@pytest.mark.parametrize(
    "variables",
    [
        {"orderAmount": 2**53},  # beyond the Money scalar (2**40 is an amount, out of the till's range)
        {"orderAmount": "3000"},
        {"orderAmount": 12.5},
        {"code": None},
    ],
)
def test_ill_typed_input_is_a_validation_error_not_a_500(api, operation, variables):
    setup = pos_setup()
    response = api.execute(
        operation("pos_redeem_coupon"),
        {**redeem_vars(setup.coupons[0].code), **variables},
        terminal=setup.signing,
    )
    assert response.status == 400
    assert response.error_codes and "INTERNAL_ERROR" not in response.error_codes


def test_void_with_a_bad_id_is_not_found(api, operation):
    setup = pos_setup()
    for bad in ["nonsense", ids.encode("Store", 1), ids.encode("Redemption", 2**62), ""]:
        data = api.execute(
            operation("pos_void_redemption"), {"redemptionId": bad}, terminal=setup.signing
        ).ok()
        assert data["voidRedemption"]["errors"][0]["code"] == "NOT_FOUND"
    data = api.execute(
        operation("pos_void_redemption"), {"redemptionId": "x", "reason": "r" * 201}, terminal=setup.signing
    ).ok()
    assert data["voidRedemption"]["errors"][0]["code"] == "TOO_LONG"


# --- lists --------------------------------------------------------------------------------------


def make_rows(merchant, n: int) -> None:
    store = StoreFactory(merchant=merchant)
    terminal, _ = make_terminal(store)
    setup_campaign = pos_setup(coupons=0)
    for _ in range(n):
        coupon = setup_campaign.coupon()
        RedemptionFactory(
            merchant=merchant, store=store, terminal=terminal, coupon=coupon, campaign=coupon.campaign
        )


@pytest.mark.parametrize("role", ["brand", "finance"])
def test_list_query_count_does_not_grow_with_rows(api, operation, role):
    merchant = MerchantFactory()
    key = make_api_key(merchant, role)
    api.execute("{ me { name } }", key=key).ok()  # last_used_at written once, outside the count
    counts = {}
    for n in (10, 100):
        Redemption.objects.filter(merchant=merchant).delete()
        make_rows(merchant, n)
        with CaptureQueriesContext(connection) as ctx:
            data = api.execute(operation("pos_redemptions"), {"first": 100}, key=key).ok()
        edges = data["redemptions"]["edges"]
        assert len(edges) == n and data["redemptions"]["totalCount"] == n
        assert all(e["node"]["campaign"]["name"] and e["node"]["store"]["name"] for e in edges)
        assert all(e["node"]["placement"]["publisherName"] for e in edges)
        counts[n] = len(ctx.captured_queries)
    assert counts[10] == counts[100] <= 4, counts


def test_list_filters_and_pages(api, operation, django_assert_max_num_queries):
    merchant = MerchantFactory()
    key = make_api_key(merchant, "finance")
    make_rows(merchant, 5)
    Redemption.objects.filter(pk=Redemption.objects.order_by("id").first().pk).update(status="voided")
    first = api.execute(operation("pos_redemptions"), {"first": 3}, key=key).ok()["redemptions"]
    assert first["pageInfo"]["hasNextPage"] is True and len(first["edges"]) == 3
    rest = api.execute(
        operation("pos_redemptions"), {"first": 3, "after": first["pageInfo"]["endCursor"]}, key=key
    ).ok()["redemptions"]
    assert len(rest["edges"]) == 2
    assert {e["node"]["id"] for e in first["edges"]}.isdisjoint({e["node"]["id"] for e in rest["edges"]})
    voided = api.execute(operation("pos_redemptions"), {"first": 10, "status": "VOIDED"}, key=key).ok()
    assert voided["redemptions"]["totalCount"] == 1
    with django_assert_max_num_queries(4):
        api.execute(operation("pos_redemption"), {"id": first["edges"][0]["node"]["id"]}, key=key).ok()


def test_a_row_written_before_the_facts_replays_its_stored_answer(api, operation):
    """Rows from before Redemption.response kept facts hold the camelCase answer itself:
    a replay of one still answers what it said then (here: a campaign renamed since)."""
    setup = pos_setup()
    variables = redeem_vars(setup.coupons[0].code, key="old-row")
    first = api.execute(operation("pos_redeem_coupon"), variables, terminal=setup.signing).ok()
    redemption = Redemption.objects.get()
    old = first["redeemCoupon"]["redemption"]
    redemption.response = {
        "redemption": {k: v for k, v in old.items() if k != "id"},
        "errors": [],
    }
    redemption.save(update_fields=["response"])
    setup.campaign.name = "Renamed since"
    setup.campaign.save(update_fields=["name"])
    again = api.execute(operation("pos_redeem_coupon"), variables, terminal=setup.signing).ok()
    assert again == first
    assert Redemption.objects.count() == 1
