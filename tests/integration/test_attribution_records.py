"""Attribution records: exactly once per verified write-off, voids, windows, new customers."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attribution import handlers, recording
from attribution.models import AttributionRecord
from backend.outbox.registry import REDEMPTION_VERIFIED, REDEMPTION_VOIDED, handlers_for
from backend.redemptions.models import Redemption
from tests.factories import (
    CouponFactory,
    FanFactory,
    PlacementFactory,
    StoreFactory,
    active_campaign,
    attribution_void,
    attribution_writeoff,
    make_terminal,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def network():
    campaign = active_campaign(attribution_window_days=7, fee_per_redemption=120, amount_off=500)
    placement = PlacementFactory(campaign=campaign)
    store = StoreFactory(merchant=campaign.merchant)
    terminal, _ = make_terminal(store)
    return campaign, placement, terminal


def test_handlers_are_registered_for_both_topics():
    assert "attribution.record" in [h.name for h in handlers_for(REDEMPTION_VERIFIED)]
    assert "attribution.void" in [h.name for h in handlers_for(REDEMPTION_VOIDED)]


def test_one_record_with_the_facts_of_the_writeoff(network):
    campaign, placement, terminal = network
    issued = timezone.now() - dt.timedelta(days=2, seconds=15)
    coupon = CouponFactory(placement=placement, issued_at=issued)
    redemption = attribution_writeoff(coupon=coupon, terminal=terminal, order_amount=3000)
    event = redemption_event(redemption)

    handlers.record_verified(event)
    handlers.record_verified(event)  # processed twice: still one record

    assert AttributionRecord.objects.count() == 1
    record = AttributionRecord.objects.get()
    assert record.redemption_id == redemption.pk
    assert (record.campaign_id, record.issuer_id, record.publisher_id) == (
        campaign.pk,
        campaign.merchant_id,
        placement.publisher_id,
    )
    assert (record.placement_id, record.fan_id, record.store_id, record.terminal_id) == (
        placement.pk,
        coupon.fan_id,
        terminal.store_id,
        terminal.pk,
    )
    assert record.issued_at == issued
    assert record.redeemed_at == redemption.created_at
    assert record.seconds_to_redeem == int((redemption.created_at - issued).total_seconds())
    assert (record.order_amount, record.discount_amount, record.fee_amount, record.currency) == (
        3000,
        500,
        120,
        "CNY",
    )
    assert record.in_attribution_window and record.is_billable
    assert record.is_new_customer
    assert record.voided_at is None


def test_outside_the_window_is_not_billable(network):
    _, placement, terminal = network
    coupon = CouponFactory(placement=placement, issued_at=timezone.now() - dt.timedelta(days=8))
    redemption = attribution_writeoff(coupon=coupon, terminal=terminal)
    record = recording.record_for_redemption(redemption_id=redemption.pk)
    assert record.in_attribution_window is False
    assert record.is_billable is False


def test_window_boundary_is_inclusive(network):
    _, placement, terminal = network
    at = timezone.now()
    coupon = CouponFactory(placement=placement, issued_at=at - dt.timedelta(days=7))
    redemption = attribution_writeoff(coupon=coupon, terminal=terminal, at=at)
    assert recording.record_for_redemption(redemption_id=redemption.pk).in_attribution_window


def test_window_is_whole_24_hour_days_and_seconds_are_truncated(network):
    """The record's values come from one SQL statement: a second past 7 x 24 h is out, even
    when the database session's time zone has a daylight-saving change in between, and the
    seconds to redeem are whole seconds (a fraction is dropped, as int() drops it)."""
    _, placement, terminal = network
    at = dt.datetime(2026, 10, 29, 12, 0, 0, 900_000, tzinfo=dt.UTC)  # Berlin left DST on Oct 25
    inside = CouponFactory(placement=placement, issued_at=at - dt.timedelta(days=7))
    outside = CouponFactory(placement=placement, issued_at=at - dt.timedelta(days=7, seconds=1))
    fraction = CouponFactory(placement=placement, issued_at=at.replace(microsecond=0) - dt.timedelta(days=1))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE 'Europe/Berlin'")
        records = recording.record_for_redemptions(
            redemption_ids=[
                attribution_writeoff(coupon=coupon, terminal=terminal, at=at).pk for coupon in (inside, outside, fraction)
            ]
        )
    by_coupon = {r.redemption.coupon_id: r for r in records.values()}
    assert by_coupon[inside.pk].in_attribution_window is True
    assert by_coupon[outside.pk].in_attribution_window is False
    assert by_coupon[inside.pk].seconds_to_redeem == 7 * 86400
    assert by_coupon[outside.pk].seconds_to_redeem == 7 * 86400 + 1
    assert by_coupon[fraction.pk].seconds_to_redeem == 86400  # 86,400.9 s


def test_rejected_or_unknown_redemption_has_no_record(network):
    _, placement, terminal = network
    redemption = attribution_writeoff(coupon=CouponFactory(placement=placement), terminal=terminal)
    Redemption.objects.filter(pk=redemption.pk).update(status=Redemption.Status.REJECTED)
    assert recording.record_for_redemption(redemption_id=redemption.pk) is None
    assert recording.record_for_redemption(redemption_id=10**12) is None
    assert not AttributionRecord.objects.exists()


def test_void_marks_the_record_and_never_deletes_it(network):
    _, placement, terminal = network
    redemption = attribution_writeoff(coupon=CouponFactory(placement=placement), terminal=terminal)
    handlers.record_verified(redemption_event(redemption))
    attribution_void(redemption)
    handlers.record_voided(redemption_event(redemption))
    handlers.record_voided(redemption_event(redemption))
    record = AttributionRecord.objects.get()
    assert record.voided_at == Redemption.objects.get(pk=redemption.pk).voided_at
    assert record.is_billable is False
    assert record.is_new_customer is False  # a voided write-off is nobody's first


def test_void_event_before_verified_event_still_yields_one_voided_record(network):
    _, placement, terminal = network
    redemption = attribution_writeoff(coupon=CouponFactory(placement=placement), terminal=terminal)
    attribution_void(redemption)
    handlers.record_voided(redemption_event(redemption))
    handlers.record_verified(redemption_event(redemption))
    record = AttributionRecord.objects.get()
    assert record.voided_at is not None


def test_new_customer_is_the_earliest_write_off_whatever_the_processing_order(network):
    campaign, placement, terminal = network
    fan = FanFactory()
    now = timezone.now()
    first = attribution_writeoff(
        coupon=CouponFactory(placement=placement, fan=fan, ordinal=1, issued_at=now - dt.timedelta(days=3)),
        terminal=terminal,
        at=now - dt.timedelta(days=2),
    )
    second = attribution_writeoff(
        coupon=CouponFactory(placement=placement, fan=fan, ordinal=2, issued_at=now - dt.timedelta(days=3)),
        terminal=terminal,
        at=now - dt.timedelta(days=1),
    )
    # The later write-off's event is processed first.
    assert recording.record_for_redemption(redemption_id=second.pk).is_new_customer
    recording.record_for_redemption(redemption_id=first.pk)
    flags = dict(AttributionRecord.objects.values_list("redemption_id", "is_new_customer"))
    assert flags == {first.pk: True, second.pk: False}

    # Voiding the first write-off makes the second one the fan's first at this issuer.
    attribution_void(first)
    recording.void_record(redemption_id=first.pk)
    flags = dict(AttributionRecord.objects.values_list("redemption_id", "is_new_customer"))
    assert flags == {first.pk: False, second.pk: True}


def test_new_customer_is_per_issuer(network):
    _, placement, terminal = network
    fan = FanFactory()
    other_campaign = active_campaign()
    other_placement = PlacementFactory(campaign=other_campaign)
    other_terminal, _ = make_terminal(StoreFactory(merchant=other_campaign.merchant))
    a = attribution_writeoff(coupon=CouponFactory(placement=placement, fan=fan), terminal=terminal)
    b = attribution_writeoff(
        coupon=CouponFactory(placement=other_placement, fan=fan), terminal=other_terminal
    )
    assert recording.record_for_redemption(redemption_id=a.pk).is_new_customer
    assert recording.record_for_redemption(redemption_id=b.pk).is_new_customer


def redemption_event(redemption):
    class Event:
        payload = {"redemption_id": redemption.pk}

    return Event()


@pytest.mark.django_db(transaction=True)
def test_concurrent_creators_make_exactly_one_record():
    campaign = active_campaign()
    placement = PlacementFactory(campaign=campaign)
    terminal, _ = make_terminal(StoreFactory(merchant=campaign.merchant))
    fan = FanFactory()
    redemptions = [
        attribution_writeoff(coupon=CouponFactory(placement=placement, fan=fan, ordinal=i), terminal=terminal)
        for i in range(1, 4)
    ]
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def run(redemption_id: int) -> None:
        try:
            barrier.wait(timeout=10)
            recording.record_for_redemption(redemption_id=redemption_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(r.pk,)) for r in redemptions for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert AttributionRecord.objects.count() == 3
    assert AttributionRecord.objects.filter(is_new_customer=True).count() == 1
    assert (
        AttributionRecord.objects.get(is_new_customer=True).redemption_id
        == min(redemptions, key=lambda r: (r.created_at, r.pk)).pk
    )


def test_real_write_off_dispatched_twice_yields_one_record():
    from backend.outbox.models import OutboxEvent
    from backend.outbox.services import process_event
    from backend.redemptions.services import void_redemption
    from tests.factories import pos_setup, redeem

    setup = pos_setup(coupons=1, attribution_window_days=30)
    redemption = redeem(setup)
    assert redemption.status == Redemption.Status.VERIFIED
    event = OutboxEvent.objects.get(topic=REDEMPTION_VERIFIED, payload__redemption_id=redemption.pk)
    assert process_event(event.pk)
    assert process_event(event.pk)  # a redelivered task
    handlers.record_verified(event)  # and the handler called directly once more
    record = AttributionRecord.objects.get()
    assert record.redemption_id == redemption.pk
    assert (record.order_amount, record.discount_amount, record.fee_amount) == (
        redemption.order_amount,
        redemption.discount_amount,
        redemption.fee_amount,
    )
    assert record.store_id == setup.store.pk and record.placement_id == setup.placement.pk

    void_redemption(terminal=setup.terminal, redemption_id=redemption.pk)
    void_event = OutboxEvent.objects.get(topic=REDEMPTION_VOIDED, payload__redemption_id=redemption.pk)
    process_event(void_event.pk)
    process_event(void_event.pk)
    record.refresh_from_db()
    assert record.voided_at == Redemption.objects.get(pk=redemption.pk).voided_at
    assert AttributionRecord.objects.count() == 1


@given(
    data=st.data(),
    hours=st.lists(st.integers(min_value=0, max_value=48), min_size=1, max_size=5),
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_new_customer_flag_whatever_the_order_of_events(network, data, hours):
    """Property: after any order of verified/void events, exactly the fan's earliest
    non-voided write-off at the issuer is flagged (none if all are voided)."""
    _, placement, terminal = network
    fan = FanFactory()
    base = timezone.now() - dt.timedelta(days=3)
    redemptions = [
        attribution_writeoff(
            coupon=CouponFactory(placement=placement, fan=fan, ordinal=i + 1, issued_at=base),
            terminal=terminal,
            at=base + dt.timedelta(hours=h),
            with_event=False,
        )
        for i, h in enumerate(hours)
    ]
    voided = data.draw(st.sets(st.sampled_from(range(len(redemptions)))))
    events = [("verified", i) for i in range(len(redemptions))] + [("voided", i) for i in voided]
    for i in voided:
        attribution_void(redemptions[i], with_event=False)
    for kind, i in data.draw(st.permutations(events)):
        if kind == "verified":
            recording.record_for_redemption(redemption_id=redemptions[i].pk)
        else:
            recording.void_record(redemption_id=redemptions[i].pk)

    live = [r for i, r in enumerate(redemptions) if i not in voided]
    expected = min(live, key=lambda r: (r.created_at, r.pk)).pk if live else None
    flagged = list(
        AttributionRecord.objects.filter(fan=fan, is_new_customer=True).values_list(
            "redemption_id", flat=True
        )
    )
    assert flagged == ([expected] if expected else [])
    assert AttributionRecord.objects.filter(fan=fan).count() == len(redemptions)
