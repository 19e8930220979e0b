"""Each benchmark scenario runs once at tiny size: the harness works end to end.

These start gunicorn, Celery workers and load-generator processes against the test
database, so they are slow; the numbers at this size mean nothing, only that every
scenario measures both sides, the outcomes are what they should be, and the write-off
path's invariants hold afterwards.
"""

from __future__ import annotations

import pytest

from tests.bench import invariants, scenarios
from tests.bench.sizes import TINY

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ctx() -> scenarios.Context:
    return scenarios.Context(sizes=TINY, log=lambda message: None)


def _measured(rows: list[scenarios.Row]) -> None:
    assert rows
    for row in rows:
        assert row.ours is not None and row.ours > 0, row
        assert row.reference is not None and row.reference > 0, row
        assert row.ratio is not None, row


def _invariants_hold() -> None:
    broken = [c for c in invariants.check_all() if not c.ok]
    assert not broken, broken


def test_writeoff_full_stack_and_raw_sql(ctx):
    rows = scenarios.s1_writeoff(ctx)
    lag = next(r for r in rows if r.metric.startswith("outbox lag"))
    _measured([r for r in rows if r is not lag])
    # the worker ran during the load: the lag was sampled and every event of the load handled
    assert lag.details["samples"] > 0 and lag.ours is not None and lag.reference == 5.0
    assert lag.details["drained_after_load_s"] is not None
    capacity = next(r for r in rows if "drains from a backlog" in r.metric)
    assert capacity.details["events"] > 0 and capacity.details["seconds"] is not None
    throughput = rows[0]
    ours, reference = throughput.details["ours"], throughput.details["reference"]
    assert ours["outcomes"] == {"VERIFIED": ours["ops"]}
    assert reference["outcomes"] == {"VERIFIED": reference["ops"]}
    assert ours["ops"] >= TINY.writeoff_ops and reference["ops"] >= TINY.writeoff_ops
    _invariants_hold()


def test_hot_campaign_caps_stay_exact(ctx):
    rows = scenarios.s2_hot_campaign(ctx)
    _measured(rows)
    assert "NOT EXACT" not in rows[0].notes
    hot = rows[0].details["ours"]
    # 10 % of the attempts find the caps spent, and are rejected as such.
    assert set(hot["outcomes"]) == {"VERIFIED", "REJECTED:BUDGET_EXHAUSTED"}
    _invariants_hold()


def test_bulk_issuance_and_copy(ctx):
    [row] = scenarios.s3_issuance(ctx)
    _measured([row])
    assert row.details["job_status"] == "succeeded"
    _invariants_hold()


def test_funnel_report_and_group_by(ctx):
    rows = scenarios.s4_report(ctx)
    _measured(rows)
    assert "totals agree" in rows[0].notes
    assert rows[1].met  # a few thousand records stay far below 2 GiB
    _invariants_hold()


def test_redemptions_list_and_plain_view(ctx):
    rows = scenarios.s5_list(ctx)
    _measured(rows)
    assert rows[1].met, rows[1]  # as many queries for 100 rows as for 10
    _invariants_hold()


def test_writeoffs_during_issuance(ctx):
    [row] = scenarios.s6_writeoffs_during_issuance(ctx)
    _measured([row])
    assert row.details["ours"]["outcomes"] == {"VERIFIED": row.details["ours"]["ops"]}
    _invariants_hold()


def test_ledger_lock_drains_everything_due(ctx):
    from billing.models import BillingPeriod

    rows = scenarios.s7_ledger_lock(ctx)
    _measured(rows)
    row = rows[0]
    assert row.details["left_pending"] == 0
    assert row.details["lines"] == 3 * scenarios.LOCK_WRITEOFFS["tiny"]  # more than one batch
    assert row.details["lines"] > 5000
    assert BillingPeriod.objects.exists()


def test_claims_through_the_page_and_raw_sql(ctx):
    rows = scenarios.SCENARIOS[8](ctx)
    _measured(rows)
    assert rows[0].notes == ""  # every claim bound, the quota exact
    _invariants_hold()


def test_console_page_and_the_same_operation_over_http(ctx):
    rows = scenarios.SCENARIOS[10](ctx)
    _measured(rows)
    assert "outcomes" not in rows[0].notes  # every page 200, every answer the 60 campaigns
