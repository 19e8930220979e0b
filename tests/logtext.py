"""Reading captured log records for secrets that must not be there (phone numbers, one-time
codes, tokens), without tripping on numbers every record carries.

A record's own bookkeeping (its timestamps, thread and process ids, line number) is full of
digits: a random six-digit code turns up inside a 15-digit thread id or a timestamp's
fraction now and then. So the text of a record is its message and everything the code that
logged gave it (extras, exception text), not that bookkeeping; and a number is looked for as
a whole number, not inside a longer run of digits.
"""

from __future__ import annotations

import logging
import re

# LogRecord's own attributes that are numbers about the record, never about the work.
_BOOKKEEPING = frozenset({"created", "msecs", "relativeCreated", "thread", "process", "lineno", "levelno"})


def record_text(record: logging.LogRecord) -> str:
    extras = (str(value) for key, value in record.__dict__.items() if key not in _BOOKKEEPING)
    return record.getMessage() + " " + " ".join(extras)


def has_number(text: str, digits: str) -> bool:
    """Whether ``digits`` appears in ``text`` as a whole number (no digit either side)."""
    return re.search(rf"(?<!\d){re.escape(digits)}(?!\d)", text) is not None
