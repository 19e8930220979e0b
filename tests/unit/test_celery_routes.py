"""Bulk issuance is published to a queue of its own; everything else to the default queue."""

from __future__ import annotations

from types import SimpleNamespace

from backend.config.celery_app import app
from backend.config.celery_routes import issuance_queue, issuance_queue_for
from backend.outbox.worker import consumes_default_queue


def _queue_of(task_name: str, **options) -> str:
    return app.amqp.router.route(options, task_name, (), {})["queue"].name


def test_issuance_tasks_go_to_the_issuance_queue_of_the_current_default_queue(settings):
    settings.COUPON_ISSUANCE_QUEUE = ""
    default = settings.CELERY_TASK_DEFAULT_QUEUE
    assert issuance_queue() == issuance_queue_for(default) == f"{default}-issuance"
    assert _queue_of("backend.coupons.tasks.run_issuance_job") == f"{default}-issuance"
    assert _queue_of("backend.coupons.tasks.issue_chunk") == f"{default}-issuance"
    assert _queue_of("backend.outbox.tasks.dispatch_events") == app.conf.task_default_queue
    assert _queue_of("backend.coupons.tasks.sweep_issuance_jobs") == app.conf.task_default_queue


def test_the_issuance_queue_can_be_named(settings):
    settings.COUPON_ISSUANCE_QUEUE = "bulk"
    assert _queue_of("backend.coupons.tasks.issue_chunk") == "bulk"


def test_only_a_worker_of_the_default_queue_runs_the_outbox_dispatcher():
    default = app.conf.task_default_queue

    def consumer(*queues):
        return SimpleNamespace(
            app=SimpleNamespace(
                conf=app.conf,
                amqp=SimpleNamespace(queues=SimpleNamespace(consume_from={q: object() for q in queues})),
            )
        )

    assert consumes_default_queue(consumer(default))
    assert consumes_default_queue(consumer(default, issuance_queue_for(default)))
    assert not consumes_default_queue(consumer(issuance_queue_for(default)))
