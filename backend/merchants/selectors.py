"""Reads of the merchants app, always scoped to the caller's merchant."""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet

from backend.api.rows import columns, model_from_row

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


def memberships_of(*, user) -> list[Membership]:
    """The merchants a person belongs to, with their role in each (the console's switcher),
    each with its merchant attached, by merchant name.

    Every console page reads this, so it is one statement written once (``_MEMBERSHIPS_SQL``):
    compiling the ORM's join and its ORDER BY cost ten times as long as running it, about
    2 ms of CPU per page (bench scenario 10).
    """
    with connection.cursor() as cursor:
        cursor.execute(_MEMBERSHIPS_SQL, [user.pk])
        found = cursor.fetchall()
    memberships = []
    for row in found:
        membership = model_from_row(Membership, row)
        membership.merchant = model_from_row(Merchant, row, _MEMBERSHIP_WIDTH)
        memberships.append(membership)
    return memberships


_MEMBERSHIP_WIDTH = len(Membership._meta.concrete_fields)
_MEMBERSHIPS_SQL = (
    f"SELECT {columns(Membership, 'ms')}, {columns(Merchant, 'm')} "  # noqa: S608 (names from the models)
    f"FROM {Membership._meta.db_table} ms JOIN {Merchant._meta.db_table} m ON m.id = ms.merchant_id "
    "WHERE ms.user_id = %s ORDER BY m.name, ms.id"
)
