"""What BaseMutation tells the audit trail about a write: the hook, the targets, a safe input.

The ground knows no domain app, so it does not write the trail itself: ``backend.audit``
(a floor above this one) registers its recorder here when Django starts, and every
BaseMutation calls it inside the mutation's transaction. With no recorder registered a
mutation refuses to run (ImproperlyConfigured), so a write can never go unrecorded
silently.

The input summary keeps what an admin needs to tell what happened (names, roles, amounts,
ids, flags) and never a secret: any field whose name says password, secret, token, phone,
signature or one-time code is replaced by "[redacted]", long strings are cut and long
lists counted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

import graphene
from django.core.exceptions import ImproperlyConfigured
from graphene import relay
from graphene.utils.str_converters import to_camel_case
from graphql_relay import from_global_id

from . import ids
from .callers import Caller

REDACTED = "[redacted]"
# Lower-case fragments of input names whose values never reach the trail.
SECRET_NAME_PARTS = ("password", "secret", "token", "phone", "signature", "otp", "credential")
STRING_MAX = 200
LIST_MAX = 20
DEPTH_MAX = 4
TARGETS_MAX = 50

# recorder(caller=, operation=, targets=, summary=): writes one trail row, in the caller's
# transaction.
Recorder = Callable[..., None]
_recorder: Recorder | None = None


def register_recorder(recorder: Recorder) -> None:
    global _recorder
    _recorder = recorder


def recorder() -> Recorder:
    if _recorder is None:
        raise ImproperlyConfigured("No audit recorder is registered: install backend.audit.")
    return _recorder


def is_secret_name(name: str, extra: Iterable[str] = ()) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in SECRET_NAME_PARTS) or lowered in {e.lower() for e in extra}


def safe_summary(value: Any, *, redact: Iterable[str] = (), _depth: int = 0) -> Any:
    """``value`` (a mutation's arguments) as small JSON with the secrets left out."""
    redact = tuple(redact)
    if _depth > DEPTH_MAX:
        return "..."
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            name = to_camel_case(str(key))
            out[name] = (
                REDACTED
                if is_secret_name(name, redact)
                else safe_summary(item, redact=redact, _depth=_depth + 1)
            )
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        shown = [safe_summary(item, redact=redact, _depth=_depth + 1) for item in items[:LIST_MAX]]
        if len(items) > LIST_MAX:
            shown.append(f"... {len(items) - LIST_MAX} more")
        return shown
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        return value if len(value) <= STRING_MAX else value[:STRING_MAX] + "..."
    return f"<{type(value).__name__}>"  # an upload or another object: its kind, not its bytes


def _node_type_name(field_type: Any) -> str | None:
    """The relay node type a payload field holds (through NonNull and List), or None."""
    while isinstance(field_type, graphene.NonNull | graphene.List):
        field_type = field_type.of_type
    if callable(field_type) and not isinstance(field_type, type):
        field_type = field_type()
    meta = getattr(field_type, "_meta", None)
    if meta is not None and relay.Node in getattr(meta, "interfaces", ()):
        return meta.name
    return None


def mutation_targets(
    mutation: type[graphene.Mutation], result: Mapping[str, Any], arguments: Mapping[str, Any]
) -> list[dict[str, str]]:
    """The objects a mutation touched, as ``{"type", "id"}`` with relay global ids: the
    nodes of its payload, then the ids it was given (``id``, ``ids`` or ``<thing>Id``)."""
    targets: list[dict[str, str]] = []
    fields = getattr(mutation._meta, "fields", {})
    for name, value in result.items():
        field = fields.get(name)
        type_name = _node_type_name(field.type) if field is not None else None
        if type_name is None:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            pk = getattr(item, "pk", None)
            if isinstance(pk, int):
                targets.append({"type": type_name, "id": ids.encode(type_name, pk)})
    for gid in _argument_ids(arguments):
        try:
            type_name, raw = from_global_id(gid)
        except (TypeError, ValueError, UnicodeDecodeError):
            continue
        if type_name and raw and ids.decode(type_name, gid):
            targets.append({"type": type_name, "id": gid})
    return list({t["id"]: t for t in targets}.values())[:TARGETS_MAX]


def _argument_ids(arguments: Mapping[str, Any], _depth: int = 0) -> Iterable[str]:
    if _depth > 2:
        return
    for key, value in arguments.items():
        name = str(key)
        if name == "id" or name.endswith("_id"):
            if isinstance(value, str):
                yield value
        elif name == "ids" or name.endswith("_ids"):
            if isinstance(value, list | tuple):
                yield from (v for v in value[:LIST_MAX] if isinstance(v, str))
        elif isinstance(value, Mapping):
            yield from _argument_ids(value, _depth + 1)


def record_mutation(
    *,
    caller: Caller,
    operation: str,
    mutation: type[graphene.Mutation],
    result: Mapping[str, Any],
    arguments: Mapping[str, Any],
    redact: Iterable[str] = (),
) -> None:
    recorder()(
        caller=caller,
        operation=operation,
        targets=mutation_targets(mutation, result, arguments),
        summary=safe_summary(arguments, redact=redact),
    )
