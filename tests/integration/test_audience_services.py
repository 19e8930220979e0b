"""Audience services on the real database: merging counts, selectors, the demo seed, re-queueing."""

from __future__ import annotations

import datetime as dt
import logging
import unittest.mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.audience import demo, identity, imports, selectors
from backend.audience.models import Fan, FanImport, FanPool, PoolMembership
from tests.factories import FanPoolFactory, MerchantFactory, PoolMembershipFactory

pytestmark = pytest.mark.django_db

# A small universe so that duplicates are common; "bad" cells exercise each bad-row reason.
PHONES = [f"+86 139 3000 {n:04d}" for n in range(8)] + ["+86 139 3000 0001".replace(" ", "-")]
BAD_CELLS = ["", "12", "+86 1x9", "   "]
row = st.one_of(
    st.tuples(st.sampled_from(PHONES), st.sampled_from(["2026-03-01", "2026-03-01T08:00:00+08:00"])),
    st.tuples(st.sampled_from(BAD_CELLS), st.just("2026-03-01")),
    st.tuples(st.sampled_from(PHONES), st.sampled_from(["", "2099-01-01", "soon"])),
)


def _create(merchant, pool, text: str) -> FanImport:
    with unittest.mock.patch.object(imports, "enqueue_fan_import"):
        return imports.fan_import_create(merchant=merchant, pool=pool, chunks=[text.encode()])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, min_size=1, max_size=40), chunk_rows=st.integers(min_value=1, max_value=7))
def test_every_row_is_added_duplicate_or_bad(rows, chunk_rows):
    pool = FanPoolFactory()
    text = "phone,consented_at\n" + "".join(f"{phone},{when}\n" for phone, when in rows)
    fan_import = _create(pool.merchant, pool, text)
    imports.fan_import_run(import_id=fan_import.pk, chunk_rows=chunk_rows)
    fan_import.refresh_from_db()
    assert fan_import.status == "succeeded"
    assert (
        fan_import.total_rows == len(rows) == fan_import.added + fan_import.duplicates + fan_import.bad_count
    )
    assert fan_import.bad_count == len(fan_import.bad_rows)
    assert pool.memberships.count() == fan_import.added
    good_keys = set()
    for phone, when in rows:
        try:
            key = identity.phone_identity(phone).fan_key
        except identity.InvalidIdentity:
            continue
        if when.startswith("2026"):
            good_keys.add(key)
    assert fan_import.added == len(good_keys)


def test_import_logs_hold_no_raw_identifiers(caplog):
    pool = FanPoolFactory()
    text = "phone,open_id,platform,consented_at\n+86 138 0013 8000,,,2026-01-01\n"
    text += "+86 138 00x3 8001,,,2026-01-01\n,oSecret42,wechat,2026-01-01\n"
    with caplog.at_level(logging.DEBUG):
        fan_import = _create(pool.merchant, pool, text)
        imports.fan_import_run(import_id=fan_import.pk)
    fan_import.refresh_from_db()
    assert (fan_import.added, fan_import.bad_count) == (2, 1)
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    # Whole identifiers only: a bare "0013" also turns up inside thread ids and timestamps.
    for raw in ("13800138000", "8613800138000", "0013 8000", "00x3", "oSecret42"):
        assert raw not in logged
        assert raw not in str(fan_import.bad_rows)


def test_selectors_for_the_campaigns_app():
    pool = FanPoolFactory(is_listed=True)
    hidden = FanPoolFactory(is_listed=False)
    kept = PoolMembershipFactory(pool=pool)
    gone = PoolMembershipFactory(pool=pool, consent_withdrawn_at=dt.datetime.now(dt.UTC))
    assert list(selectors.consenting_member_fan_ids(pool=pool)) == [kept.fan_id]
    assert gone.fan_id not in set(selectors.consenting_member_fan_ids(pool=pool).iterator(chunk_size=100))
    assert selectors.pool_for_owner(merchant=pool.merchant, pool_id=pool.pk) == pool
    assert selectors.pool_for_owner(merchant=MerchantFactory(), pool_id=pool.pk) is None
    assert selectors.pool_for_owner(merchant=pool.merchant, pool_id=None) is None
    assert selectors.listed_pool(pool_id=pool.pk) == pool
    assert selectors.listed_pool(pool_id=hidden.pk) is None
    assert selectors.listed_pool(pool_id=None) is None


def test_demo_seed_is_idempotent():
    assert demo.seed()[0].startswith("Demo audience: merchant")  # no merchant yet: says so, no crash
    MerchantFactory(slug="mochi-cartoon", name="Mochi Cartoon")
    first = demo.seed()
    second = demo.seed()
    pool = FanPool.objects.get(merchant__slug="mochi-cartoon", name="Mochi Fans")
    assert pool.is_listed and "cartoon" in pool.categories
    assert pool.memberships.count() == 200 == selectors.consenting_member_fan_ids(pool=pool).count()
    assert first == second and "200" in first[0]


def test_stalled_pending_imports_are_enqueued_again():
    pool = FanPoolFactory()
    fan_import = _create(pool.merchant, pool, "phone,consented_at\n+8613800000001,2026-01-01\n")
    with unittest.mock.patch.object(imports, "enqueue_fan_import") as enqueue:
        assert imports.requeue_stalled() == 0
        FanImport.objects.filter(pk=fan_import.pk).update(
            created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        )
        assert imports.requeue_stalled() == 1
    enqueue.assert_called_once_with(fan_import.pk)
    imports.fan_import_run(import_id=fan_import.pk)
    assert imports.requeue_stalled() == 0


def test_enqueue_failure_does_not_fail_the_upload():
    with unittest.mock.patch(
        "backend.audience.tasks.run_fan_import.delay", side_effect=ConnectionError("down")
    ):
        imports.enqueue_fan_import(12345)  # logged, not raised


def test_withdrawn_fans_are_not_resurrected_by_an_old_list():
    pool = FanPoolFactory()
    key = identity.phone_identity("+8613800000009")
    fan = Fan.objects.create(fan_key=key.fan_key, kind=key.kind)
    PoolMembership.objects.create(
        pool=pool,
        fan=fan,
        consented_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        consent_withdrawn_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
    )
    fan_import = _create(pool.merchant, pool, "phone,consented_at\n+8613800000009,2026-01-15\n")
    imports.fan_import_run(import_id=fan_import.pk)
    fan_import.refresh_from_db()
    assert (fan_import.added, fan_import.duplicates) == (0, 1)
    assert selectors.consenting_member_fan_ids(pool=pool).count() == 0


def test_admin_pages_render_without_raw_identifiers(admin_client):
    pool = FanPoolFactory()
    PoolMembershipFactory(pool=pool)
    fan_import = _create(pool.merchant, pool, "phone,consented_at\n+8613800000001,2026-01-01\n")
    imports.fan_import_run(import_id=fan_import.pk)
    for name in ("fan", "fanpool", "poolmembership", "fanimport"):
        response = admin_client.get(f"/admin/audience/{name}/")
        assert response.status_code == 200, name
        assert b"13800000001" not in response.content
    assert admin_client.get(f"/admin/audience/fanimport/{fan_import.pk}/change/").status_code == 200
