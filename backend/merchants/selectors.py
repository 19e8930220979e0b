"""Reads of the merchants app, always scoped to the caller's merchant."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import ApiKey, Membership, Merchant, Store, Terminal


def stores_for(*, merchant: Merchant, active: bool | None = None) -> QuerySet[Store]:
    qs = Store.objects.filter(merchant=merchant)
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs.order_by("id")


def store_for(*, merchant: Merchant, store_id: int) -> Store | None:
    return Store.objects.filter(merchant=merchant, pk=store_id).first()


def terminals_for(*, merchant: Merchant, store_id: int | None = None) -> QuerySet[Terminal]:
    qs = Terminal.objects.filter(merchant=merchant).select_related("store")
    if store_id is not None:
        qs = qs.filter(store_id=store_id)
    return qs.order_by("id")


def terminal_for(*, merchant: Merchant, terminal_id: int) -> Terminal | None:
    return Terminal.objects.filter(merchant=merchant, pk=terminal_id).select_related("store").first()


def api_keys_for(*, merchant: Merchant) -> QuerySet[ApiKey]:
    return (
        ApiKey.objects.filter(merchant=merchant)
        .select_related("revoked_by_key", "revoked_by_user")
        .order_by("id")
    )


def api_key_for(*, merchant: Merchant, api_key_id: int) -> ApiKey | None:
    return ApiKey.objects.filter(merchant=merchant, pk=api_key_id).first()


def memberships_of(*, user) -> QuerySet[Membership]:
    """The merchants a person belongs to, with their role in each (the console's switcher)."""
    return Membership.objects.filter(user=user).select_related("merchant").order_by("merchant__name", "id")
