"""The outbox dispatcher inside Celery workers: started with the main process of each worker
that consumes the default queue (not with the issuance worker's).

Also a remote control command, ``outbox_dispatcher``, to pause or resume a running worker's
dispatcher (operators during maintenance; the test suite, so a shared worker leaves the
events of tests that do not use it alone). It answers once any round in flight is done.
"""

from __future__ import annotations

from celery.signals import worker_ready, worker_shutting_down
from celery.worker.control import control_command

from . import dispatcher


def consumes_default_queue(consumer) -> bool:
    """Whether this worker takes the default queue (where the outbox's tasks go). A worker
    of the issuance queue alone (``-Q celery-issuance``) runs no dispatcher: it would only
    compete for the events and for CPU with the worker that handles them."""
    app = getattr(consumer, "app", None)
    if app is None:
        return True
    return app.conf.task_default_queue in app.amqp.queues.consume_from


@worker_ready.connect
def _start_dispatcher(sender=None, **kwargs) -> None:
    if consumes_default_queue(sender):
        dispatcher.start_in_worker()


@worker_shutting_down.connect
def _stop_dispatcher(**kwargs) -> None:
    dispatcher.stop_in_worker()


@control_command(args=[("paused", int)], signature="<paused: 0 or 1>")
def outbox_dispatcher(state, paused: int = 1) -> dict:
    current = dispatcher.current()
    if current is None:
        return {"ok": "no dispatcher"}
    current.pause(bool(int(paused)))
    return {"ok": "paused" if current.paused else "running"}
