"""CSV imports: through the upload endpoint and a real Celery worker, and the run's idempotency."""

from __future__ import annotations

import logging
import unittest.mock
from pathlib import Path

import pandas as pd
import pytest
import requests
from django.conf import settings
from django.db import connection

from backend.api import ids
from backend.audience import identity, imports
from backend.audience.models import Fan, FanImport, PoolMembership
from backend.audience.tasks import run_fan_import
from tests.conftest import wait_for
from tests.factories import FanPoolFactory, MerchantFactory, make_api_key

RAW_PHONE = "+86 138 0013 8000"
RAW_DIGITS = "8613800138000"
CONSENT = "2026-01-05T10:00:00+08:00"

# Rows 1-10 (1 = first data row). Good: 1, 2, 5, 9 (9 is an open id). Duplicates: 3 (same
# number as 1, other format), 7 (already a member before the import), 10 (same open id as 9).
# Bad: 4 (malformed phone), 6 (empty id), 8 (bad consent date).
MIXED_CSV = (
    "phone,open_id,platform,consented_at,source\n"
    f"{RAW_PHONE},,,{CONSENT},shop\n"  # 1 good
    "+86 139 0000 0002,,,2026-01-06,\n"  # 2 good (date only, read as UTC)
    f"0086-138-0013-8000,,,{CONSENT},\n"  # 3 duplicate of 1
    "+86 138 00x3 8001,,,2026-01-06,\n"  # 4 bad phone
    "+44 20 7946 0958,,,2026-01-07T09:00:00Z,\n"  # 5 good
    ",,,2026-01-07,\n"  # 6 empty id
    "+86 139 0000 0007,,,2026-01-07,\n"  # 7 duplicate of an existing member
    "+86 139 0000 0008,,,not-a-date,\n"  # 8 bad consent date
    ",oAbC123,WeChat,2026-01-08,\n"  # 9 good open id
    ",  oAbC123 ,wechat,2026-01-08,\n"  # 10 duplicate of 9
)


def upload(client, pool_id: str, body: bytes, key: str | None, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    return client.post(f"/imports/fans/{pool_id}", data=body, content_type="text/csv", **headers, **extra)


def database_text() -> str:
    """Every row of the audience tables as text, to look for raw identifiers."""
    with connection.cursor() as cursor:
        chunks = []
        for table in ("audience_fan", "audience_poolmembership", "audience_fanimport", "audience_fanpool"):
            cursor.execute(f"SELECT t::text FROM {table} t")  # noqa: S608 (fixed table names)
            chunks += [row[0] for row in cursor.fetchall()]
    return "\n".join(chunks)


def assert_no_raw_phone(text: str) -> None:
    compact = text.replace(" ", "").replace("-", "")
    for raw in (RAW_DIGITS, "13800138000", "2079460958", "oAbC123"):
        assert raw not in compact


def test_csv_import_through_upload_and_real_worker(live_server, celery_worker_process, caplog):
    """Over a real socket: upload, the worker imports, GraphQL reports; counts add up."""
    merchant = MerchantFactory()
    key = make_api_key(merchant, "brand")
    pool = FanPoolFactory(merchant=merchant)
    existing = identity.phone_identity("+8613900000007")
    PoolMembership.objects.create(
        pool=pool,
        fan=Fan.objects.create(fan_key=existing.fan_key, kind=existing.kind),
        consented_at="2026-01-01T00:00Z",
    )
    pool_id = ids.encode("FanPool", pool.pk)

    with caplog.at_level(logging.DEBUG):
        response = requests.post(
            f"{live_server.url}/imports/fans/{pool_id}",
            data=MIXED_CSV.encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"},
            timeout=30,
        )
    assert response.status_code == 202, response.content
    assert response.json()["fanImport"]["status"] == "PENDING"
    import_id = response.json()["fanImport"]["id"]
    pk = ids.decode("FanImport", import_id)

    done = wait_for(lambda: FanImport.objects.filter(pk=pk, status="succeeded").first(), timeout=60)
    assert (done.total_rows, done.processed_rows) == (10, 10)
    assert (done.added, done.duplicates, done.bad_count) == (4, 3, 3)
    assert done.total_rows == done.added + done.duplicates + done.bad_count
    assert [(b["row"], b["field"], b["code"]) for b in done.bad_rows] == [
        (4, "phone", "INVALID_PHONE"),
        (6, "phone", "REQUIRED"),
        (8, "consentedAt", "INVALID_CONSENT_DATE"),
    ]
    assert all(b["reason"] for b in done.bad_rows)
    assert pool.memberships.count() == 5
    wechat = identity.open_id_identity("oAbC123", "wechat").fan_key
    assert pool.memberships.filter(fan__fan_key=wechat).exists()
    assert pool.memberships.get(fan__fan_key=identity.phone_identity(RAW_PHONE).fan_key).source == "shop"

    # The raw numbers are nowhere in the database, the logs, or left on disk.
    assert_no_raw_phone(database_text())
    assert_no_raw_phone(caplog.text)
    assert not (Path(settings.MEDIA_ROOT) / done.file_path).exists()

    # The result is readable over GraphQL.
    from tests.client import ApiClient
    from tests.conftest import load_operation

    api = ApiClient(base_url=live_server.url)
    data = api.execute(load_operation("audience_fan_import"), {"id": import_id}, key=key).ok()["fanImport"]
    assert (data["status"], data["added"], data["duplicates"], data["badCount"]) == ("SUCCEEDED", 4, 3, 3)
    assert [r["row"] for r in data["badRows"]] == [4, 6, 8] and data["badRowsTruncated"] is False
    listed = api.execute(load_operation("audience_fan_imports"), {"poolId": pool_id}, key=key).ok()
    assert [e["node"]["id"] for e in listed["fanImports"]["edges"]] == [import_id]
    other = make_api_key(MerchantFactory(), "admin")
    assert api.execute(load_operation("audience_fan_import"), {"id": import_id}, key=other).ok() == {
        "fanImport": None
    }

    # Re-running the finished import (a redelivered message) changes nothing.
    run_fan_import.delay(pk)
    run_fan_import(pk)
    done.refresh_from_db()
    assert (done.added, done.duplicates, done.bad_count, done.status) == (4, 3, 3, "succeeded")
    assert pool.memberships.count() == 5


@pytest.mark.django_db(transaction=True)
def test_multipart_upload_is_accepted(client, celery_worker_process):
    merchant = MerchantFactory()
    key = make_api_key(merchant, "admin")
    pool = FanPoolFactory(merchant=merchant)
    from django.core.files.uploadedfile import SimpleUploadedFile

    csv_file = SimpleUploadedFile("fans.csv", b"phone,consented_at\n+8613800000001,2026-01-01\n", "text/csv")
    response = client.post(
        f"/imports/fans/{ids.encode('FanPool', pool.pk)}",
        {"file": csv_file},
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 202, response.content
    pk = ids.decode("FanImport", response.json()["fanImport"]["id"])
    done = wait_for(lambda: FanImport.objects.filter(pk=pk, status="succeeded").first(), timeout=60)
    assert (done.added, done.total_rows) == (1, 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "body", "status", "code"),
    [
        ("finance", b"phone,consented_at\n+8613800000001,2026-01-01\n", 403, "FORBIDDEN"),
        ("brand", b"", 400, "EMPTY_FILE"),
        ("brand", b"phone,consented_at\n", 400, "EMPTY_FILE"),
        ("brand", b"name,email\nx,y\n", 400, "MISSING_COLUMNS"),
        ("brand", b"open_id,consented_at\nabc,2026-01-01\n", 400, "MISSING_COLUMNS"),
        ("brand", b"phone\n+8613800000001\n", 400, "MISSING_COLUMNS"),
        ("brand", b"\xff\xfe\x00garbage\n\x00\x01\n", 400, "MISSING_COLUMNS"),
    ],
)
def test_upload_errors_are_typed_json(client, role, body, status, code):
    merchant = MerchantFactory()
    pool = FanPoolFactory(merchant=merchant)
    response = upload(client, ids.encode("FanPool", pool.pk), body, make_api_key(merchant, role))
    assert response.status_code == status
    assert response.json()["errors"][0]["code"] == code
    assert not FanImport.objects.exists()


@pytest.mark.django_db
def test_upload_auth_tenant_and_method_errors(client):
    merchant = MerchantFactory()
    pool = FanPoolFactory(merchant=merchant)
    pool_id = ids.encode("FanPool", pool.pk)
    body = b"phone,consented_at\n+8613800000001,2026-01-01\n"
    assert upload(client, pool_id, body, None).status_code == 401
    bad = upload(client, pool_id, body, "cn_nope_nope")
    assert (bad.status_code, bad.json()["errors"][0]["code"]) == (401, "UNAUTHENTICATED")
    stranger = make_api_key(MerchantFactory(), "admin")
    for target in (pool_id, "not-a-global-id", ids.encode("Store", pool.pk)):
        response = upload(client, target, body, stranger)
        assert (response.status_code, response.json()["errors"][0]["code"]) == (404, "NOT_FOUND")
    response = client.get(f"/imports/fans/{pool_id}", HTTP_AUTHORIZATION=f"Bearer {stranger}")
    assert (response.status_code, response.json()["errors"][0]["code"]) == (405, "METHOD_NOT_ALLOWED")
    too_big = upload(client, pool_id, body, make_api_key(merchant, "brand"), CONTENT_LENGTH=str(10**10))
    assert (too_big.status_code, too_big.json()["errors"][0]["code"]) == (413, "FILE_TOO_LARGE")
    assert not FanImport.objects.exists()


def _import_from(merchant, pool, text: str) -> FanImport:
    # Broker publishing is not under test here: the run is called directly below.
    with unittest.mock.patch.object(imports, "enqueue_fan_import"):
        return imports.fan_import_create(merchant=merchant, pool=pool, chunks=[text.encode()])


@pytest.mark.django_db
def test_chunked_run_across_chunk_boundaries_and_edge_rows():
    merchant = MerchantFactory()
    pool = FanPoolFactory(merchant=merchant)
    rows = ["+86 139 1000 0200,2026-02-01,extra,more"]  # 1: too many fields, even as the first row
    rows += [f"+86 139 1000 {n:04d},2026-02-01" for n in range(7)]
    rows += ["+86 139 1000 0001,2026-02-01"]  # 9: duplicate of row 3, in a later chunk
    rows += [""]  # 10: a blank line is a bad row, not a lost one
    rows += ["+86 139 1000 0100,2026-02-01,extra"]  # 11: more fields than the header
    rows += ['"+86 139 1000 0101",2026-02-01']  # 12: quoted, good
    fan_import = _import_from(merchant, pool, "Phone Number,Consent Time\n" + "\n".join(rows) + "\n")
    imports.fan_import_run(import_id=fan_import.pk, chunk_rows=3)
    fan_import.refresh_from_db()
    assert fan_import.status == "succeeded", fan_import.error
    counts = (fan_import.total_rows, fan_import.added, fan_import.duplicates, fan_import.bad_count)
    assert counts == (12, 8, 1, 3)
    assert [(b["row"], b["code"]) for b in fan_import.bad_rows] == [
        (1, "WRONG_FIELD_COUNT"),
        (10, "REQUIRED"),
        (11, "WRONG_FIELD_COUNT"),
    ]


@pytest.mark.django_db
def test_redelivered_running_import_resumes_without_double_counting():
    merchant = MerchantFactory()
    pool = FanPoolFactory(merchant=merchant)
    rows = [f"+86 139 2000 {n:04d},2026-02-01" for n in range(10)] + ["bad,2026-02-01"]
    text = "phone,consented_at\n" + "\n".join(rows) + "\n"
    fan_import = _import_from(merchant, pool, text)
    # A worker died after committing the first two chunks (rows 1-4): the import is 'running'.
    original = imports._apply_chunk
    calls = {"n": 0}

    def dying_apply(**kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("worker lost")
        return original(**kwargs)

    with unittest.mock.patch.object(imports, "_apply_chunk", dying_apply), pytest.raises(SystemExit):
        imports.fan_import_run(import_id=fan_import.pk, chunk_rows=2)
    fan_import.refresh_from_db()
    assert (fan_import.status, fan_import.processed_rows, fan_import.added) == ("running", 4, 4)
    # Redelivered with a different chunk size, then once more after finishing.
    imports.fan_import_run(import_id=fan_import.pk, chunk_rows=3)
    imports.fan_import_run(import_id=fan_import.pk, chunk_rows=3)
    fan_import.refresh_from_db()
    assert fan_import.status == "succeeded"
    assert (fan_import.total_rows, fan_import.added, fan_import.duplicates, fan_import.bad_count) == (
        11,
        10,
        0,
        1,
    )
    assert pool.memberships.count() == 10
    # Re-applying an already applied chunk (a concurrent run) is a no-op too.
    FanImport.objects.filter(pk=fan_import.pk).update(status="running", processed_rows=4)
    assert imports._apply_chunk(
        import_id=fan_import.pk,
        start=0,
        frame=pd.DataFrame({"phone": ["+8613920000000"] * 2}),
    )
    fan_import.refresh_from_db()
    assert (fan_import.added, fan_import.processed_rows) == (10, 4)


@pytest.mark.django_db
def test_import_of_a_missing_file_fails_cleanly():
    merchant = MerchantFactory()
    pool = FanPoolFactory(merchant=merchant)
    fan_import = _import_from(merchant, pool, "phone,consented_at\n+8613800000001,2026-01-01\n")
    imports.import_path(fan_import).unlink()
    imports.fan_import_run(import_id=fan_import.pk)
    fan_import.refresh_from_db()
    assert fan_import.status == "failed" and "no longer available" in fan_import.error


@pytest.mark.django_db
def test_bad_row_details_are_capped_but_counted(monkeypatch):
    monkeypatch.setattr(imports, "BAD_ROWS_DETAIL_MAX", 5)
    merchant = MerchantFactory()
    pool = FanPoolFactory(merchant=merchant)
    fan_import = _import_from(merchant, pool, "phone,consented_at\n" + "x,2026-01-01\n" * 12)
    imports.fan_import_run(import_id=fan_import.pk, chunk_rows=4)
    fan_import.refresh_from_db()
    assert (fan_import.bad_count, len(fan_import.bad_rows), fan_import.total_rows) == (12, 5, 12)


@pytest.mark.django_db
def test_fan_import_create_mutation_for_small_files(api, operation, django_capture_on_commit_callbacks):
    merchant = MerchantFactory()
    pool_id = ids.encode("FanPool", FanPoolFactory(merchant=merchant).pk)
    key = make_api_key(merchant, "brand")
    with (
        unittest.mock.patch.object(imports, "enqueue_fan_import") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        ok = api.execute(
            operation("audience_fan_import_create"),
            {"poolId": pool_id, "csv": "phone,consented_at\n+8613800000001,2026-01-01\n"},
            key=key,
        ).ok()["fanImportCreate"]
    assert ok["errors"] == [] and ok["fanImport"]["status"] == "PENDING"
    assert enqueue.call_count == 1
    for csv_text, code in [
        ("", "EMPTY_FILE"),
        ("a,b\n1,2\n", "MISSING_COLUMNS"),
        ("phone,consented_at\n" + "+8613800000001,2026-01-01\n" * 50000, "TOO_LONG"),
    ]:
        result = api.execute(
            operation("audience_fan_import_create"), {"poolId": pool_id, "csv": csv_text}, key=key
        ).ok()["fanImportCreate"]
        assert {(e["field"], e["code"]) for e in result["errors"]} == {("csv", code)}
    finance = make_api_key(merchant, "finance")
    denied = api.execute(
        operation("audience_fan_import_create"), {"poolId": pool_id, "csv": "x"}, key=finance
    )
    assert denied.error_codes == ["FORBIDDEN"]


@pytest.mark.slow
@pytest.mark.django_db
def test_large_import_throughput(capsys):
    """50k rows (1% bad, 2% repeated) in 5k-row chunks: counts add up; prints rows per second."""
    import time

    merchant = MerchantFactory()
    pool = FanPoolFactory(merchant=merchant)
    lines = ["phone,consented_at"]
    for n in range(50_000):
        if n % 100 == 0:
            lines.append(f"+86 1x9 {n},2026-01-01")
        elif n % 50 == 1:
            lines.append(f"+86 150 {n - 1:08d},2026-01-01")
        else:
            lines.append(f"+86 150 {n:08d},2026-01-01")
    fan_import = _import_from(merchant, pool, "\n".join(lines) + "\n")
    started = time.perf_counter()
    imports.fan_import_run(import_id=fan_import.pk)
    elapsed = time.perf_counter() - started
    fan_import.refresh_from_db()
    assert fan_import.status == "succeeded"
    assert fan_import.total_rows == 50_000 == fan_import.added + fan_import.duplicates + fan_import.bad_count
    assert fan_import.bad_count == 500
    with capsys.disabled():
        print(f"\nfan import: 50000 rows in {elapsed:.1f} s ({50_000 / elapsed:.0f} rows/s)")


@pytest.mark.django_db
def test_broken_multipart_and_missing_file_field_are_typed_errors(client):
    merchant = MerchantFactory()
    pool_id = ids.encode("FanPool", FanPoolFactory(merchant=merchant).pk)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {make_api_key(merchant, 'brand')}"}
    broken = client.post(
        f"/imports/fans/{pool_id}", data=b"--x\r\nnonsense", content_type="multipart/form-data", **headers
    )
    assert broken.status_code == 400 and broken.json()["errors"][0]["code"] in ("INVALID", "REQUIRED")
    no_file = client.post(f"/imports/fans/{pool_id}", {"other": "x"}, **headers)
    assert (no_file.status_code, no_file.json()["errors"][0]) == (
        400,
        {"code": "REQUIRED", "field": "file", "message": "Send the CSV file in the multipart field 'file'."},
    )
    assert not FanImport.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_imports_and_a_concurrent_redelivery_count_each_row_once():
    """Two overlapping imports into one pool, plus a second run of one of them, all at once."""
    import threading

    from django.db import connections

    merchant = MerchantFactory()
    pool = FanPoolFactory(merchant=merchant)
    shared = [f"+86 151 {n:08d},2026-01-01" for n in range(3000)]
    first = _import_from(merchant, pool, "phone,consented_at\n" + "\n".join(shared[:2000]) + "\n")
    second = _import_from(merchant, pool, "phone,consented_at\n" + "\n".join(shared[1000:]) + "\n")
    failures: list[BaseException] = []

    def run(import_id: int, chunk_rows: int) -> None:
        try:
            imports.fan_import_run(import_id=import_id, chunk_rows=chunk_rows)
        except BaseException as exc:  # surfaced below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(first.pk, 250)),
        threading.Thread(target=run, args=(first.pk, 400)),  # a redelivered message, concurrently
        threading.Thread(target=run, args=(second.pk, 300)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("succeeded", "succeeded")
    assert first.total_rows == 2000 == first.added + first.duplicates
    assert second.total_rows == 2000 == second.added + second.duplicates
    assert first.added + second.added == 3000 == pool.memberships.count()
    assert first.duplicates + second.duplicates == 1000
    assert Fan.objects.filter(memberships__pool=pool).count() == 3000


@pytest.mark.django_db
def test_csv_external_ref_column_is_kept_per_membership():
    from backend.audience.models import PoolMembership

    merchant = MerchantFactory()
    pool = FanPoolFactory(merchant=merchant)
    text = (
        "phone,consented_at,External Ref\n+86 139 2000 0001,2026-02-01,crm-1\n+86 139 2000 0002,2026-02-01,\n"
    )
    fan_import = _import_from(merchant, pool, text)
    imports.fan_import_run(import_id=fan_import.pk, chunk_rows=10)
    fan_import.refresh_from_db()
    assert fan_import.status == "succeeded" and fan_import.added == 2, fan_import.error
    refs = set(PoolMembership.objects.filter(pool=pool).values_list("external_ref", flat=True))
    assert refs == {"crm-1", None}
