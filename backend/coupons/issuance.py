"""Bulk issuance: one unique code per (placement, fan, ordinal), at COPY speed, exactly once.

A job is planned once into chunks of fans, by fan id range; each chunk is one transaction:

1. lock the chunk row (done already? then nothing to do) and the placement row (so the
   quota cannot be overrun by two chunks or two jobs at once). The locks are FOR NO KEY
   UPDATE: write-offs inserting rows that reference the placement are never blocked;
2. select the (fan, ordinal) pairs of consenting members that still lack a coupon, up to
   the remaining quota;
3. generate codes in bulk and COPY the rows straight into coupons, in a savepoint (the
   fast path: as fast as a raw COPY);
4. if a code collided with an existing one (the unique index said no), roll that back and
   go the safe way: COPY into a temporary staging table, ``INSERT ... SELECT ... ON
   CONFLICT DO NOTHING``, and give the pairs left without a coupon new codes until every
   pair has one (top-up);
5. add the count to the placement, the job and the chunk, and mark the chunk done;
6. yield to the tills: if write-offs ran at COUPON_ISSUANCE_YIELD_AT a second or more while
   the chunk worked, wait a while before committing (``yield_to_tills``). The placement's
   lock is still held, so the job's next chunk waits too: under till load a job issues at
   about a third of its speed instead of taking a core from the write-offs.

The unique constraint (placement, fan, ordinal) and the chunk's done mark make a re-run or a
redelivered task a no-op; nothing relies on the broker delivering exactly once.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import time

import psycopg2
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from backend.api import ids
from backend.campaigns.models import Campaign, Placement
from backend.webhooks import events as webhook_events

from . import codes
from .models import Coupon, IssuanceChunk, IssuanceJob

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 50_000
MAX_TOP_UP_ROUNDS = 25
# Tests shrink the code space (e.g. 2 symbols) to force collisions; never change it in production.
CODE_BODY_SYMBOLS = codes.BASE

_MEMBERS = """
    FROM audience_poolmembership m
    CROSS JOIN generate_series(1, %(per_fan)s) AS o(ordinal)
    WHERE m.pool_id = %(pool_id)s
      AND m.consent_withdrawn_at IS NULL
      AND m.fan_id > %(after)s AND m.fan_id <= %(upto)s
      {only_listed}
      AND NOT EXISTS (
        SELECT 1 FROM coupons_coupon c
        WHERE c.placement_id = %(placement_id)s AND c.fan_id = m.fan_id AND c.ordinal = o.ordinal
      )
"""


class CodeSpaceExhausted(RuntimeError):
    """Top-up did not find free codes within MAX_TOP_UP_ROUNDS (only with a tiny test code space)."""


def chunk_size() -> int:
    return int(getattr(settings, "COUPON_ISSUANCE_CHUNK_SIZE", DEFAULT_CHUNK_SIZE))


def coupon_validity(campaign: Campaign, issued_at: dt.datetime) -> tuple[dt.datetime, dt.datetime | None]:
    """(valid_from, valid_until) of a coupon issued at ``issued_at``: the campaign window,
    shortened to ``valid_days_after_issue`` days after issue when that is set."""
    valid_from = campaign.valid_from or issued_at
    valid_until = campaign.valid_until
    if campaign.valid_days_after_issue:
        by_days = issued_at + dt.timedelta(days=campaign.valid_days_after_issue)
        valid_until = by_days if valid_until is None else min(valid_until, by_days)
    return valid_from, valid_until


def _member_params(job: IssuanceJob, placement: Placement, after: int, upto: int) -> tuple[dict, str]:
    params = {
        "per_fan": placement.campaign.coupons_per_fan,
        "pool_id": placement.pool_id,
        "placement_id": placement.pk,
        "after": after,
        "upto": upto,
    }
    only_listed = ""
    if job.fan_ids is not None:
        params["fan_ids"] = [f for f in job.fan_ids if after < f <= upto]
        only_listed = "AND m.fan_id = ANY(%(fan_ids)s::bigint[])"
    return params, only_listed


def missing_pairs_count(job: IssuanceJob, placement: Placement) -> int:
    """How many (fan, ordinal) pairs of the job's fans still lack a coupon."""
    params, only_listed = _member_params(job, placement, 0, 2**63 - 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) " + _MEMBERS.format(only_listed=only_listed), params)
        return cursor.fetchone()[0]


def _chunk_bounds(job: IssuanceJob, placement: Placement) -> list[tuple[int, int]]:
    """(after, upto] fan id ranges of about chunk_size() fans each, in fan id order."""
    size = chunk_size()
    if job.fan_ids is not None:
        fan_ids = sorted(set(job.fan_ids))
        uppers = [fan_ids[min(i + size, len(fan_ids)) - 1] for i in range(0, len(fan_ids), size)]
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT fan_id FROM (
                    SELECT fan_id, row_number() OVER (ORDER BY fan_id) AS rn, count(*) OVER () AS n
                    FROM audience_poolmembership
                    WHERE pool_id = %s AND consent_withdrawn_at IS NULL
                ) t WHERE rn %% %s = 0 OR rn = n ORDER BY fan_id
                """,
                [placement.pool_id, size],
            )
            uppers = [row[0] for row in cursor.fetchall()]
    bounds, after = [], 0
    for upto in uppers:
        if upto > after:
            bounds.append((after, upto))
            after = upto
    return bounds


def plan_job(*, job_id: int) -> list[int]:
    """Split the job into chunks once (idempotent); returns the ids of chunks not yet done."""
    with transaction.atomic():
        job = IssuanceJob.objects.select_for_update(no_key=True).get(pk=job_id)
        if job.status in (IssuanceJob.Status.SUCCEEDED, IssuanceJob.Status.FAILED):
            return []
        if job.status == IssuanceJob.Status.PENDING:
            placement = Placement.objects.select_related("campaign").get(pk=job.placement_id)
            remaining = max(0, placement.quota - placement.issued_count)
            bounds = _chunk_bounds(job, placement) if remaining else []
            IssuanceChunk.objects.bulk_create(
                IssuanceChunk(job=job, index=i, after_fan_id=a, upto_fan_id=u)
                for i, (a, u) in enumerate(bounds)
            )
            now = timezone.now()
            job.total = min(remaining, missing_pairs_count(job, placement)) if bounds else 0
            job.chunk_count = len(bounds)
            job.started_at = now
            job.status = IssuanceJob.Status.RUNNING if bounds else IssuanceJob.Status.SUCCEEDED
            job.finished_at = None if bounds else now
            job.save(update_fields=["total", "chunk_count", "started_at", "status", "finished_at"])
        return list(IssuanceChunk.objects.filter(job=job, done_at__isnull=True).values_list("pk", flat=True))


_COLUMNS = "code, campaign_id, placement_id, fan_id, ordinal, status, issued_at, valid_from, valid_until"
_INSERT_FROM_STAGING = """
    INSERT INTO coupons_coupon
        (code, campaign_id, placement_id, fan_id, ordinal, status, issued_at, valid_from, valid_until)
    SELECT code, %s, %s, fan_id, ordinal, %s, %s, %s, %s FROM coupon_issue_staging
    ON CONFLICT DO NOTHING
"""


def _copy_text(value) -> str:
    return r"\N" if value is None else value.isoformat()


def _copy_all_or_nothing(cursor, rows: str) -> bool:
    """The fast path: COPY the batch straight into the coupons table, in a savepoint.

    The pairs were chosen under the placement lock as lacking a coupon, so only a code
    collision (rare: 3.6e16 codes) can fail it; then the batch is rolled back and the
    caller takes the staging path, which skips collisions and tops them up.
    """
    try:
        with transaction.atomic():
            cursor.copy_expert(f"COPY coupons_coupon ({_COLUMNS}) FROM STDIN", io.StringIO(rows))
    except (IntegrityError, psycopg2.IntegrityError):
        return False
    return True


def _stage_and_insert(
    cursor, pairs: list[tuple[int, int]], *, placement: Placement, issued_at, validity
) -> int:
    """Insert coupons for ``pairs`` (fan_id, ordinal), topping up codes that collided."""
    if not pairs:
        return 0
    fixed = "\t".join(
        [str(Coupon.Status.ISSUED), _copy_text(issued_at), _copy_text(validity[0]), _copy_text(validity[1])]
    )
    new = codes.new_codes(len(pairs), body_symbols=CODE_BODY_SYMBOLS)
    rows = "".join(
        f"{c}\t{placement.campaign_id}\t{placement.pk}\t{f}\t{o}\t{fixed}\n"
        for (f, o), c in zip(pairs, new, strict=True)
    )
    if _copy_all_or_nothing(cursor, rows):
        return len(pairs)
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS coupon_issue_staging "
        "(fan_id bigint, ordinal smallint, code varchar(12)) ON COMMIT DELETE ROWS"
    )
    params = [placement.campaign_id, placement.pk, Coupon.Status.ISSUED, issued_at, *validity]
    inserted, todo = 0, pairs
    for _ in range(MAX_TOP_UP_ROUNDS):
        if not todo:
            return inserted
        new = codes.new_codes(len(todo), body_symbols=CODE_BODY_SYMBOLS)
        buffer = io.StringIO("".join(f"{f}\t{o}\t{c}\n" for (f, o), c in zip(todo, new, strict=True)))
        cursor.execute("TRUNCATE coupon_issue_staging")
        cursor.copy_expert("COPY coupon_issue_staging (fan_id, ordinal, code) FROM STDIN", buffer)
        cursor.execute(_INSERT_FROM_STAGING, params)
        inserted += cursor.rowcount
        if cursor.rowcount == len(todo):
            return inserted
        # The pairs still without a coupon lost their code to the unique index: new codes for them.
        cursor.execute(
            """
            SELECT s.fan_id, s.ordinal FROM coupon_issue_staging s
            WHERE NOT EXISTS (
                SELECT 1 FROM coupons_coupon c
                WHERE c.placement_id = %s AND c.fan_id = s.fan_id AND c.ordinal = s.ordinal
            )
            """,
            [placement.pk],
        )
        todo = cursor.fetchall()
        logger.info("coupons.issuance.top_up", extra={"placement_id": placement.pk, "collided": len(todo)})
    if todo:
        raise CodeSpaceExhausted(f"{len(todo)} coupons found no free code in {MAX_TOP_UP_ROUNDS} rounds")
    return inserted


_TILL_ACTIVITY_SQL = "SELECT COALESCE(pg_sequence_last_value(pg_get_serial_sequence('redemptions_redemption', 'id')::regclass), 0)"


def till_activity() -> int:
    """A counter every write-off at every till moves (verified, rejected or rolled back): the
    last value of the redemptions' id sequence. Two readings a second apart give write-offs
    per second, network-wide, at the cost of reading one sequence (no table, no lock)."""
    with connection.cursor() as cursor:
        cursor.execute(_TILL_ACTIVITY_SQL)
        return int(cursor.fetchone()[0])


def yield_to_tills(*, activity_before: int, started: float) -> float:
    """Wait if the tills were busy while this chunk worked; the seconds waited (0.0 if not).

    Busy is COUPON_ISSUANCE_YIELD_AT write-offs a second or more since ``started``; the wait
    is COUPON_ISSUANCE_YIELD_FACTOR times the chunk's own time, at most
    COUPON_ISSUANCE_YIELD_MAX_SECONDS. Bulk work waits; a till never does."""
    threshold = int(settings.COUPON_ISSUANCE_YIELD_AT)
    if threshold <= 0:
        return 0.0
    took = max(time.monotonic() - started, 1e-3)
    rate = (till_activity() - activity_before) / took
    if rate < threshold:
        return 0.0
    pause = min(
        float(settings.COUPON_ISSUANCE_YIELD_FACTOR) * took, float(settings.COUPON_ISSUANCE_YIELD_MAX_SECONDS)
    )
    logger.info(
        "coupons.issuance.yielded",
        extra={"writeoffs_per_s": round(rate, 1), "chunk_s": round(took, 3), "pause_s": round(pause, 3)},
    )
    time.sleep(pause)
    return pause


def issue_chunk(*, chunk_id: int) -> int:
    """Issue one chunk's coupons, exactly once; returns how many this call issued."""
    with transaction.atomic():
        chunk = IssuanceChunk.objects.select_for_update(no_key=True).filter(pk=chunk_id).first()
        if chunk is None or chunk.done_at is not None:
            return 0
        job = IssuanceJob.objects.get(pk=chunk.job_id)
        placement = Placement.objects.select_for_update(no_key=True).get(pk=job.placement_id)
        activity_before, started = till_activity(), time.monotonic()
        campaign = Campaign.objects.get(pk=placement.campaign_id)
        placement.campaign = campaign
        issued, problem = 0, ""
        remaining = placement.quota - placement.issued_count
        if placement.status != Placement.Status.ACCEPTED:
            problem = f"The placement is {placement.status}: some coupons were not issued."
        elif campaign.status != Campaign.Status.ACTIVE:
            problem = f"The campaign is {campaign.status}: some coupons were not issued."
        elif remaining > 0:
            params, only_listed = _member_params(job, placement, chunk.after_fan_id, chunk.upto_fan_id)
            params["limit"] = remaining
            issued_at = timezone.now()
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT m.fan_id, o.ordinal "
                    + _MEMBERS.format(only_listed=only_listed)
                    + " ORDER BY m.fan_id, o.ordinal LIMIT %(limit)s",
                    params,
                )
                pairs = cursor.fetchall()
                issued = _stage_and_insert(
                    cursor,
                    pairs,
                    placement=placement,
                    issued_at=issued_at,
                    validity=coupon_validity(campaign, issued_at),
                )
        now = timezone.now()
        IssuanceChunk.objects.filter(pk=chunk.pk).update(issued=issued, done_at=now)
        if issued:
            Placement.objects.filter(pk=placement.pk).update(issued_count=F("issued_count") + issued)
        # progressed_at tells the sweeper the job is alive: a long job that keeps finishing
        # chunks is never re-driven.
        IssuanceJob.objects.filter(pk=job.pk).update(
            issued=F("issued") + issued, chunks_done=F("chunks_done") + 1, progressed_at=now
        )
        if problem:
            IssuanceJob.objects.filter(pk=job.pk, error="").update(error=problem)
        # Chunks of one placement serialize on its row lock, so this read sees every other chunk.
        job.refresh_from_db(fields=["chunks_done", "chunk_count", "error"])
        if job.chunks_done >= job.chunk_count:
            finished = IssuanceJob.objects.filter(pk=job.pk, status=IssuanceJob.Status.RUNNING).update(
                status=IssuanceJob.Status.FAILED if job.error else IssuanceJob.Status.SUCCEEDED,
                finished_at=now,
            )
            if finished:
                _announce_completed(job.pk, placement)
        if issued and job.chunks_done < job.chunk_count:  # the last chunk has no next to hold back
            yield_to_tills(activity_before=activity_before, started=started)
        return issued


def _announce_completed(job_id: int, placement: Placement) -> None:
    job = IssuanceJob.objects.get(pk=job_id)
    data = {
        "issuance": {
            "id": ids.encode("IssuanceJob", job.pk),
            "status": job.status.upper(),
            "total": job.total,
            "issued": job.issued,
            "placementId": ids.encode("Placement", placement.pk),
        }
    }
    webhook_events.announce(
        topic=webhook_events.ISSUANCE_COMPLETED.name,
        recipients=[(placement.issuer_id, data), (placement.publisher_id, data)],
    )


def stalled_job_ids(*, pending_for: dt.timedelta, silent_for: dt.timedelta) -> list[int]:
    """Jobs whose start message may have been lost (pending too long) or whose chunk
    messages may have been lost (running, no chunk finished for a while)."""
    now = timezone.now()
    pending = IssuanceJob.objects.filter(status=IssuanceJob.Status.PENDING, created_at__lt=now - pending_for)
    running = (
        IssuanceJob.objects.filter(status=IssuanceJob.Status.RUNNING)
        .exclude(progressed_at__gte=now - silent_for)
        .exclude(progressed_at__isnull=True, started_at__gte=now - silent_for)
    )
    return sorted({*pending.values_list("pk", flat=True), *running.values_list("pk", flat=True)})


def mark_failed(*, job_id: int, error: str) -> None:
    IssuanceJob.objects.filter(
        pk=job_id, status__in=[IssuanceJob.Status.PENDING, IssuanceJob.Status.RUNNING]
    ).update(status=IssuanceJob.Status.FAILED, error=error[:2000], finished_at=timezone.now())


def run_job_inline(*, job_id: int) -> IssuanceJob:
    """Plan and run every chunk in this process (the demo seed; tests of the engine)."""
    for chunk_id in plan_job(job_id=job_id):
        issue_chunk(chunk_id=chunk_id)
    return IssuanceJob.objects.get(pk=job_id)
