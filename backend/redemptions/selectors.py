"""Reads of the redemptions app, always scoped to the caller's merchant first."""

from __future__ import annotations

import datetime as dt

from django.db.models import DateTimeField, ExpressionWrapper, F, QuerySet, Value
from django.utils import timezone

from backend.merchants.models import Merchant, Terminal

from .models import Redemption

# Everything a list of write-offs shows next to each row, fetched in the same query.
_LIST_RELATED = ("campaign", "store", "terminal", "placement", "placement__publisher", "placement__pool")


def redemptions_for(
    *,
    merchant: Merchant,
    status: str | None = None,
    campaign_id: int | None = None,
    store_id: int | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[Redemption]:
    """The merchant's write-off attempts at its own terminals, newest first."""
    qs = Redemption.objects.filter(merchant=merchant).select_related(*_LIST_RELATED)
    if status is not None:
        qs = qs.filter(status=status)
    if campaign_id is not None:
        qs = qs.filter(campaign_id=campaign_id)
    if store_id is not None:
        qs = qs.filter(store_id=store_id)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    return qs.order_by("-created_at", "-id")


def redemption_for(*, merchant: Merchant, redemption_id: int) -> Redemption | None:
    return redemptions_for(merchant=merchant).filter(pk=redemption_id).first()


def voidable_redemptions_for(
    *, terminal: Terminal, limit: int = 20, now: dt.datetime | None = None
) -> QuerySet[Redemption]:
    """The terminal's verified write-offs still inside their campaign's void window, newest first."""
    now = now or timezone.now()
    void_until = ExpressionWrapper(
        F("created_at") + F("campaign__void_window_seconds") * Value(dt.timedelta(seconds=1)),
        output_field=DateTimeField(),
    )
    return (
        Redemption.objects.filter(
            merchant_id=terminal.merchant_id, terminal=terminal, status=Redemption.Status.VERIFIED
        )
        .alias(void_until=void_until)
        .filter(void_until__gt=now)
        .select_related("campaign")
        .order_by("-created_at", "-id")[:limit]
    )
