"""Relay global ids: opaque to clients, typed, and never a way into another merchant's rows."""

from __future__ import annotations

from graphql_relay import from_global_id, to_global_id


def encode(type_name: str, pk: int) -> str:
    return to_global_id(type_name, str(pk))


def decode(type_name: str, global_id: str | None) -> int | None:
    """The primary key inside ``global_id`` if it names a ``type_name``; None otherwise."""
    if not global_id:
        return None
    try:
        kind, raw = from_global_id(global_id)
        pk = int(raw)
    except (TypeError, ValueError, UnicodeDecodeError):
        return None
    if kind != type_name or pk <= 0 or pk > 2**63 - 1:
        return None
    return pk
