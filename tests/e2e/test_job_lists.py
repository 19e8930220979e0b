"""The lists the console's progress pages read: issuance jobs and report exports.

Each is the caller's own (another merchant sees none of them), newest first, and costs the
same number of queries for one row or several.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import (
    FanFactory,
    MerchantFactory,
    PlacementFactory,
    PoolMembershipFactory,
    active_campaign,
    make_api_key,
    pool_with_fans,
)

pytestmark = pytest.mark.django_db


def start(api, operation, key, placement_id, **input):
    payload = api.execute(
        operation("coupons_issuance_start"), {"input": {"placementId": placement_id, **input}}, key=key
    ).ok()["issuanceStart"]
    assert payload["errors"] == []
    return payload["job"]["id"]


def queries(run) -> int:
    with CaptureQueriesContext(connection) as captured:
        run()
    return len(captured)


def test_issuance_jobs_newest_first_for_both_parties_and_nobody_else(api, operation):
    from backend.api import ids

    pool = pool_with_fans(3)
    placement = PlacementFactory(campaign=active_campaign(), pool=pool)
    publisher_key = make_api_key(placement.publisher, "brand")
    pid = ids.encode("Placement", placement.pk)
    whole_pool = start(api, operation, publisher_key, pid)
    named = [ids.encode("Fan", pool.memberships.first().fan_id)]
    two_fans = start(api, operation, publisher_key, pid, fanIds=named)

    for key in (publisher_key, make_api_key(placement.issuer, "finance")):
        jobs = api.execute(operation("coupons_issuance_jobs"), {}, key=key).ok()["issuanceJobs"]
        assert jobs["totalCount"] == 2
        nodes = [e["node"] for e in jobs["edges"]]
        assert [n["id"] for n in nodes] == [two_fans, whole_pool]
        assert [n["fanCount"] for n in nodes] == [1, None]
        assert {n["placementId"] for n in nodes} == {pid}
    by_placement = api.execute(
        operation("coupons_issuance_jobs"), {"placementId": pid}, key=publisher_key
    ).ok()
    assert by_placement["issuanceJobs"]["totalCount"] == 2

    outsider = make_api_key(MerchantFactory(), "admin")
    assert (
        api.execute(operation("coupons_issuance_jobs"), {}, key=outsider).ok()["issuanceJobs"]["totalCount"]
        == 0
    )
    mine_only = api.execute(operation("coupons_issuance_jobs"), {"placementId": pid}, key=outsider).ok()
    assert mine_only["issuanceJobs"]["totalCount"] == 0


def test_issuance_jobs_list_costs_the_same_for_one_job_or_five(api, operation):
    from backend.api import ids

    pool = pool_with_fans(2)
    placement = PlacementFactory(campaign=active_campaign(), pool=pool)
    key = make_api_key(placement.publisher, "brand")
    pid = ids.encode("Placement", placement.pk)
    fan = ids.encode("Fan", pool.memberships.first().fan_id)
    start(api, operation, key, pid, fanIds=[fan])

    def run():
        api.execute(operation("coupons_issuance_jobs"), {"first": 20}, key=key).ok()

    one = queries(run)
    for _ in range(4):
        PoolMembershipFactory(pool=pool, fan=FanFactory())
        start(api, operation, key, pid)
    assert queries(run) == one


def export(api, operation, key, dimension):
    payload = api.execute(operation("reports_export_create"), {"dimension": dimension}, key=key).ok()
    assert payload["reportExportCreate"]["errors"] == []
    return payload["reportExportCreate"]["export"]["id"]


def test_report_exports_newest_first_and_only_the_callers(api, operation, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    merchant = MerchantFactory()
    key = make_api_key(merchant, "finance")
    first = export(api, operation, key, "DAY")
    second = export(api, operation, key, "CAMPAIGN")

    listed = api.execute(operation("reports_exports"), {}, key=key).ok()["reportExports"]
    assert listed["totalCount"] == 2
    assert [(e["node"]["id"], e["node"]["dimension"]) for e in listed["edges"]] == [
        (second, "CAMPAIGN"),
        (first, "DAY"),
    ]
    assert all(e["node"]["status"] == "PENDING" and e["node"]["downloads"] == [] for e in listed["edges"])

    other = make_api_key(MerchantFactory(), "finance")
    assert api.execute(operation("reports_exports"), {}, key=other).ok()["reportExports"]["totalCount"] == 0
    brand = make_api_key(merchant, "brand")
    assert api.execute(operation("reports_exports"), {}, key=brand).ok()["reportExports"]["totalCount"] == 2
