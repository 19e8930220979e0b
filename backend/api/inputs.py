"""Text every request may carry: no NUL and no lone surrogate, checked once for all inputs.

PostgreSQL refuses NUL in text, and a lone surrogate (``"\\ud800"`` in JSON) cannot be
encoded as UTF-8 at all: either used to reach the database as an internal error from
whichever field carried it. Checking the query text and every string of the variables
(keys too) here covers every argument of every field, present and future.
"""

from __future__ import annotations

from typing import Any

from graphql import DocumentNode, StringValueNode
from graphql.language import Visitor, visit

from backend.api.cost import BAD_USER_INPUT, QueryRefused, invalid

MESSAGE = "Text may not contain NUL characters or unpaired surrogates."


def is_clean_text(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_query_text(query: str) -> None:
    if not is_clean_text(query):
        raise invalid(MESSAGE, BAD_USER_INPUT)


class _Strings(Visitor):
    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        if not is_clean_text(node.value):  # escapes such as "\u0000" are decoded by now
            raise invalid(MESSAGE, BAD_USER_INPUT)


def check_document(document: DocumentNode) -> None:
    visit(document, _Strings())


def check_variables(value: Any, depth: int = 0) -> None:
    """Raise QueryRefused (BAD_USER_INPUT) for a string with NUL or a lone surrogate."""
    if isinstance(value, str):
        if not is_clean_text(value):
            raise invalid(MESSAGE, BAD_USER_INPUT)
    elif depth > 20:
        raise invalid("Variables are nested too deeply.", BAD_USER_INPUT)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_variables(key, depth + 1)
            check_variables(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_variables(item, depth + 1)


__all__ = [
    "MESSAGE",
    "QueryRefused",
    "check_document",
    "check_query_text",
    "check_variables",
    "is_clean_text",
]
