"""Celery entry points of webhooks: thin and safe to run twice (a lease guards each attempt)."""

from celery import shared_task

from . import services


@shared_task(name="backend.webhooks.tasks.deliver_webhook")
def deliver_webhook(delivery_id: int) -> str | None:
    return services.attempt_delivery(delivery_id=delivery_id)


@shared_task(name="backend.webhooks.tasks.sweep_webhook_deliveries")
def sweep_webhook_deliveries() -> int:
    """Attempt every due delivery (retries, and first tries whose task was lost)."""
    done = 0
    for delivery_id in services.due_delivery_ids():
        if services.attempt_delivery(delivery_id=delivery_id) is not None:
            done += 1
    return done
