"""Celery entry points of the outbox: thin and safe to run twice."""

from celery import shared_task

from . import services


@shared_task(name="backend.outbox.tasks.dispatch_event")
def dispatch_event(event_id: int) -> int:
    return services.dispatch_batch([event_id])


@shared_task(name="backend.outbox.tasks.dispatch_events")
def dispatch_events(event_ids: list[int]) -> int:
    return services.dispatch_batch(event_ids)


@shared_task(name="backend.outbox.tasks.sweep_outbox")
def sweep_outbox() -> int:
    return services.sweep()
