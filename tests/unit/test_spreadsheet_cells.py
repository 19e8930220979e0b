"""OWASP CSV injection: text that a spreadsheet would run as a formula is quoted."""

import pytest

from backend.api.spreadsheets import safe_cell, safe_row


@pytest.mark.parametrize(
    "raw",
    ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "=", "-"],
)
def test_formula_triggers_are_quoted(raw):
    assert safe_cell(raw) == "'" + raw


@pytest.mark.parametrize("value", ["Sweet Spoon", "a=b", " =1", "", "'=already", 5, -5, 0.5, None, True])
def test_everything_else_is_left_alone(value):
    assert safe_cell(value) == value


def test_rows():
    assert safe_row(["=1", 2, "x"]) == ["'=1", 2, "x"]
