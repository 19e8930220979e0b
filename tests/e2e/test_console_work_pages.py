"""The console's work pages over HTTP: issuance, fan imports, stores and terminals, API keys,
reports and exports, ledger, invoices and the publisher statement.

Each page reads and writes through the API as the signed-in member: what a member of one
merchant sees is only its own, another merchant's ids are "not found", and the secrets of a
new terminal or key are shown once.
"""

from __future__ import annotations

import json
import re

import pytest

from backend.api import ids
from tests.factories import (
    MerchantFactory,
    PlacementFactory,
    StoreFactory,
    active_campaign,
    make_member,
    make_terminal,
    pool_with_fans,
)

pytestmark = pytest.mark.django_db


def signed_in(client, member):
    client.force_login(member.user)
    return client


def html_of(response) -> str:
    return response.content.decode()


def codes_in(html: str) -> list[str]:
    return re.findall(r'data-code="([A-Z_]+)"', html)


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("brand", "/console/issuance/"),
        ("brand", "/console/imports/"),
        ("admin", "/console/stores/"),
        ("admin", "/console/api-keys/"),
        ("finance", "/console/reports/"),
        ("brand", "/console/reports/?dimension=CAMPAIGN"),
        ("finance", "/console/reports/?dimension=PUBLISHER&date_from=2026-01-01&date_to=2026-12-31"),
        ("finance", "/console/reports/?dimension=STORE"),
        ("finance", "/console/reports/exports/"),
        ("finance", "/console/ledger/"),
        ("finance", "/console/ledger/?period=2026-11&state=LOCKED&account=ISSUER_RECEIVABLE"),
        ("finance", "/console/invoices/"),
        ("finance", "/console/statement/"),
        ("finance", "/console/statement/?period=2026-11"),
    ],
)
def test_each_page_opens_for_its_role(client, role, path):
    member = make_member(MerchantFactory(), role)
    page = signed_in(client, member).get(path)
    assert page.status_code == 200, html_of(page)[:2000]
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("brand", "/console/stores/"),
        ("brand", "/console/api-keys/"),
        ("finance", "/console/api-keys/"),
        ("brand", "/console/ledger/"),
        ("brand", "/console/invoices/"),
    ],
)
def test_pages_of_other_roles_answer_forbidden(client, role, path):
    member = make_member(MerchantFactory(), role)
    page = signed_in(client, member).get(path)
    assert page.status_code == 403
    assert "FORBIDDEN" in codes_in(html_of(page))


def test_a_finance_member_finds_no_start_issuance_control_and_a_forged_post_is_refused(client):
    placement = PlacementFactory(campaign=active_campaign(), pool=pool_with_fans(2))
    member = make_member(placement.publisher, "finance")
    signed_in(client, member)
    page = html_of(client.get("/console/issuance/"))
    assert "Start issuance" not in page
    forged = client.post("/console/issuance/start/", {"placement_id": ids.encode("Placement", placement.pk)})
    assert forged.status_code == 403 and "FORBIDDEN" in codes_in(html_of(forged))


def test_the_publisher_starts_issuance_and_opens_the_job(client):
    placement = PlacementFactory(campaign=active_campaign(name="5 off any dessert"), pool=pool_with_fans(3))
    member = make_member(placement.publisher, "brand")
    signed_in(client, member)
    listing = html_of(client.get("/console/issuance/"))
    assert "5 off any dessert" in listing
    started = client.post("/console/issuance/start/", {"placement_id": ids.encode("Placement", placement.pk)})
    assert started.status_code == 302
    job = client.get(started.url)
    html = html_of(job)
    assert job.status_code == 200 and "5 off any dessert" in html
    # Not finished yet (no worker here): the progress polls itself.
    assert 'hx-trigger="every 1s"' in html
    assert "5 off any dessert" in html_of(client.get("/console/issuance/"))

    # Another merchant's member types the job's URL: not found.
    outsider = make_member(MerchantFactory(), "brand")
    foreign = signed_in(client, outsider).get(started.url)
    assert foreign.status_code == 404 and "NOT_FOUND" in codes_in(html_of(foreign))


def test_an_issuance_the_api_refuses_shows_its_code_next_to_the_field(client):
    placement = PlacementFactory(campaign=active_campaign(), pool=pool_with_fans(2), quota=2, issued_count=2)
    member = make_member(placement.publisher, "brand")
    signed_in(client, member)
    refused = client.post("/console/issuance/start/", {"placement_id": ids.encode("Placement", placement.pk)})
    assert refused.status_code == 400
    assert codes_in(html_of(refused)) == ["QUOTA_REACHED"]


def test_a_fan_import_from_a_csv_file(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    pool = pool_with_fans(0)
    member = make_member(pool.merchant, "brand")
    signed_in(client, member)
    csv = "phone,consented_at\n+86 138 0013 8000,2026-11-01T10:00:00Z\nnot a phone,2026-11-01T10:00:00Z\n"
    created = client.post(
        "/console/imports/new/",
        {"pool_id": ids.encode("FanPool", pool.pk), "csv": SimpleUploadedFile("fans.csv", csv.encode())},
    )
    assert created.status_code == 302, html_of(created)[:3000]
    detail = client.get(created.url)
    assert detail.status_code == 200 and pool.name in html_of(detail)
    assert "imports" in html_of(client.get("/console/imports/"))


def test_a_terminal_secret_is_shown_once_and_the_terminal_can_be_revoked(client):
    merchant = MerchantFactory()
    store = StoreFactory(merchant=merchant, name="People's Square")
    member = make_member(merchant, "admin")
    signed_in(client, member)
    created = client.post(
        "/console/terminals/new/", {"store_id": ids.encode("Store", store.pk), "name": "Counter 1"}
    )
    assert created.status_code == 200
    assert "no-store" in created.headers["Cache-Control"]
    secret = re.search(r'data-testid="secret">([^<]+)<', html_of(created)).group(1)
    assert len(secret) > 20
    listing = html_of(client.get("/console/stores/"))
    assert "Counter 1" in listing and secret not in listing

    terminal_id = re.search(r'<tr data-id="([^"]+)">\s*<th scope="row">Counter 1', listing).group(1)
    revoke_url = f"/console/terminals/{terminal_id.replace('+', '-').replace('/', '_')}/revoke/"
    assert client.post(revoke_url).status_code == 302
    assert "Revoked" in html_of(client.get("/console/stores/"))
    again = client.post(revoke_url, follow=True)
    assert "code-ALREADY_REVOKED" in html_of(again)


def test_creating_a_store_shows_the_apis_errors(client):
    member = make_member(MerchantFactory(), "admin")
    signed_in(client, member)
    assert (
        client.post("/console/stores/new/", {"name": "Harbour City", "address": "1 Canton Rd"}).status_code
        == 302
    )
    assert "Harbour City" in html_of(client.get("/console/stores/"))
    refused = client.post("/console/stores/new/", {"name": "", "address": ""})
    assert refused.status_code == 400 and codes_in(html_of(refused))


def test_an_api_key_is_shown_once_works_and_is_revoked(client):
    member = make_member(MerchantFactory(name="Sweet Spoon"), "admin")
    signed_in(client, member)
    created = client.post("/console/api-keys/new/", {"name": "CRM sync", "role": "FINANCE"})
    assert created.status_code == 200 and "no-store" in created.headers["Cache-Control"]
    secret = re.search(r'data-testid="secret">([^<]+)<', html_of(created)).group(1)
    me = client.post(
        "/graphql/",
        json.dumps({"query": "{ me { name } }"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert me.json()["data"]["me"]["name"] == "Sweet Spoon"
    listing = html_of(client.get("/console/api-keys/"))
    assert "CRM sync" in listing and secret not in listing
    key_id = re.search(r'<tr data-id="([^"]+)">\s*<th scope="row">CRM sync', listing).group(1)
    assert (
        client.post(f"/console/api-keys/{key_id.replace('+', '-').replace('/', '_')}/revoke/").status_code
        == 302
    )
    refused = client.post(
        "/graphql/",
        json.dumps({"query": "{ me { name } }"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert refused.status_code == 401


def test_another_merchants_invoice_is_not_found(client):
    member = make_member(MerchantFactory(), "finance")
    page = signed_in(client, member).get(f"/console/invoices/{ids.encode('BillingInvoice', 999999)}/")
    assert page.status_code == 404 and "NOT_FOUND" in codes_in(html_of(page))


def test_report_page_shows_the_chart_data_and_the_rows(client):
    from tests.factories import attribution_writeoff  # noqa: F401 - the report's own fixtures below

    member = make_member(MerchantFactory(), "finance")
    page = signed_in(client, member).get("/console/reports/?dimension=CAMPAIGN")
    assert page.status_code == 200
    assert "report-chart" in html_of(page) or "No write-offs" in html_of(page)


def test_report_export_is_queued_and_listed(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    member = make_member(MerchantFactory(), "finance")
    signed_in(client, member)
    queued = client.post(
        "/console/reports/exports/new/",
        {"dimension": "DAY", "date_from": "2026-11-01", "date_to": "2026-11-30"},
    )
    assert queued.status_code == 302 and queued.url == "/console/reports/exports/"
    listing = html_of(client.get("/console/reports/exports/"))
    assert 'data-status="PENDING"' in listing and 'hx-trigger="every 1s"' in listing


def test_make_terminal_is_listed_for_the_admin(client):
    merchant = MerchantFactory()
    terminal, _secret = make_terminal(StoreFactory(merchant=merchant, name="Mall"))
    member = make_member(merchant, "admin")
    listing = html_of(signed_in(client, member).get("/console/stores/"))
    assert terminal.uid in listing and "Mall" in listing


def _writeoffs(issuer, campaigns: int, per_campaign: int = 2) -> None:
    from attribution import recording as attribution_recording
    from tests.factories import billing_setup, write_off

    redemptions = []
    for _ in range(campaigns):
        setup = billing_setup(issuer=issuer)
        redemptions += [write_off(setup) for _ in range(per_campaign)]
    attribution_recording.record_for_redemptions(redemption_ids=[r.pk for r in redemptions])


def _report_queries(client, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path)  # warm: the session row and the document cache
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


@pytest.mark.parametrize("dimension", ["DAY", "PUBLISHER", "STORE", "CAMPAIGN"])
def test_report_page_query_count_is_pinned(client, dimension, django_assert_max_num_queries):
    member = make_member(MerchantFactory(), "finance")
    signed_in(client, member)
    path = f"/console/reports/?dimension={dimension}"
    _writeoffs(member.merchant, campaigns=1)
    few = _report_queries(client, path)
    _writeoffs(member.merchant, campaigns=6)
    many = _report_queries(client, path)
    assert many == few  # the report is grouped in SQL: rows cost no queries
    with django_assert_max_num_queries(8):
        html = html_of(client.get(path))
    assert 'id="report-chart-data"' in html
