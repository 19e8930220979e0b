"""The web till's side of the API over HTTP: pairing codes, their exchange, the list of
voidable write-offs, and reason messages in the caller's language."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid

import pytest
import requests
from django.core.cache import cache
from django.utils import timezone

from backend.api import ids
from backend.coupons import codes
from backend.merchants.models import Terminal
from backend.redemptions.models import Redemption
from backend.till import pairing as pairing_codes
from backend.till.models import TerminalPairing
from backend.till.views import PAIR_FAILURES_MAX
from tests.client import terminal_headers
from tests.factories import MerchantFactory, StoreFactory, make_api_key, make_terminal, pos_setup, redeem

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_pairing_failures():
    yield
    cache.delete("till:pair-fail:127.0.0.1")


def create_pairing(api, operation, key, **input_):
    return api.execute(operation("till_terminal_pairing_create"), {"input": input_}, key=key)


def exchange(client, code):
    response = client.post("/till/pair", json.dumps({"code": code}), content_type="application/json")
    return response.status_code, response.json()


def test_a_new_terminal_is_paired_with_a_code_exchanged_once(api, client, operation):
    store = StoreFactory()
    key = make_api_key(store.merchant, "admin")
    payload = create_pairing(
        api, operation, key, storeId=ids.encode("Store", store.pk), name="Counter 2"
    ).ok()["terminalPairingCreate"]
    assert payload["errors"] == []
    pairing = payload["pairing"]
    assert len(pairing["code"]) == 9 and pairing["code"][4] == "-"
    expires = dt.datetime.fromisoformat(pairing["expiresAt"])
    assert dt.timedelta(minutes=9) < expires - timezone.now() <= dt.timedelta(minutes=10)
    assert pairing["url"].endswith(f"/till/#pair={pairing['code']}")
    assert pairing["qrSvg"].lstrip().startswith("<?xml") and "<svg" in pairing["qrSvg"]
    assert pairing["terminal"]["name"] == "Counter 2"
    assert TerminalPairing.objects.get().code_hash != pairing["code"]  # only a hash is kept

    status, body = exchange(client, pairing["code"].lower().replace("-", " "))  # typed loosely
    assert status == 200
    assert body["terminalId"] == pairing["terminal"]["uid"] and body["secret"].startswith("ts_")
    assert (body["storeName"], body["currency"]) == (store.name, store.merchant.default_currency)
    # The secret signs like any terminal's.
    check = api.execute(
        operation("pos_check_coupon"),
        {"code": codes.new_code(), "orderAmount": 3000, "currency": "CNY"},
        terminal=(body["terminalId"], body["secret"]),
    ).ok()
    assert check["checkCoupon"]["check"]["reasonCode"] == "UNKNOWN_CODE"

    status, again = exchange(client, pairing["code"])
    assert (status, again["error"]["code"]) == (400, "PAIRING_CODE_USED")
    assert "secret" not in again


def test_pairing_an_existing_terminal_gives_it_a_new_secret(api, client, operation):
    setup = pos_setup()
    key = make_api_key(setup.merchant, "admin")
    code = create_pairing(api, operation, key, terminalId=ids.encode("Terminal", setup.terminal.pk)).ok()[
        "terminalPairingCreate"
    ]["pairing"]["code"]
    status, body = exchange(client, code)
    assert status == 200 and body["terminalId"] == setup.terminal.uid and body["secret"] != setup.secret
    query = operation("merchants_me")  # any signed request will do: the signature is checked first
    old = api.execute(query, terminal=setup.signing)
    assert (old.status, old.error_codes) == (401, ["BAD_SIGNATURE"])
    variables = {"code": setup.coupons[0].code, "orderAmount": 3000, "currency": "CNY"}
    new = api.execute(operation("pos_check_coupon"), variables, terminal=(body["terminalId"], body["secret"]))
    assert new.ok()["checkCoupon"]["check"]["ok"] is True


def test_expired_unknown_and_malformed_codes_are_refused(api, client, operation):
    setup = pos_setup()
    key = make_api_key(setup.merchant, "admin")
    code = create_pairing(api, operation, key, terminalId=ids.encode("Terminal", setup.terminal.pk)).ok()[
        "terminalPairingCreate"
    ]["pairing"]["code"]
    TerminalPairing.objects.update(
        created_at=timezone.now() - dt.timedelta(minutes=10, seconds=1), expires_at=timezone.now()
    )
    assert exchange(client, code) == (
        400,
        {"error": {"code": "PAIRING_CODE_EXPIRED", "message": "This pairing code has expired."}},
    )
    assert TerminalPairing.objects.get().used_at is None
    assert exchange(client, pairing_codes.display(pairing_codes.new_code()))[1]["error"]["code"] == (
        "PAIRING_CODE_INVALID"
    )
    assert exchange(client, "12")[1]["error"]["code"] == "PAIRING_CODE_INVALID"
    response = client.post("/till/pair", b"not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "PAIRING_CODE_INVALID"
    assert client.get("/till/pair").status_code == 405


def test_wrong_codes_from_one_address_are_limited(client):
    for _ in range(PAIR_FAILURES_MAX):
        assert exchange(client, pairing_codes.new_code())[1]["error"]["code"] == "PAIRING_CODE_INVALID"
    status, body = exchange(client, pairing_codes.new_code())
    assert (status, body["error"]["code"]) == (429, "PAIRING_RATE_LIMITED")


def test_a_revoked_terminal_gets_no_code_and_its_code_stops_working(api, client, operation):
    setup = pos_setup()
    key = make_api_key(setup.merchant, "admin")
    terminal_id = ids.encode("Terminal", setup.terminal.pk)
    code = create_pairing(api, operation, key, terminalId=terminal_id).ok()["terminalPairingCreate"][
        "pairing"
    ]["code"]
    api.execute(operation("merchants_terminal_revoke"), {"id": terminal_id}, key=key).ok()
    assert exchange(client, code)[1]["error"]["code"] == "TERMINAL_REVOKED"
    assert TerminalPairing.objects.get().used_at is None
    errors = create_pairing(api, operation, key, terminalId=terminal_id).ok()["terminalPairingCreate"][
        "errors"
    ]
    assert [e["code"] for e in errors] == ["TERMINAL_REVOKED"]
    assert TerminalPairing.objects.count() == 1


def test_only_an_admin_of_the_merchant_asks_for_codes(api, operation):
    setup = pos_setup()
    other = MerchantFactory()
    other_store = StoreFactory(merchant=other)
    other_terminal, _ = make_terminal(other_store)
    admin = make_api_key(setup.merchant, "admin")
    for field, value in (
        ("terminalId", ids.encode("Terminal", other_terminal.pk)),
        ("storeId", ids.encode("Store", other_store.pk)),
    ):
        errors = create_pairing(api, operation, admin, **{field: value, "name": "x"}).ok()[
            "terminalPairingCreate"
        ]["errors"]
        assert [(e["field"], e["code"]) for e in errors] == [(field, "NOT_FOUND")]
    brand = make_api_key(setup.merchant, "brand")
    mine = ids.encode("Terminal", setup.terminal.pk)
    assert create_pairing(api, operation, brand, terminalId=mine).error_codes == ["FORBIDDEN"]
    as_terminal = api.execute(
        operation("till_terminal_pairing_create"), {"input": {"terminalId": mine}}, terminal=setup.signing
    )
    assert as_terminal.error_codes == ["FORBIDDEN"]
    assert TerminalPairing.objects.count() == 0
    assert Terminal.objects.filter(merchant=setup.merchant).count() == 1


def test_two_phones_racing_with_one_code_pair_once(live_server, transactional_db):
    setup = pos_setup()
    from backend.till import services

    code = services.pairing_create(terminal=setup.terminal).code
    barrier = threading.Barrier(6)
    answers = []

    def phone():
        barrier.wait()
        response = requests.post(f"{live_server.url}/till/pair", json={"code": code}, timeout=30)
        answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=phone) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    paired = [body for status, body in answers if status == 200]
    assert len(paired) == 1
    assert (
        sorted(body["error"]["code"] for status, body in answers if status != 200)
        == ["PAIRING_CODE_USED"] * 5
    )


# --- the till's list of write-offs it may still void --------------------------------------


def test_voidable_redemptions_are_this_terminals_verified_ones_inside_the_window(
    api, operation, django_assert_max_num_queries
):
    setup = pos_setup(coupons=4)
    first = redeem(setup, setup.coupons[0].code)
    second = redeem(setup, setup.coupons[1].code)
    redeem(setup, codes.new_code())  # rejected: nothing to void
    old = redeem(setup, setup.coupons[2].code)
    Redemption.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(seconds=setup.campaign.void_window_seconds + 1)
    )
    colleague, colleague_secret = make_terminal(setup.store, name="counter 2")
    redeem(setup, setup.coupons[3].code, terminal=colleague)

    with django_assert_max_num_queries(4):  # signature (terminal, nonce) and one list query
        rows = api.execute(operation("pos_voidable_redemptions"), {"first": 10}, terminal=setup.signing).ok()[
            "voidableRedemptions"
        ]
    assert [r["id"] for r in rows] == [ids.encode("Redemption", r.pk) for r in (second, first)]
    until = dt.datetime.fromisoformat(rows[0]["voidableUntil"])
    assert until == second.created_at + dt.timedelta(seconds=setup.campaign.void_window_seconds)
    assert (rows[0]["orderAmount"], rows[0]["discountAmount"], rows[0]["payAmount"]) == (3000, 500, 2500)

    api.execute(
        operation("pos_void_redemption"),
        {"redemptionId": rows[0]["id"], "reason": "x"},
        terminal=setup.signing,
    ).ok()
    rows = api.execute(operation("pos_voidable_redemptions"), terminal=setup.signing).ok()[
        "voidableRedemptions"
    ]
    assert [r["id"] for r in rows] == [ids.encode("Redemption", first.pk)]

    other = pos_setup()
    assert (
        api.execute(operation("pos_voidable_redemptions"), terminal=other.signing).ok()["voidableRedemptions"]
        == []
    )
    key = make_api_key(setup.merchant, "admin")
    assert api.execute(operation("pos_voidable_redemptions"), key=key).error_codes == ["FORBIDDEN"]


# --- reason messages in the caller's language ---------------------------------------------


def _post(api, operation_name, variables, signing, language, operation):
    body = json.dumps({"query": operation(operation_name), "variables": variables}).encode()
    headers = {**terminal_headers(*signing, body), "Accept-Language": language}
    return api.post_raw(body, headers).ok()


def test_reason_messages_follow_the_callers_language_and_replays_keep_the_facts(api, operation):
    setup = pos_setup()
    variables = {
        "code": codes.new_code(),
        "orderAmount": 3000,
        "currency": "CNY",
        "idempotencyKey": uuid.uuid4().hex,
    }
    zh = _post(api, "pos_redeem_coupon", variables, setup.signing, "zh-CN,zh;q=0.9", operation)[
        "redeemCoupon"
    ]
    assert zh["redemption"]["message"] == "没有这个券码的优惠券。"
    assert zh["errors"] == [{"field": "code", "code": "UNKNOWN_CODE", "message": "没有这个券码的优惠券。"}]
    en = _post(api, "pos_redeem_coupon", variables, setup.signing, "en-US", operation)["redeemCoupon"]
    assert en["redemption"]["message"] == "No coupon has this code."
    assert {k: v for k, v in en["redemption"].items() if k != "message"} == {
        k: v for k, v in zh["redemption"].items() if k != "message"
    }
    # the row keeps the facts; each caller's language renders the message
    assert Redemption.objects.get().response["reason_code"] == "UNKNOWN_CODE"

    check = {"code": setup.coupons[0].code, "orderAmount": 3000, "currency": "CNY"}
    zh_check = _post(api, "pos_check_coupon", check, setup.signing, "zh-Hans", operation)["checkCoupon"][
        "check"
    ]
    assert zh_check["message"] == "优惠券可以使用。"
    verified = {**check, "idempotencyKey": uuid.uuid4().hex}
    receipt = _post(api, "pos_redeem_coupon", verified, setup.signing, "zh-CN", operation)["redeemCoupon"]
    assert receipt["redemption"]["message"] == "优惠券核销成功。"
    # No Accept-Language: English, the default.
    default = api.execute(operation("pos_check_coupon"), check, terminal=setup.signing).ok()
    assert default["checkCoupon"]["check"]["reasonCode"] == "ALREADY_REDEEMED"
    assert default["checkCoupon"]["check"]["message"] == "This coupon has already been used."
