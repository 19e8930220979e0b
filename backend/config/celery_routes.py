"""Where each Celery task goes: bulk issuance on a queue of its own, everything else on the default.

Issuance chunks are long (seconds each, serialized per placement); outbox batches are short
and feed attribution and the ledger behind the tills. On one queue they wait behind each
other (an outbox backlog delays a job's start; a job's chunks delay the outbox). So the
issuance tasks go to ``issuance_queue()``, consumed by a worker of its own (``scripts/run``
starts both: ``-Q celery`` with the outbox dispatcher, ``-Q celery-issuance`` niced).

The queue is read when a task is published, not at import: the tests and the benchmark
point the default queue at one of their own at run time, and the issuance queue follows it.
"""

from __future__ import annotations

ISSUANCE_TASKS = frozenset({"backend.coupons.tasks.run_issuance_job", "backend.coupons.tasks.issue_chunk"})


def issuance_queue_for(default_queue: str) -> str:
    return f"{default_queue}-issuance"


def issuance_queue() -> str:
    """``COUPON_ISSUANCE_QUEUE`` when set, else the default queue's name + ``-issuance``."""
    from django.conf import settings

    return settings.COUPON_ISSUANCE_QUEUE or issuance_queue_for(settings.CELERY_TASK_DEFAULT_QUEUE)


def route_task(name, args, kwargs, options, task=None, **kw):
    """Celery router (``CELERY_TASK_ROUTES``): the issuance tasks to their queue."""
    if name in ISSUANCE_TASKS:
        return {"queue": issuance_queue()}
    return None
