"""Cells for files people open in spreadsheets (CSV, XLSX): never a live formula.

OWASP's CSV injection advice: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return is read as a formula by Excel, LibreOffice and Google Sheets (a store
named ``=HYPERLINK(...)`` becomes a link in a publisher's sheet). Such a cell gets a leading
single quote, which spreadsheets show as text. Numbers are left alone: only text can smuggle
a formula, and a negative amount must stay a number.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet shows it literally: text starting with a trigger is quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


def safe_frame(frame):
    """A pandas DataFrame with its text columns neutralised (a copy; other columns untouched)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or str(out[column].dtype) in ("string", "str"):
            out[column] = out[column].map(safe_cell)
    return out
