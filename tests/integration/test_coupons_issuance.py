"""Bulk issuance on the real database: exactly once, within quota, collisions topped up."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from backend.api.errors import ServiceError
from backend.audience.models import Fan, PoolMembership
from backend.campaigns.models import Placement
from backend.coupons import codes, issuance, services, tasks
from backend.coupons.models import Coupon, IssuanceChunk, IssuanceJob
from tests.factories import CouponFactory, FanFactory, PlacementFactory, active_campaign, pool_with_fans

pytestmark = pytest.mark.django_db


def _bulk_pool(n: int, **pool_kwargs):
    """A pool of ``n`` consenting fans, created in bulk (factories are too slow for thousands)."""
    pool = pool_with_fans(0, **pool_kwargs)
    start = Fan.objects.count()
    fans = Fan.objects.bulk_create(Fan(fan_key=f"bulk-{pool.pk}-{start + i}", kind="phone") for i in range(n))
    now = timezone.now()
    PoolMembership.objects.bulk_create(PoolMembership(pool=pool, fan=f, consented_at=now) for f in fans)
    return pool


def _placement(pool, *, quota=10_000, **campaign_kwargs) -> Placement:
    campaign = active_campaign(valid_days_after_issue=30, **campaign_kwargs)
    return PlacementFactory(campaign=campaign, pool=pool, quota=quota)


def _job(placement, fan_ids=None) -> IssuanceJob:
    return IssuanceJob.objects.create(placement=placement, requested_by=placement.publisher, fan_ids=fan_ids)


def test_whole_pool_gets_one_coupon_each_in_chunks(settings):
    settings.COUPON_ISSUANCE_CHUNK_SIZE = 7
    pool = _bulk_pool(30)
    placement = _placement(pool)
    job = issuance.run_job_inline(job_id=_job(placement).pk)
    assert job.status == IssuanceJob.Status.SUCCEEDED
    assert (job.total, job.issued, job.chunk_count, job.chunks_done) == (30, 30, 5, 5)
    coupons = Coupon.objects.filter(placement=placement)
    assert coupons.count() == 30
    assert set(coupons.values_list("fan_id", flat=True)) == set(
        pool.memberships.values_list("fan_id", flat=True)
    )
    assert all(codes.is_well_formed(c) for c in coupons.values_list("code", flat=True))
    placement.refresh_from_db()
    assert placement.issued_count == 30


def test_withdrawn_consent_gets_nothing():
    pool = _bulk_pool(5)
    withdrawn = pool.memberships.order_by("id").first()
    withdrawn.consent_withdrawn_at = timezone.now()
    withdrawn.save(update_fields=["consent_withdrawn_at"])
    placement = _placement(pool)
    issuance.run_job_inline(job_id=_job(placement).pk)
    assert not Coupon.objects.filter(placement=placement, fan_id=withdrawn.fan_id).exists()
    assert Coupon.objects.filter(placement=placement).count() == 4


def test_quota_caps_issuance_across_jobs(settings):
    settings.COUPON_ISSUANCE_CHUNK_SIZE = 4
    pool = _bulk_pool(20)
    placement = _placement(pool, quota=9)
    job = issuance.run_job_inline(job_id=_job(placement).pk)
    assert (job.total, job.issued) == (9, 9)
    second = issuance.run_job_inline(job_id=_job(placement).pk)
    assert second.issued == 0 and second.status == IssuanceJob.Status.SUCCEEDED
    assert Coupon.objects.filter(placement=placement).count() == 9


def test_rerun_and_redelivered_chunk_issue_nothing_twice(settings):
    settings.COUPON_ISSUANCE_CHUNK_SIZE = 5
    pool = _bulk_pool(12)
    placement = _placement(pool)
    job = _job(placement)
    chunk_ids = issuance.plan_job(job_id=job.pk)
    assert len(chunk_ids) == 3
    assert issuance.plan_job(job_id=job.pk) == chunk_ids  # planning twice is the same plan
    first = issuance.issue_chunk(chunk_id=chunk_ids[0])
    assert first == 5
    # A redelivered chunk task (same chunk again), through the task function itself.
    assert tasks.issue_chunk(chunk_ids[0]) == 0
    assert tasks.run_issuance_job.run(job.pk) == 2  # re-running the job re-drives only the rest
    for chunk_id in chunk_ids:
        tasks.issue_chunk(chunk_id)
        tasks.issue_chunk(chunk_id)
    job.refresh_from_db()
    assert (job.issued, job.status) == (12, IssuanceJob.Status.SUCCEEDED)
    assert Coupon.objects.filter(placement=placement).count() == 12
    # A whole new job for the same placement finds every fan served.
    again = issuance.run_job_inline(job_id=_job(placement).pk)
    assert again.issued == 0
    placement.refresh_from_db()
    assert placement.issued_count == 12


def test_chunk_done_mark_is_set_with_the_coupons():
    pool = _bulk_pool(3)
    placement = _placement(pool)
    job = _job(placement)
    (chunk_id,) = issuance.plan_job(job_id=job.pk)
    issuance.issue_chunk(chunk_id=chunk_id)
    chunk = IssuanceChunk.objects.get(pk=chunk_id)
    assert chunk.done_at is not None and chunk.issued == 3


def test_coupons_per_fan_issues_each_ordinal_once():
    pool = _bulk_pool(4)
    placement = _placement(pool, coupons_per_fan=3)
    job = issuance.run_job_inline(job_id=_job(placement).pk)
    assert job.issued == 12
    assert sorted(
        Coupon.objects.filter(placement=placement).values_list("ordinal", flat=True).distinct()
    ) == [1, 2, 3]
    assert issuance.run_job_inline(job_id=_job(placement).pk).issued == 0


def test_listed_fans_only():
    pool = _bulk_pool(6)
    placement = _placement(pool)
    chosen = list(pool.memberships.order_by("fan_id").values_list("fan_id", flat=True)[:2])
    job = issuance.run_job_inline(job_id=_job(placement, fan_ids=chosen).pk)
    assert job.issued == 2
    assert set(Coupon.objects.filter(placement=placement).values_list("fan_id", flat=True)) == set(chosen)


def test_code_collisions_are_topped_up(monkeypatch, settings):
    """With a body of 2 symbols there are only 2**11 = 2048 codes: most first tries collide."""
    settings.COUPON_ISSUANCE_CHUNK_SIZE = 400
    monkeypatch.setattr(issuance, "CODE_BODY_SYMBOLS", 2)
    monkeypatch.setattr(issuance, "MAX_TOP_UP_ROUNDS", 200)
    pool = _bulk_pool(1200)
    placement = _placement(pool)
    calls = []
    real_new_codes = codes.new_codes

    def counting(count, **kwargs):
        calls.append(count)
        return real_new_codes(count, **kwargs)

    monkeypatch.setattr(codes, "new_codes", counting)
    job = issuance.run_job_inline(job_id=_job(placement).pk)
    assert (job.issued, job.status) == (1200, IssuanceJob.Status.SUCCEEDED)
    issued_codes = list(Coupon.objects.filter(placement=placement).values_list("code", flat=True))
    assert len(issued_codes) == len(set(issued_codes)) == 1200
    assert all(code[:11].strip("01") == "" for code in issued_codes)
    assert len(calls) > 3  # collisions happened and were topped up
    assert sum(calls) > 1200


def test_exhausted_code_space_fails_the_chunk_and_rolls_back(monkeypatch):
    monkeypatch.setattr(issuance, "CODE_BODY_SYMBOLS", 1)  # exactly one possible code
    monkeypatch.setattr(issuance, "MAX_TOP_UP_ROUNDS", 3)
    pool = _bulk_pool(3)
    placement = _placement(pool)
    job = _job(placement)
    (chunk_id,) = issuance.plan_job(job_id=job.pk)
    with pytest.raises(issuance.CodeSpaceExhausted):
        tasks.issue_chunk(chunk_id)
    job.refresh_from_db()
    assert job.status == IssuanceJob.Status.FAILED and job.error == "A chunk failed (CodeSpaceExhausted)."
    assert Coupon.objects.filter(placement=placement).count() == 0  # the chunk's transaction rolled back
    assert IssuanceChunk.objects.get(pk=chunk_id).done_at is None


def test_validity_days_after_issue_within_campaign_window():
    now = timezone.now()
    pool = _bulk_pool(1)
    campaign = active_campaign(
        valid_from=now - dt.timedelta(days=1),
        valid_until=now + dt.timedelta(days=5),
        valid_days_after_issue=30,
    )
    placement = PlacementFactory(campaign=campaign, pool=pool)
    issuance.run_job_inline(job_id=_job(placement).pk)
    coupon = Coupon.objects.get(placement=placement)
    assert coupon.valid_from == campaign.valid_from
    assert coupon.valid_until == campaign.valid_until  # the window ends before 30 days

    short = issuance.coupon_validity(campaign, now)
    campaign.valid_days_after_issue = 2
    assert issuance.coupon_validity(campaign, now) == (campaign.valid_from, now + dt.timedelta(days=2))
    assert short[1] == campaign.valid_until


def test_paused_campaign_stops_issuance():
    pool = _bulk_pool(3)
    placement = _placement(pool)
    job = _job(placement)
    (chunk_id,) = issuance.plan_job(job_id=job.pk)
    placement.campaign.status = "paused"
    placement.campaign.save(update_fields=["status"])
    issuance.issue_chunk(chunk_id=chunk_id)
    job.refresh_from_db()
    assert job.status == IssuanceJob.Status.FAILED and "paused" in job.error
    assert job.issued == 0


class TestIssuanceStart:
    def test_only_publisher_and_accepted(self, django_capture_on_commit_callbacks):
        pool = _bulk_pool(2)
        placement = _placement(pool)
        with pytest.raises(ServiceError) as exc:
            services.issuance_start(merchant=placement.issuer, placement=placement)
        assert exc.value.errors[0].code == "ONLY_PUBLISHER"
        Placement.objects.filter(pk=placement.pk).update(status=Placement.Status.PROPOSED)
        placement.refresh_from_db()
        with pytest.raises(ServiceError) as exc:
            services.issuance_start(merchant=placement.publisher, placement=placement)
        assert exc.value.errors[0].code == "PLACEMENT_NOT_ACCEPTED"

    def test_fans_must_be_consenting_members(self):
        pool = _bulk_pool(2)
        placement = _placement(pool)
        outsider = FanFactory()
        with pytest.raises(ServiceError) as exc:
            services.issuance_start(merchant=placement.publisher, placement=placement, fan_ids=[outsider.pk])
        assert (exc.value.errors[0].field, exc.value.errors[0].code) == ("fan_ids", "FAN_NOT_IN_POOL")
        member = pool.memberships.first()
        PoolMembership.objects.filter(pk=member.pk).update(consent_withdrawn_at=timezone.now())
        with pytest.raises(ServiceError) as exc:
            services.issuance_start(
                merchant=placement.publisher, placement=placement, fan_ids=[member.fan_id]
            )
        assert exc.value.errors[0].code == "FAN_NOT_IN_POOL"

    def test_fans_named_by_fan_key(self, django_capture_on_commit_callbacks):
        pool = _bulk_pool(3)
        placement = _placement(pool)
        member = pool.memberships.order_by("id").first()
        with django_capture_on_commit_callbacks(execute=False):
            job = services.issuance_start(
                merchant=placement.publisher, placement=placement, fan_keys=[member.fan.fan_key]
            )
        assert job.fan_ids == [member.fan_id]
        assert issuance.run_job_inline(job_id=job.pk).issued == 1
        with pytest.raises(ServiceError) as exc:
            services.issuance_start(merchant=placement.publisher, placement=placement, fan_keys=["unknown"])
        assert exc.value.errors[0].code == "FAN_NOT_IN_POOL"

    def test_quota_reached(self):
        pool = _bulk_pool(2)
        placement = _placement(pool, quota=1)
        issuance.run_job_inline(job_id=_job(placement).pk)
        placement.refresh_from_db()
        with pytest.raises(ServiceError) as exc:
            services.issuance_start(merchant=placement.publisher, placement=placement)
        assert exc.value.errors[0].code == "QUOTA_REACHED"

    def test_enqueues_after_commit(self, django_capture_on_commit_callbacks, monkeypatch):
        sent = []
        monkeypatch.setattr(tasks.run_issuance_job, "delay", lambda job_id: sent.append(job_id))
        pool = _bulk_pool(2)
        placement = _placement(pool)
        with django_capture_on_commit_callbacks(execute=True):
            job = services.issuance_start(merchant=placement.publisher, placement=placement)
        assert sent == [job.pk]


def test_sweeper_redrives_only_stalled_jobs(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.run_issuance_job, "delay", lambda job_id: sent.append(job_id))
    pool = _bulk_pool(2)
    placement = _placement(pool)
    old = timezone.now() - dt.timedelta(hours=1)
    lost_start = _job(placement)
    IssuanceJob.objects.filter(pk=lost_start.pk).update(created_at=old)
    fresh = _job(placement)
    silent = _job(placement)
    IssuanceJob.objects.filter(pk=silent.pk).update(status="running", started_at=old, progressed_at=old)
    busy = _job(placement)
    IssuanceJob.objects.filter(pk=busy.pk).update(
        status="running", started_at=old, progressed_at=timezone.now()
    )
    done = _job(placement)
    IssuanceJob.objects.filter(pk=done.pk).update(status="succeeded", created_at=old)
    assert tasks.sweep_issuance_jobs() == 2
    assert sorted(sent) == sorted([lost_start.pk, silent.pk])
    assert fresh.pk not in sent and busy.pk not in sent and done.pk not in sent
    # Re-driving: the stalled jobs are planned once and their chunks enqueued, then run once.
    chunks = []
    monkeypatch.setattr(tasks.issue_chunk, "delay", lambda chunk_id: chunks.append(chunk_id))
    for job_id in sent * 2:
        tasks.run_issuance_job.run(job_id)
    for chunk_id in chunks:
        tasks.issue_chunk.run(chunk_id)
    assert Coupon.objects.filter(placement=placement).count() == 2


def test_a_long_job_that_keeps_finishing_chunks_is_not_redriven(settings, monkeypatch):
    # The job started long ago but its chunks keep finishing: the sweeper must leave it alone.
    sent = []
    monkeypatch.setattr(tasks.run_issuance_job, "delay", lambda job_id: sent.append(job_id))
    settings.COUPON_ISSUANCE_CHUNK_SIZE = 2
    placement = _placement(_bulk_pool(6))
    job = _job(placement)
    chunk_ids = issuance.plan_job(job_id=job.pk)
    assert len(chunk_ids) == 3
    long_ago = timezone.now() - dt.timedelta(hours=1)
    IssuanceJob.objects.filter(pk=job.pk).update(started_at=long_ago, created_at=long_ago)
    before = timezone.now()
    issuance.issue_chunk(chunk_id=chunk_ids[0])
    job.refresh_from_db()
    assert job.status == IssuanceJob.Status.RUNNING and job.chunks_done == 1
    assert job.progressed_at is not None and job.progressed_at >= before
    assert tasks.sweep_issuance_jobs() == 0 and sent == []
    # Once it falls silent for longer than the sweeper's patience, it is re-driven.
    IssuanceJob.objects.filter(pk=job.pk).update(progressed_at=long_ago)
    assert tasks.sweep_issuance_jobs() == 1 and sent == [job.pk]


def test_an_empty_pool_finishes_at_once():
    placement = _placement(_bulk_pool(0))
    job = issuance.run_job_inline(job_id=_job(placement).pk)
    assert (job.status, job.total, job.issued, job.chunk_count) == ("succeeded", 0, 0, 0)
    assert job.finished_at is not None


def test_one_colliding_code_rolls_back_the_fast_path_and_is_topped_up(monkeypatch):
    """The first batch reuses a code already issued elsewhere: the straight COPY fails as a
    whole, the staging path inserts the others, and the one left without a code gets a new one."""
    taken = CouponFactory().code
    pool = _bulk_pool(5)
    placement = _placement(pool)
    real_new_codes = codes.new_codes
    batches = []

    def first_batch_collides(count, **kwargs):
        batch = real_new_codes(count, **kwargs)
        if len(batches) < 2:  # the fast path's batch and the staging path's first batch
            batch[2] = taken
        batches.append(count)
        return batch

    monkeypatch.setattr(codes, "new_codes", first_batch_collides)
    job = issuance.run_job_inline(job_id=_job(placement).pk)
    assert (job.status, job.issued) == ("succeeded", 5)
    assert batches == [5, 5, 1]  # fast path, staging path, then a top-up of one
    assert Coupon.objects.filter(placement=placement).count() == 5
    assert Coupon.objects.filter(code=taken).count() == 1


# --- yielding to the tills ----------------------------------------------------------------


def test_till_activity_moves_with_every_write_off_verified_or_rejected():
    from tests.factories import pos_setup, redeem

    setup = pos_setup()
    before = issuance.till_activity()
    assert redeem(setup).status == "verified"
    assert redeem(setup, "UNKNOWN-CODE-1").status == "rejected"
    assert issuance.till_activity() - before == 2


def _record_sleeps(monkeypatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(issuance.time, "sleep", slept.append)
    return slept


def test_chunks_yield_while_the_tills_are_busy_but_not_the_last(settings, monkeypatch):
    settings.COUPON_ISSUANCE_CHUNK_SIZE = 7
    settings.COUPON_ISSUANCE_YIELD_AT = 20
    settings.COUPON_ISSUANCE_YIELD_MAX_SECONDS = 0.5
    busy = iter(range(0, 10**9, 10_000))  # 10,000 write-offs between any two readings
    monkeypatch.setattr(issuance, "till_activity", lambda: next(busy))
    slept = _record_sleeps(monkeypatch)
    job = issuance.run_job_inline(job_id=_job(_placement(_bulk_pool(30))).pk)
    assert (job.status, job.issued, job.chunk_count) == (IssuanceJob.Status.SUCCEEDED, 30, 5)
    assert len(slept) == 4  # every chunk but the last
    assert all(0 < s <= 0.5 for s in slept)


def test_chunks_do_not_yield_to_idle_tills_or_when_switched_off(settings, monkeypatch):
    settings.COUPON_ISSUANCE_CHUNK_SIZE = 7
    slept = _record_sleeps(monkeypatch)
    settings.COUPON_ISSUANCE_YIELD_AT = 20
    monkeypatch.setattr(issuance, "till_activity", lambda: 42)  # no write-off meanwhile
    assert issuance.run_job_inline(job_id=_job(_placement(_bulk_pool(30))).pk).issued == 30
    settings.COUPON_ISSUANCE_YIELD_AT = 0
    busy = iter(range(0, 10**9, 10_000))
    monkeypatch.setattr(issuance, "till_activity", lambda: next(busy))
    assert issuance.run_job_inline(job_id=_job(_placement(_bulk_pool(30))).pk).issued == 30
    assert slept == []


@pytest.mark.django_db(transaction=True)
def test_a_yielding_chunk_holds_the_placement_so_the_next_chunk_waits(settings, monkeypatch):
    import threading

    from django.db import OperationalError, connections

    settings.COUPON_ISSUANCE_CHUNK_SIZE = 7
    settings.COUPON_ISSUANCE_YIELD_AT = 1
    busy = iter(range(0, 10**9, 10_000))
    monkeypatch.setattr(issuance, "till_activity", lambda: next(busy))
    placement = _placement(_bulk_pool(14))
    seen: list[str] = []

    def other_chunk_tries_the_placement(_pause: float) -> None:
        def attempt():
            try:
                with transaction.atomic(), connections["default"].cursor() as cursor:
                    cursor.execute(
                        "SELECT id FROM campaigns_placement WHERE id = %s FOR NO KEY UPDATE NOWAIT",
                        [placement.pk],
                    )
                seen.append("got it")
            except OperationalError:
                seen.append("locked")
            finally:
                connections["default"].close()

        t = threading.Thread(target=attempt)
        t.start()
        t.join(30)

    monkeypatch.setattr(issuance.time, "sleep", other_chunk_tries_the_placement)
    job = issuance.run_job_inline(job_id=_job(placement).pk)
    assert (job.issued, job.chunk_count) == (14, 2)
    assert seen == ["locked"]  # one pause (the first chunk's), the placement still locked
