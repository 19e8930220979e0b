"""The outbox in batches: many events per task and per handler transaction, a dead letter
for events that keep failing, the lag operators watch."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections import Counter

import pytest
from django.db import connections
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from attribution.events import ATTRIBUTION_RECORDED as RECORDED
from attribution.models import AttributionRecord
from backend.coupons.models import Coupon
from backend.outbox import registry, selectors, services
from backend.outbox.models import OutboxDelivery, OutboxEvent
from backend.redemptions import services as redemption_services
from billing.models import LedgerEntry, Posting
from tests.factories import pos_setup, redeem
from tests.integration import outbox_handlers
from tests.integration.outbox_handlers import TEST_TOPIC, effects

pytestmark = pytest.mark.django_db


def _write_offs():
    """Two campaigns; one fan writes off three coupons at one issuer; one write-off voided."""
    first, second = pos_setup(coupons=6, per_fan_limit=5), pos_setup(coupons=4)
    fan_id = first.coupons[0].fan_id
    for i, coupon in enumerate(first.coupons[1:3], start=1):
        Coupon.objects.filter(pk=coupon.pk).update(fan_id=fan_id, ordinal=100 + i)
    done = [redeem(first, c.code) for c in first.coupons] + [redeem(second, c.code) for c in second.coupons]
    assert {r.status for r in done} == {"verified"}
    voided = done[0]  # the fan's first write-off: the new-customer flag moves to its second
    redemption_services.void_redemption(terminal=first.terminal, redemption_id=voided.pk)
    return done, voided, fan_id, first


def test_a_batch_writes_what_one_event_at_a_time_would(caplog):
    done, voided, fan_id, first = _write_offs()
    verified_events = list(
        OutboxEvent.objects.filter(topic=registry.REDEMPTION_VERIFIED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    with caplog.at_level(logging.WARNING), CaptureQueriesContext(connections["default"]) as queries:
        outcome = services.process_events(verified_events)
        # attribution announced its records: billing charges from them, in one batch too
        recorded = list(
            OutboxEvent.objects.filter(topic=RECORDED).order_by("pk").values_list("pk", flat=True)
        )
        assert len(recorded) == len(verified_events)
        assert services.process_events(recorded) == {pk: True for pk in recorded}
    assert outcome == {pk: True for pk in verified_events}
    assert not [r for r in caplog.records if r.getMessage().startswith("outbox.")]  # no fallback ran
    # five handlers (attribution, billing, the budget thresholds, the webhook fan-out and the
    # referral rewards) over ten events: a fixed number of statements (18 create the five ledger
    # accounts on first use; the other three handlers take about 6 each, whatever the batch),
    # where one event at a time took about 25 per event; billing's batch is a second pass
    assert len(queries.captured_queries) <= 80, "\n".join(q["sql"][:150] for q in queries.captured_queries)

    live = [r for r in done if r.pk != voided.pk]
    records = AttributionRecord.objects.filter(redemption_id__in=[r.pk for r in done])
    assert records.count() == len(done)  # the voided one too (voided later by its own event)
    charges = Posting.objects.filter(kind=Posting.Kind.CHARGE)
    assert sorted(charges.values_list("redemption_id", flat=True)) == sorted(r.pk for r in live)
    for posting in charges:
        lines = LedgerEntry.objects.filter(posting=posting)
        assert lines.aggregate(total=Sum("amount"))["total"] == 0 and lines.count() >= 2
    # the fan's first write-off was voided before its record was made: the flag is on its second
    flagged = records.filter(issuer_id=first.merchant.pk, fan_id=fan_id, is_new_customer=True)
    assert list(flagged.values_list("redemption_id", flat=True)) == [done[1].pk]
    assert records.filter(is_new_customer=True).count() == 1 + (len(done) - 3)  # one per (issuer, fan)

    # the void event, then everything again: nothing more is written
    services.process_events(list(OutboxEvent.objects.values_list("pk", flat=True)))
    assert list(flagged.values_list("redemption_id", flat=True)) == [done[1].pk]
    counts = (AttributionRecord.objects.count(), Posting.objects.count(), LedgerEntry.objects.count())
    services.process_events(list(OutboxEvent.objects.values_list("pk", flat=True)))
    assert (AttributionRecord.objects.count(), Posting.objects.count(), LedgerEntry.objects.count()) == counts
    assert OutboxEvent.objects.filter(dispatched_at__isnull=True).count() == 0


def test_a_task_takes_the_backlog_along():
    setup = pos_setup(coupons=5)
    for coupon in setup.coupons:
        redeem(setup, coupon.code)
    events = list(OutboxEvent.objects.order_by("pk").values_list("pk", flat=True))
    assert services.dispatch_batch([events[0]]) == 5  # its own event and every waiting one
    # the records attribution announced meanwhile: one task takes them all to billing
    recorded = list(OutboxEvent.objects.filter(topic=RECORDED).order_by("pk").values_list("pk", flat=True))
    assert services.dispatch_batch(recorded[:1]) == 5
    assert OutboxEvent.objects.filter(dispatched_at__isnull=True).count() == 0
    assert Posting.objects.count() == 5


@pytest.fixture
def test_handlers():
    outbox_handlers.create_effect_table()
    outbox_handlers.install()
    yield
    outbox_handlers.uninstall()


def _batch_that_fails_on_a_bad_event(events):
    if any(e.payload.get("fail") for e in events):
        raise RuntimeError("one bad event in the batch")
    for event in events:
        outbox_handlers._record(event, "test.flaky")


def test_one_failing_event_does_not_hold_up_its_batch(test_handlers, monkeypatch):
    handlers = registry._handlers[TEST_TOPIC]
    batched = [
        dataclasses.replace(h, batch=_batch_that_fails_on_a_bad_event) if h.name == "test.flaky" else h
        for h in handlers
    ]
    monkeypatch.setitem(registry._handlers, TEST_TOPIC, batched)
    good = [OutboxEvent.objects.create(topic=TEST_TOPIC, payload={}) for _ in range(3)]
    bad = OutboxEvent.objects.create(topic=TEST_TOPIC, payload={"fail": True})
    outcome = services.process_events([e.pk for e in [*good, bad]])
    assert outcome == {**{e.pk: True for e in good}, bad.pk: False}
    assert Counter(effects()) == {
        **{(e.pk, h): 1 for e in good for h in ("test.record", "test.flaky")},
        (bad.pk, "test.record"): 1,
    }
    assert not OutboxDelivery.objects.filter(event=bad, handler="test.flaky").exists()
    bad.refresh_from_db()
    assert bad.attempts == 1 and "one bad event" not in bad.last_error and "test.flaky" in bad.last_error


def test_an_event_failing_n_times_is_dead_lettered_and_retried_from_the_admin(
    test_handlers, settings, caplog, admin_client
):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    event = OutboxEvent.objects.create(topic=TEST_TOPIC, payload={"fail": True})
    OutboxEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            OutboxEvent.objects.filter(pk=event.pk).update(next_attempt_at=None)
            assert services.sweep() == 1
    event.refresh_from_db()
    assert event.attempts == 3 and event.dead_at is not None and event.dispatched_at is None
    assert "failed on purpose" in event.last_error
    dead_logs = [r for r in caplog.records if r.getMessage() == "outbox.dead_letter"]
    assert len(dead_logs) == 1 and dead_logs[0].levelno == logging.ERROR and dead_logs[0].event_id == event.pk
    # dead: nothing retries it, and it is not lag (it waits for an operator)
    assert services.sweep() == 0 and services.process_event(event.pk) is False
    assert selectors.outbox_lag_seconds() == 0.0 and selectors.dead_letter_count() == 1

    # the admin lists it under "dead-lettered" and retries it
    page = admin_client.get("/admin/outbox/outboxevent/?state=dead")
    assert (
        page.status_code == 200
        and f"{TEST_TOPIC} #{event.pk}".encode() in page.content
        or str(event.pk).encode() in page.content
    )
    assert event.pk not in [
        e.pk for e in admin_client.get("/admin/outbox/outboxevent/?state=done").context["cl"].result_list
    ]
    OutboxEvent.objects.filter(pk=event.pk).update(payload={})  # the operator fixed the cause
    response = admin_client.post(
        "/admin/outbox/outboxevent/",
        {"action": "retry_dead_letters", "_selected_action": [event.pk]},
        follow=True,
    )
    assert response.status_code == 200 and b"1 dead-lettered event(s) queued again" in response.content
    event.refresh_from_db()
    assert event.dead_at is None and event.attempts == 0
    assert services.sweep() == 1
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert Counter(effects()) == {(event.pk, "test.record"): 1, (event.pk, "test.flaky"): 1}


def test_the_lag_is_the_age_of_the_oldest_waiting_event(test_handlers):
    assert selectors.outbox_lag_seconds() == 0.0
    old = OutboxEvent.objects.create(topic=TEST_TOPIC, payload={})
    OutboxEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(seconds=42))
    OutboxEvent.objects.create(topic=TEST_TOPIC, payload={})
    assert 42 <= selectors.outbox_lag_seconds() < 60
    services.process_event(old.pk)
    assert selectors.outbox_lag_seconds() < 5


def test_the_publisher_sends_what_committed_meanwhile_as_one_task(monkeypatch):
    import threading

    sent: list[list[int]] = []
    first_call, release = threading.Event(), threading.Event()

    def fake_send(event_ids):
        sent.append(list(event_ids))
        if len(sent) == 1:
            first_call.set()
            release.wait(5)  # the broker is slow: more events commit meanwhile

    monkeypatch.setattr(services, "_send", fake_send)
    publisher = services._Publisher()
    publisher.submit(1)
    assert first_call.wait(5)
    for event_id in (2, 3, 4, 5):
        publisher.submit(event_id)
    release.set()
    deadline = time.monotonic() + 5
    while sum(len(ids) for ids in sent) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent == [[1], [2, 3, 4, 5]]


def test_a_batch_posts_nothing_for_a_zero_fee_campaign():
    """As one event at a time: a campaign without a fee posts nothing (reconcile expects nothing)."""
    free, paid = pos_setup(coupons=2, fee_per_redemption=0), pos_setup(coupons=1)
    done = [redeem(free, c.code) for c in free.coupons] + [redeem(paid, c.code) for c in paid.coupons]
    events = OutboxEvent.objects.filter(topic=registry.REDEMPTION_VERIFIED).values_list("pk", flat=True)
    services.process_events(list(events))
    services.process_events(list(OutboxEvent.objects.filter(topic=RECORDED).values_list("pk", flat=True)))
    assert AttributionRecord.objects.filter(redemption_id__in=[r.pk for r in done]).count() == 3
    charged = Posting.objects.filter(kind=Posting.Kind.CHARGE).values_list("redemption_id", flat=True)
    assert list(charged) == [done[2].pk]
