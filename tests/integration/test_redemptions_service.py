"""The redeem/void services on the real database: every reason code, caps, idempotency."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backend.api.errors import ServiceError
from backend.campaigns.models import Campaign, CampaignFanUsage, CampaignSlot
from backend.coupons import codes
from backend.coupons.models import Coupon
from backend.merchants.models import Terminal
from backend.outbox import registry
from backend.outbox.models import OutboxEvent
from backend.redemptions import services
from backend.redemptions.models import Redemption
from tests.factories import FanFactory, StoreFactory, make_terminal, pos_setup, redeem

pytestmark = pytest.mark.django_db


def reason_of(redemption: Redemption) -> str:
    assert redemption.status == Redemption.Status.REJECTED, redemption.status
    assert redemption.response["reason_code"] == redemption.reason_code
    assert services.receipt_of(redemption).reason_code == redemption.reason_code
    return redemption.reason_code


def error_codes(exc: pytest.ExceptionInfo) -> list[str]:
    return [e.code for e in exc.value.errors]


def slot_totals(campaign: Campaign) -> tuple[int, int]:
    slots = CampaignSlot.objects.filter(campaign=campaign)
    return sum(s.redeemed_count for s in slots), sum(s.spent_amount for s in slots)


def test_verified_write_off_writes_everything_once():
    setup = pos_setup()
    coupon = setup.coupons[0]
    redemption = redeem(setup, amount=3000)
    assert redemption.status == Redemption.Status.VERIFIED
    assert (redemption.discount_amount, redemption.fee_amount) == (500, 120)
    assert redemption.store_id == setup.store.pk and redemption.merchant_id == setup.merchant.pk
    assert redemption.campaign_id == setup.campaign.pk and redemption.placement_id == setup.placement.pk
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.REDEEMED and coupon.redeemed_at == redemption.created_at
    assert slot_totals(setup.campaign) == (1, 620)
    assert CampaignFanUsage.objects.get(campaign=setup.campaign, fan=coupon.fan).used == 1
    event = OutboxEvent.objects.get()
    assert event.topic == registry.REDEMPTION_VERIFIED and event.payload == {"redemption_id": redemption.pk}
    receipt = services.receipt_of(redemption)
    assert receipt.status == "verified" and receipt.pay_amount == 2500 and receipt.reason_code is None
    # the row keeps domain facts; the schema shapes the answer from them
    assert redemption.response == {
        "status": "verified",
        "reason_code": None,
        "discount_amount": 500,
        "campaign_name": setup.campaign.name,
    }


def test_second_write_off_of_a_code_is_already_redeemed_and_takes_nothing():
    setup = pos_setup()
    redeem(setup)
    second = redeem(setup)
    assert reason_of(second) == "ALREADY_REDEEMED"
    assert second.coupon_id == setup.coupons[0].pk
    assert slot_totals(setup.campaign) == (1, 620)
    assert OutboxEvent.objects.count() == 1


def test_code_is_normalised_like_crockford():
    setup = pos_setup()
    code = setup.coupons[0].code
    typed = "-".join([code[:4], code[4:8], code[8:]]).lower().replace("1", "l").replace("0", "o")
    assert redeem(setup, typed).status == Redemption.Status.VERIFIED


def test_mistyped_and_unknown_codes():
    setup = pos_setup()
    code = setup.coupons[0].code
    wrong_symbol = codes.ALPHABET[(codes.ALPHABET.index(code[3]) + 1) % 32]
    mistyped = code[:3] + wrong_symbol + code[4:]
    assert reason_of(redeem(setup, mistyped)) == "MISTYPED_CODE"
    assert reason_of(redeem(setup, "ABC")) == "MISTYPED_CODE"
    assert reason_of(redeem(setup, codes.new_code())) == "UNKNOWN_CODE"


@pytest.mark.parametrize(
    ("coupon_status", "reason"),
    [("redeemed", "ALREADY_REDEEMED"), ("revoked", "COUPON_REVOKED"), ("expired", "EXPIRED")],
)
def test_coupon_states(coupon_status, reason):
    setup = pos_setup()
    Coupon.objects.filter(pk=setup.coupons[0].pk).update(status=coupon_status)
    assert reason_of(redeem(setup)) == reason


@pytest.mark.parametrize(
    ("status", "reason"),
    [("paused", "CAMPAIGN_PAUSED"), ("ended", "CAMPAIGN_ENDED"), ("draft", "CAMPAIGN_NOT_ACTIVE")],
)
def test_campaign_states(status, reason):
    setup = pos_setup()
    Campaign.objects.filter(pk=setup.campaign.pk).update(status=status)
    assert reason_of(redeem(setup)) == reason
    assert Coupon.objects.get(pk=setup.coupons[0].pk).status == "issued"


def test_validity_windows():
    now = timezone.now()
    setup = pos_setup(valid_from=now + dt.timedelta(hours=1), valid_until=now + dt.timedelta(days=2))
    assert reason_of(redeem(setup)) == "NOT_YET_VALID"
    assert reason_of(redeem(setup, now=now + dt.timedelta(days=2))) == "EXPIRED"
    assert redeem(setup, now=now + dt.timedelta(hours=2)).status == "verified"


def test_coupon_window_and_days_after_issue():
    now = timezone.now()
    setup = pos_setup(coupons=0, valid_days_after_issue=7)
    setup.coupon(issued_at=now - dt.timedelta(days=8))
    fresh = setup.coupon(issued_at=now, valid_from=now + dt.timedelta(minutes=5))
    assert reason_of(redeem(setup)) == "EXPIRED"
    assert reason_of(redeem(setup, fresh.code)) == "NOT_YET_VALID"
    assert redeem(setup, fresh.code, now=now + dt.timedelta(minutes=6)).status == "verified"


def test_wrong_merchant_records_nothing_of_the_other_merchants_offer():
    setup = pos_setup()
    other = pos_setup(coupons=0)
    rejected = redeem(other, setup.coupons[0].code)
    assert reason_of(rejected) == "WRONG_MERCHANT"
    assert rejected.campaign_id is None and rejected.placement_id is None
    assert rejected.merchant_id == other.merchant.pk
    assert rejected.response["campaign_name"] is None
    assert Coupon.objects.get(pk=setup.coupons[0].pk).status == "issued"


def test_store_rules():
    setup = pos_setup(all_stores=False)
    other_store = StoreFactory(merchant=setup.merchant)
    setup.campaign.accepted_stores.add(other_store)
    assert reason_of(redeem(setup)) == "STORE_NOT_ACCEPTED"
    till, _ = make_terminal(other_store)
    assert redeem(setup, terminal=till).status == "verified"
    inactive = pos_setup()
    inactive.store.is_active = False
    inactive.store.save()
    terminal = Terminal.objects.select_related("store").get(pk=inactive.terminal.pk)
    assert reason_of(redeem(inactive, terminal=terminal)) == "STORE_INACTIVE"


def test_min_spend_and_currency():
    setup = pos_setup(min_spend=2000)
    assert reason_of(redeem(setup, amount=1999)) == "BELOW_MIN_SPEND"
    assert reason_of(redeem(setup, currency="USD")) == "CURRENCY_MISMATCH"
    assert redeem(setup, amount=2000, currency="cny").status == "verified"


def test_fan_limit_counts_write_offs_of_one_campaign_across_coupons():
    setup = pos_setup(coupons=0, per_fan_limit=1)
    fan = FanFactory()
    first, second = setup.coupon(fan=fan, ordinal=1), setup.coupon(fan=fan, ordinal=2)
    assert redeem(setup, first.code).status == "verified"
    assert reason_of(redeem(setup, second.code)) == "FAN_LIMIT_REACHED"
    # the savepoint rolled the coupon claim back: the second coupon is still usable later
    assert Coupon.objects.get(pk=second.pk).status == "issued"
    assert slot_totals(setup.campaign) == (1, 620)


def test_max_redemptions_is_exact():
    setup = pos_setup(coupons=5, max_redemptions=3)
    outcomes = [redeem(setup, c.code) for c in setup.coupons]
    assert [r.status for r in outcomes] == ["verified"] * 3 + ["rejected"] * 2
    assert {reason_of(r) for r in outcomes[3:]} == {"BUDGET_EXHAUSTED"}
    assert slot_totals(setup.campaign)[0] == 3
    assert Coupon.objects.filter(status="issued").count() == 2


def test_budget_cap_is_exact_to_the_cent():
    # each write-off costs 500 + 120 = 620; 2000 covers three (1860), not four
    setup = pos_setup(coupons=5, budget_cap=2000)
    outcomes = [redeem(setup, c.code) for c in setup.coupons]
    assert [r.status for r in outcomes].count("verified") == 3
    assert slot_totals(setup.campaign) == (3, 1860)
    slots = CampaignSlot.objects.filter(campaign=setup.campaign)
    assert sum(s.budget_allowance for s in slots) == 2000


def test_percent_off_rounds_down_and_caps():
    setup = pos_setup(
        coupons=2, benefit_kind="percent_off", amount_off=None, percent_off_bps=1500, percent_cap=800
    )
    assert redeem(setup, setup.coupons[0].code, amount=3333).discount_amount == 499
    assert redeem(setup, setup.coupons[1].code, amount=100_000).discount_amount == 800


def test_discount_never_above_the_order():
    setup = pos_setup(benefit_kind="free_item", amount_off=None, free_item_value=1800, free_item_name="Tea")
    redemption = redeem(setup, amount=1200)
    assert redemption.discount_amount == 1200
    assert services.receipt_of(redemption).pay_amount == 0


def test_repeated_idempotency_key_replays_and_writes_nothing():
    setup = pos_setup()
    first = redeem(setup, idempotency_key="k-1")
    again = redeem(setup, idempotency_key="k-1")
    assert again.pk == first.pk and again.response == first.response
    assert Redemption.objects.count() == 1 and OutboxEvent.objects.count() == 1
    with pytest.raises(ServiceError) as exc:
        redeem(setup, idempotency_key="k-1", amount=3001)
    assert error_codes(exc) == ["IDEMPOTENCY_KEY_REUSED"]


def test_replay_is_the_first_answer_even_after_a_void():
    setup = pos_setup()
    first = redeem(setup, idempotency_key="k-2")
    services.void_redemption(terminal=setup.terminal, redemption_id=first.pk, reason="mistake")
    again = redeem(setup, idempotency_key="k-2")
    assert services.receipt_of(again) == services.receipt_of(first)
    assert again.response["status"] == "verified" and services.receipt_of(again).status == "verified"


@pytest.mark.parametrize(
    ("kwargs", "field", "code"),
    [
        ({"code": ""}, "code", "REQUIRED"),
        ({"code": "   "}, "code", "REQUIRED"),
        ({"code": "A" * 65}, "code", "TOO_LONG"),
        ({"amount": 0}, "order_amount", "OUT_OF_RANGE"),
        ({"amount": -5}, "order_amount", "OUT_OF_RANGE"),
        ({"amount": 10**13}, "order_amount", "OUT_OF_RANGE"),
        ({"amount": "100"}, "order_amount", "INVALID"),
        ({"currency": "yuan"}, "currency", "INVALID_CURRENCY"),
        ({"currency": ""}, "currency", "INVALID_CURRENCY"),
        ({"idempotency_key": ""}, "idempotency_key", "REQUIRED"),
        ({"idempotency_key": "k" * 101}, "idempotency_key", "TOO_LONG"),
        ({"idempotency_key": "a\x00b"}, "idempotency_key", "INVALID"),
    ],
)
def test_bad_input_is_a_typed_error_and_records_nothing(kwargs, field, code):
    setup = pos_setup()
    with pytest.raises(ServiceError) as exc:
        redeem(setup, **kwargs)
    assert (exc.value.errors[0].field, exc.value.errors[0].code) == (field, code)
    assert Redemption.objects.count() == 0


def test_rate_limit_counts_write_offs_per_terminal_per_minute(settings):
    settings.POS_MAX_WRITEOFFS_PER_MINUTE = 2
    setup = pos_setup(coupons=3)
    now = timezone.now()
    for coupon in setup.coupons[:2]:
        assert redeem(setup, coupon.code, now=now).status == "verified"
    with pytest.raises(ServiceError) as exc:
        redeem(setup, setup.coupons[2].code, now=now)
    assert error_codes(exc) == ["RATE_LIMITED"]
    assert redeem(setup, setup.coupons[2].code, now=now + dt.timedelta(seconds=61)).status == "verified"


def test_code_guessing_cools_the_terminal_down(settings):
    settings.POS_MAX_REJECTIONS = 3
    settings.POS_REJECTION_WINDOW_SECONDS = 120
    setup = pos_setup()
    now = timezone.now()
    for _ in range(3):
        assert reason_of(redeem(setup, codes.new_code(), now=now)) == "UNKNOWN_CODE"
    with pytest.raises(ServiceError) as exc:
        redeem(setup, now=now + dt.timedelta(seconds=5))
    assert error_codes(exc) == ["TERMINAL_COOLING_DOWN"]
    with pytest.raises(ServiceError):
        services.check_coupon(
            terminal=setup.terminal, code=setup.coupons[0].code, order_amount=100, currency="CNY", now=now
        )
    # another terminal of the merchant is not affected; this one recovers after the window
    till, _ = make_terminal(setup.store)
    assert redeem(setup, codes.new_code(), terminal=till, now=now).status == "rejected"
    assert redeem(setup, now=now + dt.timedelta(seconds=121)).status == "verified"


def test_check_coupon_predicts_without_writing():
    setup = pos_setup(per_fan_limit=1)
    check = services.check_coupon(
        terminal=setup.terminal, code=setup.coupons[0].code, order_amount=3000, currency="CNY"
    )
    assert (check.ok, check.discount_amount, check.pay_amount, check.reason) == (True, 500, 2500, None)
    assert Redemption.objects.count() == 0 and slot_totals(setup.campaign) == (0, 0)
    redeem(setup)
    check = services.check_coupon(
        terminal=setup.terminal, code=setup.coupons[0].code, order_amount=3000, currency="CNY"
    )
    assert (check.ok, check.reason) == (False, "ALREADY_REDEEMED")


def test_void_gives_back_the_caps_and_keeps_the_coupon_used():
    setup = pos_setup(coupons=2, max_redemptions=1)
    first = redeem(setup)
    voided = services.void_redemption(terminal=setup.terminal, redemption_id=first.pk, reason="customer left")
    assert voided.status == "voided" and voided.void_reason == "customer left"
    assert slot_totals(setup.campaign) == (0, 0)
    assert CampaignFanUsage.objects.get(campaign=setup.campaign).used == 0
    assert Coupon.objects.get(pk=setup.coupons[0].pk).status == "redeemed"
    assert reason_of(redeem(setup)) == "ALREADY_REDEEMED"
    assert redeem(setup, setup.coupons[1].code).status == "verified"  # the unit came back
    topics = list(OutboxEvent.objects.order_by("id").values_list("topic", flat=True))
    assert topics == [registry.REDEMPTION_VERIFIED, registry.REDEMPTION_VOIDED, registry.REDEMPTION_VERIFIED]


def test_void_returns_the_coupon_when_the_campaign_says_so():
    setup = pos_setup(voided_coupon_returns=True)
    first = redeem(setup)
    services.void_redemption(terminal=setup.terminal, redemption_id=first.pk)
    assert Coupon.objects.get(pk=setup.coupons[0].pk).status == "issued"
    assert redeem(setup).status == "verified"


def test_void_rules():
    setup = pos_setup(coupons=2, void_window_seconds=60)
    first = redeem(setup)
    other = pos_setup(coupons=0)
    with pytest.raises(ServiceError) as exc:
        services.void_redemption(terminal=other.terminal, redemption_id=first.pk)
    assert error_codes(exc) == ["NOT_FOUND"]
    with pytest.raises(ServiceError) as exc:
        services.void_redemption(
            terminal=setup.terminal, redemption_id=first.pk, now=first.created_at + dt.timedelta(seconds=61)
        )
    assert error_codes(exc) == ["VOID_WINDOW_PASSED"]
    # another till of the same merchant may void it
    till, _ = make_terminal(StoreFactory(merchant=setup.merchant))
    services.void_redemption(terminal=till, redemption_id=first.pk)
    with pytest.raises(ServiceError) as exc:
        services.void_redemption(terminal=setup.terminal, redemption_id=first.pk)
    assert error_codes(exc) == ["ALREADY_VOIDED"]
    rejected = redeem(setup, codes.new_code())
    with pytest.raises(ServiceError) as exc:
        services.void_redemption(terminal=setup.terminal, redemption_id=rejected.pk)
    assert error_codes(exc) == ["NOT_VOIDABLE"]


def test_the_write_off_stays_lean():
    """The hot path's statements, pinned (Saleor-style) so nothing creeps onto it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    setup = pos_setup(coupons=2)
    redeem(setup, setup.coupons[0].code)  # warm caches
    with CaptureQueriesContext(connection) as ctx:
        assert redeem(setup, setup.coupons[1].code).status == "verified"
    statements = [q["sql"].split()[0].upper() for q in ctx.captured_queries]
    print(statements)
    # ONE statement (redemption_write_off): replay check, abuse limits, the rules, coupon, fan
    # usage, slot, redemption and outbox event; the savepoint is there only because the test
    # runs inside a transaction (in autocommit the statement is its own transaction)
    assert [s for s in statements if s not in ("SAVEPOINT", "RELEASE")] == ["SELECT"], statements
    assert any("redemption_write_off" in q["sql"] for q in ctx.captured_queries)
