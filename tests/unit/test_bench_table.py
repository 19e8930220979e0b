"""The benchmark's verdicts and its table: ratios, targets, and what counts as met."""

from __future__ import annotations

from dataclasses import asdict

from tests.bench.runner import markdown, table
from tests.bench.scenarios import Row


def test_higher_is_better_target():
    row = Row("1", "throughput", 300.0, 1000.0, ">= 0.25").judge()
    assert row.ratio == 0.3 and row.met is True
    assert Row("1", "throughput", 200.0, 1000.0, ">= 0.25").judge().met is False


def test_lower_is_better_target():
    assert Row("4", "seconds", 1.4, 1.0, "<= 1.5").judge().met is True
    assert Row("4", "seconds", 1.6, 1.0, "<= 1.5").judge().met is False


def test_a_side_condition_can_fail_a_met_ratio():
    assert Row("2", "hot", 90.0, 100.0, ">= 0.7").judge(extra_ok=False).met is False


def test_informational_rows_have_no_verdict():
    row = Row("1", "latency", 20.0, 10.0, "").judge()
    assert row.ratio == 2.0 and row.met is None


def test_missing_measurement_is_not_met():
    assert Row("3", "x", None, 10.0, ">= 0.5").judge().met is False


def test_table_and_markdown_show_every_row():
    rows = [asdict(Row("1 write-off", "write-offs/s", 300.0, 1000.0, ">= 0.25", "/s").judge())]
    text = table(rows)
    assert "1 write-off" in text and "0.3" in text and "yes" in text
    result = {
        "started_at": "now",
        "size": "tiny",
        "duration_s": 1.0,
        "machine": {
            "nproc": 2,
            "cpu": "cpu",
            "memory_gib": 1.0,
            "postgresql": "PostgreSQL 15",
            "postgresql_settings": {"shared_buffers": "128MB", "synchronous_commit": "on"},
            "python": "3.11",
            "load_average_at_start": (0.0, 0.0, 0.0),
            "git_commit": "abc",
        },
        "rows": rows,
        "errors": {},
        "invariants": [{"name": "no coupon verified twice", "violations": 0, "ok": True}],
    }
    md = markdown(result)
    assert "| 1 write-off |" in md and "ok: no coupon verified twice" in md
