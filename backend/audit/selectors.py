"""Reading the trail: one merchant's rows, newest first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from .models import AuditEntry


@dataclass(frozen=True)
class TrailFilters:
    operations: tuple[str, ...] = ()
    actor_kind: str | None = None
    actor_api_key_id: int | None = None
    actor_user_id: int | None = None
    target_id: str | None = None  # a relay global id among the row's targets
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def trail_for(*, merchant, filters: TrailFilters | None = None) -> QuerySet[AuditEntry]:
    filters = filters or TrailFilters()
    rows = AuditEntry.objects.filter(merchant=merchant).order_by("-created_at", "-id")
    if filters.operations:
        rows = rows.filter(operation__in=filters.operations)
    if filters.actor_kind:
        rows = rows.filter(actor_kind=filters.actor_kind)
    if filters.actor_api_key_id is not None:
        rows = rows.filter(actor_api_key_id=filters.actor_api_key_id)
    if filters.actor_user_id is not None:
        rows = rows.filter(actor_user_id=filters.actor_user_id)
    if filters.target_id:
        rows = rows.filter(targets__contains=[{"id": filters.target_id}])
    if filters.since is not None:
        rows = rows.filter(created_at__gte=filters.since)
    if filters.until is not None:
        rows = rows.filter(created_at__lt=filters.until)
    return rows
