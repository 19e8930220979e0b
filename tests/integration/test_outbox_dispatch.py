"""The outbox: each handler runs once per event, failures are recorded, the sweeper re-drives."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from backend.config.celery_app import app
from backend.outbox import services, tasks
from backend.outbox.dispatcher import Dispatcher
from backend.outbox.models import OutboxDelivery, OutboxEvent
from tests.conftest import wait_for
from tests.factories import pos_setup, redeem
from tests.integration import outbox_handlers
from tests.integration.outbox_handlers import TEST_TOPIC, effects


@pytest.fixture
def test_handlers(db):
    outbox_handlers.create_effect_table()
    outbox_handlers.install()
    yield
    outbox_handlers.uninstall()


@contextlib.contextmanager
def broker(url: str):
    """Point this process's Celery app, and worker processes started meanwhile, at another broker.

    ``CELERY_BROKER_URL`` in the environment overrides ``app.conf.broker_url`` (Celery reads it
    on every access), so both are set here and both are restored, and the connection and
    producer pools built for the other broker are dropped on the way in and on the way out.
    """

    def use(broker_url: str) -> None:
        app.conf.broker_url = broker_url
        app._pool = None
        app.amqp._producer_pool = None
        app.control.mailbox.__dict__.pop("producer_pool", None)  # cached by kombu

    old_env = os.environ.pop("CELERY_BROKER_URL", None)
    old = app.conf.broker_url
    os.environ["CELERY_BROKER_URL"] = url
    use(url)
    try:
        yield
    finally:
        if old_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = old_env
        use(old)
        assert app.conf.broker_url == (old_env or old)


def old_event(payload=None, age_seconds: int = 60) -> OutboxEvent:
    event = OutboxEvent.objects.create(topic=TEST_TOPIC, payload=payload or {})
    OutboxEvent.objects.filter(pk=event.pk).update(
        created_at=timezone.now() - dt.timedelta(seconds=age_seconds)
    )
    return event


def test_each_handler_runs_once_however_often_the_event_is_processed(test_handlers):
    event = old_event()
    assert services.process_event(event.pk) is True
    assert services.process_event(event.pk) is True
    tasks.dispatch_event(event.pk)  # the task body, as a worker runs it
    assert Counter(effects()) == {(event.pk, "test.record"): 1, (event.pk, "test.flaky"): 1}
    event.refresh_from_db()
    assert event.dispatched_at is not None and event.attempts == 1 and event.last_error == ""
    assert OutboxDelivery.objects.filter(event=event).count() == 2


def test_a_failing_handler_is_recorded_and_retried_alone(test_handlers):
    event = old_event({"fail": True})
    assert services.process_event(event.pk) is False
    event.refresh_from_db()
    assert event.dispatched_at is None and event.attempts == 1
    assert "test.flaky" in event.last_error and "failed on purpose" in event.last_error
    assert event.next_attempt_at > timezone.now()  # backed off: the sweeper leaves it alone
    assert services.claim_due_events() == []
    assert effects() == [(event.pk, "test.record")]
    OutboxEvent.objects.filter(pk=event.pk).update(payload={}, next_attempt_at=None)
    assert services.sweep() == 1
    event.refresh_from_db()
    assert event.dispatched_at is not None and event.attempts == 2 and event.last_error == ""
    assert Counter(effects()) == {(event.pk, "test.record"): 1, (event.pk, "test.flaky"): 1}


def test_an_unknown_or_finished_event_is_a_no_op(test_handlers):
    assert services.process_event(10**12) is False
    event = old_event()
    OutboxEvent.objects.filter(pk=event.pk).update(dispatched_at=timezone.now())
    assert services.process_event(event.pk) is True
    assert effects() == []


def test_the_sweeper_takes_due_events_in_batches_and_leaves_young_ones(test_handlers):
    due = [old_event() for _ in range(5)]
    young = OutboxEvent.objects.create(topic=TEST_TOPIC, payload={})
    assert services.sweep(limit=2) == 5
    handled = {event_id for event_id, _ in effects()}
    assert handled == {e.pk for e in due}
    assert OutboxEvent.objects.get(pk=young.pk).dispatched_at is None
    assert tasks.sweep_outbox() == 0  # nothing due any more (the young one is left to its task)


def test_a_claimed_event_is_leased_to_one_sweeper(test_handlers):
    event = old_event()
    assert services.claim_due_events() == [event.pk]
    assert services.claim_due_events() == []  # leased; a second sweeper skips it


def test_the_lease_takes_new_and_run_out_events_oldest_first_and_skips_those_leased_ahead(test_handlers):
    now = timezone.now()
    fresh = [old_event() for _ in range(3)]
    ran_out = old_event()  # a lease or back-off that has run out: due again
    backing_off = old_event()  # due in an hour: not yet
    parked = [old_event() for _ in range(20)]  # leased for a day (as the benchmark parks them)
    OutboxEvent.objects.filter(pk=ran_out.pk).update(next_attempt_at=now - dt.timedelta(seconds=1))
    OutboxEvent.objects.filter(pk=backing_off.pk).update(next_attempt_at=now + dt.timedelta(hours=1))
    OutboxEvent.objects.filter(pk__in=[e.pk for e in parked]).update(
        next_attempt_at=now + dt.timedelta(days=1)
    )
    other_topic = OutboxEvent.objects.create(topic="test.unhandled", payload={})
    OutboxEvent.objects.filter(pk=other_topic.pk).update(created_at=now - dt.timedelta(minutes=1))
    young = OutboxEvent.objects.create(topic=TEST_TOPIC, payload={})

    first = services.claim_due_events(limit=2, topics=[TEST_TOPIC])
    assert first == [fresh[0].pk, fresh[1].pk]  # oldest first, the limit across both kinds
    rest = services.claim_due_events(limit=10, topics=[TEST_TOPIC])
    assert rest == [fresh[2].pk, ran_out.pk]  # the young one waits for its own task (min_age)
    assert services.claim_due_events(limit=10, topics=[TEST_TOPIC]) == []  # all leased now
    leased = OutboxEvent.objects.filter(pk__in=first + rest)
    assert all(e.next_attempt_at > now + dt.timedelta(seconds=30) for e in leased)
    untouched = OutboxEvent.objects.get(pk=backing_off.pk)
    assert untouched.next_attempt_at == now + dt.timedelta(hours=1)
    # no topics: every topic; no minimum age: the young one too
    assert services.claim_due_events(limit=10, min_age=dt.timedelta(0)) == [other_topic.pk, young.pk]


@pytest.mark.django_db(transaction=True)
def test_concurrent_leases_take_disjoint_sets_and_leave_nothing_due_behind():
    OutboxEvent.objects.bulk_create(OutboxEvent(topic=TEST_TOPIC, payload={}) for _ in range(300))
    OutboxEvent.objects.update(created_at=timezone.now() - dt.timedelta(minutes=1))
    # a third of them ran out of a lease: they come back through the other index
    some = list(OutboxEvent.objects.order_by("id").values_list("pk", flat=True)[::3])
    OutboxEvent.objects.filter(pk__in=some).update(next_attempt_at=timezone.now() - dt.timedelta(seconds=5))
    barrier = threading.Barrier(6)
    taken: list[list[int]] = []
    lock = threading.Lock()

    def claimer():
        from django.db import connection as conn

        try:
            barrier.wait()
            while batch := services.claim_due_events(limit=25, topics=[TEST_TOPIC]):
                with lock:
                    taken.append(batch)
        finally:
            conn.close()

    threads = [threading.Thread(target=claimer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ids = [i for batch in taken for i in batch]
    assert len(ids) == len(set(ids))  # no event leased twice
    # A claimer stops at an empty batch, which rows locked by another may cause: what is left
    # is whatever was still due then, and a final lease takes exactly that.
    left = services.claim_due_events(limit=1000, topics=[TEST_TOPIC])
    assert sorted(ids + left) == sorted(OutboxEvent.objects.values_list("pk", flat=True))
    assert not set(left) & set(ids)


def test_write_off_events_are_handled(test_handlers):
    setup = pos_setup()
    redemption = redeem(setup)
    OutboxEvent.objects.update(created_at=timezone.now() - dt.timedelta(minutes=1))
    services.sweep()
    event = OutboxEvent.objects.get(topic="redemption.verified")
    assert effects() == [(event.pk, "test.verified")]
    assert event.payload == {"redemption_id": redemption.pk}


@pytest.mark.django_db(transaction=True)
def test_concurrent_processing_runs_a_slow_handler_once(tmp_path):
    outbox_handlers.create_effect_table()
    outbox_handlers.install()
    try:
        # the marker makes the first run slow; the others wait for its delivery row, then skip
        event = old_event({"slow": 1.0, "marker": str(tmp_path / "marker")})
        results = []

        def run():
            try:
                results.append(services.process_event(event.pk))
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert Counter(effects()) == {(event.pk, "test.record"): 1, (event.pk, "test.flaky"): 1}
        assert OutboxEvent.objects.get(pk=event.pk).dispatched_at is not None
    finally:
        outbox_handlers.uninstall()


@pytest.mark.django_db(transaction=True)
def test_a_write_off_never_talks_to_the_broker_and_the_dispatcher_publishes_when_it_returns(monkeypatch):
    """The request only inserts its event: with the broker unreachable and every Redis
    connection refused, write-offs still verify and nothing was published. The dispatcher
    then fails to publish (its leases are given back) and, once the broker answers again,
    publishes every event exactly once; the handlers run once each."""
    import redis.connection

    outbox_handlers.create_effect_table()
    outbox_handlers.install()
    redis_connects: list[str] = []
    real_connect = redis.connection.AbstractConnection.connect

    def refuse_redis(self):
        redis_connects.append(threading.current_thread().name)
        raise redis.ConnectionError("Redis is down (test)")

    published: list[list[int]] = []
    real_apply_async = tasks.dispatch_events.apply_async

    def recording_apply_async(args, **kwargs):
        published.append(list(args[0]))
        return real_apply_async(args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "connect", refuse_redis)
    monkeypatch.setattr(tasks.dispatch_events, "apply_async", recording_apply_async)
    dispatcher = Dispatcher()
    try:
        setup = pos_setup(coupons=3)
        with broker("redis://127.0.0.1:1/0"):  # nothing listens on port 1
            outcomes = [redeem(setup, c.code).status for c in setup.coupons]
            assert outcomes == ["verified"] * 3
            assert published == [] and redis_connects == []  # the requests never reached for Redis
            assert dispatcher.run_once() == 0  # the broker is down: nothing published...
            assert len(published) == 1
            # ... and the leases were given back, so the next round takes the events again
            assert not OutboxEvent.objects.filter(next_attempt_at__isnull=False).exists()
        monkeypatch.setattr(redis.connection.AbstractConnection, "connect", real_connect)
        # The broker is back. Run what the dispatcher publishes here, so no other worker takes it.
        monkeypatch.setattr(
            tasks.dispatch_events,
            "apply_async",
            lambda args, **kw: published.append(list(args[0])) or services.dispatch_batch(args[0]),
        )
        verified = OutboxEvent.objects.filter(topic="redemption.verified")
        assert dispatcher.run_once() == 3
        assert sorted(published[-1]) == sorted(verified.values_list("id", flat=True))
        assert not verified.filter(dispatched_at__isnull=True).exists()
        assert sorted(e for _, e in effects()) == ["test.verified"] * 3
    finally:
        outbox_handlers.uninstall()


@pytest.mark.django_db(transaction=True)
def test_the_dispatcher_wakes_on_commit_and_leaves_topics_it_cannot_handle(monkeypatch, settings):
    """Running as its thread does in a worker: an insert's NOTIFY wakes it long before its
    poll interval; an event of a topic this process has no handler for stays waiting."""
    outbox_handlers.create_effect_table()
    outbox_handlers.install()
    settings.OUTBOX_DISPATCH_POLL_SECONDS = 60  # only a notification can wake it in time
    monkeypatch.setattr(
        tasks.dispatch_events, "apply_async", lambda args, **kw: services.dispatch_batch(args[0])
    )
    dispatcher = Dispatcher()
    dispatcher.start()
    try:
        stranger = OutboxEvent.objects.create(topic="nobody.handles.this", payload={})
        event = OutboxEvent.objects.create(topic=TEST_TOPIC, payload={})
        wait_for(lambda: OutboxEvent.objects.get(pk=event.pk).dispatched_at is not None, timeout=20)
        assert Counter(effects()) == {(event.pk, "test.record"): 1, (event.pk, "test.flaky"): 1}
        stranger.refresh_from_db()
        assert stranger.dispatched_at is None and stranger.next_attempt_at is None
    finally:
        dispatcher.stop()
        outbox_handlers.uninstall()
