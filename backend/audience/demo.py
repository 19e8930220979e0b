"""Demo audience: the publisher "mochi-cartoon" gets a listed pool "Mochi Fans" of 200 fans."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from backend.merchants.models import Merchant

from . import identity
from .members import Candidate, merge_members
from .models import FanPool

DEMO_PUBLISHER = "mochi-cartoon"
DEMO_POOL = "Mochi Fans"
DEMO_FANS = 200
DEMO_CONSENTED_AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def demo_phone(n: int) -> str:
    """Fictitious numbers in a block reserved for the demo: +86 139 0000 0001 ..."""
    return f"+86 139 0000 {n:04d}"


@transaction.atomic
def seed() -> list[str]:
    """Idempotent: re-running keeps one pool with the same 200 fans."""
    merchant = Merchant.objects.filter(slug=DEMO_PUBLISHER).first()
    if merchant is None:
        return [f"Demo audience: merchant {DEMO_PUBLISHER!r} not found, no pool seeded."]
    pool, _ = FanPool.objects.get_or_create(
        merchant=merchant,
        name=DEMO_POOL,
        defaults={
            "description": "Families and students who love Mochi the cat; weekly cartoon newsletter readers.",
            "categories": ["cartoon", "family", "students"],
            "is_listed": True,
        },
    )
    candidates = []
    for n in range(1, DEMO_FANS + 1):
        fan = identity.phone_identity(demo_phone(n))
        candidates.append(
            Candidate(fan_key=fan.fan_key, kind=fan.kind, consented_at=DEMO_CONSENTED_AT, source="demo")
        )
    merge_members(pool=pool, candidates=candidates)
    members = pool.memberships.filter(consent_withdrawn_at__isnull=True).count()
    return [f"Demo audience: {merchant.name} pool {pool.name!r} (listed) with {members} consenting fans."]
