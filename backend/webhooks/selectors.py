"""Reads of the webhooks app, always scoped to the caller's merchant."""

from __future__ import annotations

from django.db.models import QuerySet

from backend.merchants.models import Merchant

from .models import WebhookDelivery, WebhookEndpoint


def endpoints_for(*, merchant: Merchant) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(merchant=merchant, deleted_at__isnull=True).order_by("id")


def endpoint_for(*, merchant: Merchant, endpoint_id: int) -> WebhookEndpoint | None:
    return endpoints_for(merchant=merchant).filter(pk=endpoint_id).first()


def deliveries_for(
    *, merchant: Merchant, endpoint_id: int | None = None, with_attempts: bool = False
) -> QuerySet[WebhookDelivery]:
    """The merchant's deliveries, newest first; ``with_attempts`` loads the page's attempt logs
    in one query."""
    deliveries = WebhookDelivery.objects.filter(endpoint__merchant=merchant).select_related(
        "message", "endpoint"
    )
    if with_attempts:
        deliveries = deliveries.prefetch_related("attempt_log")
    if endpoint_id is not None:
        deliveries = deliveries.filter(endpoint_id=endpoint_id)
    return deliveries.order_by("-id")


def delivery_for(*, merchant: Merchant, delivery_id: int) -> WebhookDelivery | None:
    return deliveries_for(merchant=merchant).select_related("endpoint").filter(pk=delivery_id).first()
