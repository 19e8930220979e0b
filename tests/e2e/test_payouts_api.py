"""Payouts over HTTP: the payee's payouts, detail, account and balances, tenant-scoped."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.api import ids
from billing import payouts, services
from billing.models import PayoutAccount
from tests.factories.billing import billing_setup, write_off
from tests.factories.merchants import make_api_key
from tests.stripe_transfers import stripe_transfers, stripe_transfers_server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

UTC = dt.UTC


@pytest.fixture
def paid(stripe_transfers, settings):  # noqa: F811 (the fixture it uses)
    settings.PAYOUTS_MINIMUM_AMOUNT = 100
    settings.PAYOUTS_MINIMUM_AMOUNTS = {}
    settings.PAYOUTS_NET_DAYS = 15
    found = {}
    for name, fee in (("a", 200), ("b", 400)):
        setup = billing_setup(fee=fee, share_bps=5000)
        for day in (1, 2, 3):
            services.charge_redemption(
                redemption_id=write_off(setup, at=dt.datetime(2026, 10, day, 12, tzinfo=UTC)).pk
            )
        services.lock_due_entries(now=dt.datetime(2026, 10, 20, tzinfo=UTC))
        acct = f"acct_1Api{name.upper()}"
        stripe_transfers.connected_accounts.add(acct)
        payouts.payout_account_set(merchant=setup.publisher, method="stripe_connect", stripe_account_id=acct)
        found[name] = setup
    run = payouts.run_payouts(day=dt.date(2026, 11, 15), collected_only=False)
    found["run"] = run
    return found


def nodes(data: dict, field: str) -> list[dict]:
    return [edge["node"] for edge in data[field]["edges"]]


def test_a_publisher_sees_its_payouts_and_their_lines_only(
    api, operation, paid, django_assert_max_num_queries
):
    key = make_api_key(paid["a"].publisher, "finance")
    with django_assert_max_num_queries(8):
        data = api.execute(operation("billing_payouts"), {"first": 10}, key=key).ok()
    [payout] = nodes(data, "payouts")
    assert data["payouts"]["totalCount"] == 1
    assert (payout["amount"], payout["currency"], payout["status"], payout["method"]) == (
        300,
        "CNY",
        "PAID",
        "STRIPE_CONNECT",
    )
    assert payout["run"] == "2026-11-15" and payout["destination"] == "acct_1ApiA"
    detail = api.execute(operation("billing_payout"), {"id": payout["id"]}, key=key).ok()["payout"]
    assert len(detail["lines"]) == 3 and -sum(line["amount"] for line in detail["lines"]) == 300
    assert {line["accountKind"] for line in detail["lines"]} == {"PUBLISHER_PAYABLE"}

    other = paid["run"].payouts.get(merchant=paid["b"].publisher)
    r = api.execute(operation("billing_payout"), {"id": ids.encode("BillingPayout", other.pk)}, key=key)
    assert r.error_codes == ["NOT_FOUND"] and r.data["payout"] is None
    # The issuer of the same campaign has no payouts of its own.
    issuer_key = make_api_key(paid["a"].issuer, "finance")
    assert (
        api.execute(operation("billing_payouts"), {"first": 10}, key=issuer_key).ok()["payouts"]["totalCount"]
        == 0
    )


def test_payout_account_set_and_read_back_with_balances(api, operation, paid):
    key = make_api_key(paid["a"].publisher, "finance")
    bank = {
        "method": "BANK_TRANSFER",
        "bankAccountHolder": "Mochi Cartoon Ltd",
        "bankAccountNumber": "DE89 3704 0044 0532 0130 00",
        "bankCode": "COBADEFFXXX",
        "minimumAmount": 5000,
    }
    result = api.execute(operation("billing_payout_account_set"), {"input": bank}, key=key).ok()
    assert result["payoutAccountSet"]["errors"] == []
    assert result["payoutAccountSet"]["account"]["bankAccountNumber"] == "****3000"
    data = api.execute(operation("billing_payout_account"), {}, key=key).ok()
    assert (
        data["payoutAccount"]["method"] == "BANK_TRANSFER" and data["payoutAccount"]["minimumAmount"] == 5000
    )
    [balance] = data["payableBalances"]
    assert (balance["currency"], balance["paidOut"], balance["balance"], balance["pending"]) == (
        "CNY",
        300,
        0,
        0,
    )
    # Another merchant's account is untouched and unseen.
    assert PayoutAccount.objects.get(merchant=paid["b"].publisher).method == "stripe_connect"


@pytest.mark.parametrize(
    ("account", "field", "code"),
    [
        ({"method": "STRIPE_CONNECT", "stripeAccountId": "cus_123"}, "stripeAccountId", "BAD_ACCOUNT"),
        (
            {"method": "STRIPE_CONNECT", "stripeAccountId": "acct_1A", "minimumAmount": 1},
            "minimumAmount",
            "BELOW_MINIMUM",
        ),
        (
            {
                "method": "BANK_TRANSFER",
                "bankAccountHolder": "X",
                "bankAccountNumber": "12",
                "bankCode": "ABCD",
            },
            "bankAccountNumber",
            "BAD_ACCOUNT",
        ),
        (
            {"method": "BANK_TRANSFER", "bankAccountNumber": "DE89370400440532013000", "bankCode": "ABCD"},
            "bankAccountHolder",
            "REQUIRED",
        ),
    ],
)
def test_bad_payout_accounts_are_payload_errors_and_write_nothing(
    api, operation, paid, settings, account, field, code
):
    settings.PAYOUTS_MINIMUM_AMOUNT = 1000
    key = make_api_key(paid["a"].publisher, "finance")
    before = PayoutAccount.objects.get(merchant=paid["a"].publisher)
    result = api.execute(operation("billing_payout_account_set"), {"input": account}, key=key).ok()
    assert result["payoutAccountSet"]["account"] is None
    assert [(e["field"], e["code"]) for e in result["payoutAccountSet"]["errors"]] == [(field, code)]
    after = PayoutAccount.objects.get(merchant=paid["a"].publisher)
    assert (after.method, after.stripe_account_id, after.updated_at) == (
        before.method,
        before.stripe_account_id,
        before.updated_at,
    )


def test_a_brand_key_may_not_read_payouts(api, operation, paid):
    key = make_api_key(paid["a"].publisher, "brand")
    assert api.execute(operation("billing_payouts"), {"first": 1}, key=key).error_codes == ["FORBIDDEN"]
    r = api.execute(operation("billing_payout_account_set"), {"input": {"method": "STRIPE_CONNECT"}}, key=key)
    assert r.error_codes == ["FORBIDDEN"]


def test_a_payout_request_pays_the_due_balance_once_and_below_the_minimum_writes_nothing(
    api,
    operation,
    stripe_transfers,  # noqa: F811 (the fixture it uses)
    settings,
):
    from billing import tasks
    from billing.models import Payout, PayoutRun

    settings.PAYOUTS_MINIMUM_AMOUNT = 250
    settings.PAYOUTS_MINIMUM_AMOUNTS = {}
    settings.PAYOUTS_NET_DAYS = 15
    settings.PAYOUTS_REQUIRE_COLLECTED = False
    setup = billing_setup(fee=200, share_bps=5000)
    key = make_api_key(setup.publisher, "finance")
    request = {"currency": "CNY", "idempotencyKey": "req-1"}
    r = api.execute(operation("billing_payout_request"), request, key=key).ok()["payoutRequest"]
    assert [e["code"] for e in r["errors"]] == ["NO_PAYOUT_ACCOUNT"]
    stripe_transfers.connected_accounts.add("acct_1Request")
    payouts.payout_account_set(
        merchant=setup.publisher, method="stripe_connect", stripe_account_id="acct_1Request"
    )
    for day in (1, 2):
        services.charge_redemption(
            redemption_id=write_off(setup, at=dt.datetime(2026, 10, day, tzinfo=UTC)).pk
        )
    services.lock_due_entries(now=dt.datetime(2026, 10, 20, tzinfo=UTC))
    r = api.execute(operation("billing_payout_request"), request, key=key).ok()["payoutRequest"]
    assert (r["payout"], [(e["field"], e["code"]) for e in r["errors"]]) == (
        None,
        [("currency", "BELOW_MINIMUM")],
    )
    assert "200 CNY is due" in r["errors"][0]["message"]
    assert not PayoutRun.objects.exists() and not Payout.objects.exists()

    services.charge_redemption(redemption_id=write_off(setup, at=dt.datetime(2026, 10, 3, tzinfo=UTC)).pk)
    services.lock_due_entries(now=dt.datetime(2026, 10, 20, tzinfo=UTC))
    first = api.execute(operation("billing_payout_request"), request, key=key).ok()["payoutRequest"]
    assert first["errors"] == [] and (first["payout"]["amount"], first["payout"]["status"]) == (
        300,
        "PENDING",
    )
    again = api.execute(operation("billing_payout_request"), request, key=key).ok()["payoutRequest"]
    assert again["payout"]["id"] == first["payout"]["id"]
    run = PayoutRun.objects.get()
    tasks.send_payout_run(run.pk)
    tasks.send_payout_run(run.pk)
    assert [t["amount"] for t in stripe_transfers.to("acct_1Request")] == [300]
    bad = api.execute(
        operation("billing_payout_request"), {"currency": "C1", "idempotencyKey": "x y"}, key=key
    )
    assert sorted(e["code"] for e in bad.ok()["payoutRequest"]["errors"]) == ["INVALID", "INVALID"]
