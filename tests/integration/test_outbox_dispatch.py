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
def test_a_write_off_does_not_wait_for_a_dead_broker(monkeypatch):
    """Each publish hangs until the write-offs are done, then meets a dead broker: had a
    write-off waited for its publish, a publish would have happened before it returned."""
    outbox_handlers.create_effect_table()
    outbox_handlers.install()
    released = threading.Event()
    attempts: list[int] = []
    real_apply_async = tasks.dispatch_events.apply_async

    def hanging_broker(args, **kwargs):
        released.wait(timeout=60)  # a liveness guard only: the test releases it
        attempts.extend(args[0])  # the publisher sends what committed meanwhile as one task
        return real_apply_async(args, **kwargs)

    monkeypatch.setattr(tasks.dispatch_events, "apply_async", hanging_broker)
    try:
        setup = pos_setup(coupons=3)
        with broker("redis://127.0.0.1:1/0"):  # nothing listens on port 1
            outcomes = [redeem(setup, c.code).status for c in setup.coupons]
            assert attempts == []  # every write-off returned while its publish still hung
            released.set()
            wait_for(lambda: len(attempts) == 3, timeout=30)  # the publishes ran (and failed)
        assert outcomes == ["verified"] * 3
        assert sorted(attempts) == sorted(OutboxEvent.objects.values_list("id", flat=True))
        assert OutboxEvent.objects.filter(dispatched_at__isnull=True).count() == 3
        OutboxEvent.objects.update(created_at=timezone.now() - dt.timedelta(minutes=1))
        assert services.sweep() == 3
        assert sorted(e for _, e in effects()) == ["test.verified"] * 3
    finally:
        released.set()
        outbox_handlers.uninstall()
