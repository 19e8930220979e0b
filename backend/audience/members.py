"""Set-based merging of fans into a pool: the one write path for the API and CSV imports.

Fans and memberships are inserted with INSERT ... ON CONFLICT DO NOTHING, so running the
same batch twice adds nothing the second time, and two imports touching the same fan never
create two Fan rows. Callers run it inside their own transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from .models import FanPool


@dataclass(frozen=True)
class Candidate:
    """One valid, hashed fan to add: no raw identifier travels past this point."""

    fan_key: str
    kind: str
    consented_at: dt.datetime
    source: str
    external_ref: str | None = None  # the publisher's CRM id; a ref given again moves to this fan


@dataclass(frozen=True)
class MergeResult:
    added: int  # new consenting memberships (including re-consents after a withdrawal)
    duplicates: int  # already consenting members, or repeated within the batch


def _set_external_refs(cursor, *, pool: FanPool, rows: list[Candidate]) -> None:
    """Stores each given ref on its fan's membership; one ref names one fan per pool (the first
    of a batch; a ref given again for another fan moves to it)."""
    by_ref: dict[str, str] = {}
    for candidate in rows:
        if candidate.external_ref:
            by_ref.setdefault(candidate.external_ref, candidate.fan_key)
    if not by_ref:
        return
    refs, keys = list(by_ref), list(by_ref.values())
    cursor.execute(
        "UPDATE audience_poolmembership m SET external_ref = NULL "
        "FROM unnest(%s::text[], %s::text[]) AS v(ref, fan_key) JOIN audience_fan f ON f.fan_key = v.fan_key "
        "WHERE m.pool_id = %s AND m.external_ref = v.ref AND m.fan_id <> f.id",
        [refs, keys, pool.pk],
    )
    cursor.execute(
        "UPDATE audience_poolmembership m SET external_ref = v.ref "
        "FROM unnest(%s::text[], %s::text[]) AS v(ref, fan_key) JOIN audience_fan f ON f.fan_key = v.fan_key "
        "WHERE m.pool_id = %s AND m.fan_id = f.id AND m.external_ref IS DISTINCT FROM v.ref",
        [refs, keys, pool.pk],
    )


def merge_members(*, pool: FanPool, candidates: list[Candidate]) -> MergeResult:
    """Add ``candidates`` to ``pool``; every candidate is counted once as added or duplicate.

    Within the batch the first occurrence of a fan wins. A fan whose consent was withdrawn
    is re-admitted only by a consent given after the withdrawal (an old list cannot
    resurrect a withdrawn fan).
    """
    unique: dict[str, Candidate] = {}
    for candidate in candidates:
        unique.setdefault(candidate.fan_key, candidate)
    if not unique:
        return MergeResult(added=0, duplicates=len(candidates))
    rows = sorted(unique.values(), key=lambda c: c.fan_key)  # one lock order: no deadlocks
    keys = [c.fan_key for c in rows]
    kinds = [str(c.kind) for c in rows]
    consents = [c.consented_at for c in rows]
    sources = [c.source for c in rows]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audience_fan (fan_key, kind, created_at) "
            "SELECT v.fan_key, v.kind, now() FROM unnest(%s::text[], %s::text[]) AS v(fan_key, kind) "
            "ORDER BY v.fan_key ON CONFLICT (fan_key) DO NOTHING",
            [keys, kinds],
        )
        cursor.execute(
            "INSERT INTO audience_poolmembership (pool_id, fan_id, consented_at, source, created_at) "
            "SELECT %s, f.id, v.consented_at, v.source, now() "
            "FROM unnest(%s::text[], %s::timestamptz[], %s::text[]) AS v(fan_key, consented_at, source) "
            "JOIN audience_fan f ON f.fan_key = v.fan_key ORDER BY f.id "
            "ON CONFLICT (pool_id, fan_id) DO NOTHING",
            [pool.pk, keys, consents, sources],
        )
        inserted = cursor.rowcount
        cursor.execute(
            "UPDATE audience_poolmembership m "
            "SET consented_at = v.consented_at, source = v.source, consent_withdrawn_at = NULL "
            "FROM unnest(%s::text[], %s::timestamptz[], %s::text[]) AS v(fan_key, consented_at, source) "
            "JOIN audience_fan f ON f.fan_key = v.fan_key "
            "WHERE m.pool_id = %s AND m.fan_id = f.id "
            "AND m.consent_withdrawn_at IS NOT NULL AND m.consent_withdrawn_at < v.consented_at",
            [keys, consents, sources, pool.pk],
        )
        reconsented = cursor.rowcount
        _set_external_refs(cursor, pool=pool, rows=rows)
    added = inserted + reconsented
    return MergeResult(added=added, duplicates=len(candidates) - added)
