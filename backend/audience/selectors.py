"""Reads of the audience app: scoped to the caller's merchant, except the public directory."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from .models import FanImport, FanPool, PoolMembership

# Size bands shown in the directory instead of exact counts: (lower bound, label).
SIZE_BANDS: tuple[tuple[int, str], ...] = (
    (1_000_000, "1m+"),
    (100_000, "100k-1m"),
    (10_000, "10k-100k"),
    (1_000, "1k-10k"),
    (100, "100-1k"),
    (0, "<100"),
)


def size_band(count: int) -> str:
    """A coarse label for a pool's size: the directory never shows exact counts."""
    for lower, label in SIZE_BANDS:
        if count >= lower:
            return label
    return SIZE_BANDS[-1][1]


def _consenting(prefix: str = "") -> Q:
    return Q(**{f"{prefix}consent_withdrawn_at__isnull": True})


def pools_for(*, merchant, category: str | None = None) -> QuerySet[FanPool]:
    """The merchant's own pools, each annotated with ``member_count`` (consenting members)."""
    qs = FanPool.objects.filter(merchant=merchant)
    if category:
        qs = qs.filter(categories__contains=[category])
    return qs.annotate(member_count=Count("memberships", filter=_consenting("memberships__"))).order_by("id")


def pool_for_owner(*, merchant, pool_id: int | None) -> FanPool | None:
    """The merchant's own pool with this id, or None (another merchant's pool is None too)."""
    if not pool_id:
        return None
    return FanPool.objects.filter(merchant=merchant, pk=pool_id).select_related("merchant").first()


def listed_pool(*, pool_id: int | None) -> FanPool | None:
    """Any merchant's pool with this id if it is listed in the directory (to propose a placement)."""
    if not pool_id:
        return None
    return FanPool.objects.filter(pk=pool_id, is_listed=True).select_related("merchant").first()


def directory_pools(*, category: str | None = None) -> QuerySet[FanPool]:
    """Listed pools of every merchant, with ``member_count`` for size bands (never shown exactly)."""
    qs = FanPool.objects.filter(is_listed=True).select_related("merchant")
    if category:
        qs = qs.filter(categories__contains=[category])
    return qs.annotate(member_count=Count("memberships", filter=_consenting("memberships__"))).order_by("id")


def directory_pool(*, pool_id: int | None) -> FanPool | None:
    """One listed pool of the directory (any merchant's), None if unknown or unlisted."""
    if pool_id is None:
        return None
    return directory_pools().filter(pk=pool_id).first()


def consenting_member_fan_ids(*, pool: FanPool) -> QuerySet:
    """Ids of the pool's fans whose consent is not withdrawn, in membership order.

    A values_list queryset: iterate it (``.iterator(chunk_size=...)``) or use it as a
    subquery (``fan_id__in=...``) without loading every id.
    """
    return (
        PoolMembership.objects.filter(pool=pool, consent_withdrawn_at__isnull=True)
        .order_by("id")
        .values_list("fan_id", flat=True)
    )


def memberships_for(*, merchant, pool: FanPool, include_withdrawn: bool = True) -> QuerySet[PoolMembership]:
    qs = PoolMembership.objects.filter(pool__merchant=merchant, pool=pool).select_related("fan")
    if not include_withdrawn:
        qs = qs.filter(consent_withdrawn_at__isnull=True)
    return qs.order_by("id")


def membership_for(*, merchant, membership_id: int | None) -> PoolMembership | None:
    if not membership_id:
        return None
    return (
        PoolMembership.objects.filter(pool__merchant=merchant, pk=membership_id).select_related("fan").first()
    )


def fan_imports_for(
    *, merchant, pool: FanPool | None = None, with_pool_counts: bool = False
) -> QuerySet[FanImport]:
    """The merchant's imports, newest first, with their pools (and, with ``with_pool_counts``,
    the pools' member counts) loaded for the whole page, not per row."""
    qs = FanImport.objects.filter(merchant=merchant)
    if pool is not None:
        qs = qs.filter(pool=pool)
    if with_pool_counts:
        qs = qs.prefetch_related(Prefetch("pool", queryset=pools_for(merchant=merchant).order_by()))
    else:
        qs = qs.select_related("pool")
    return qs.order_by("-id")


def fan_import_for(*, merchant, import_id: int | None) -> FanImport | None:
    if not import_id:
        return None
    return FanImport.objects.filter(merchant=merchant, pk=import_id).first()
