"""Writing the trail. Always inside the write's own transaction: the caller opens it."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from backend.api.audit import TARGETS_MAX, safe_summary
from backend.api.callers import Caller

from .models import AuditEntry

LABEL_MAX = 200


def _user_label(user: models.Model) -> str:
    email = getattr(user, "email", "") or ""
    return (email or user.get_username())[:LABEL_MAX]


def actor_of(caller: Caller) -> dict[str, Any]:
    """The trail's actor columns for a member or an API key (never a terminal)."""
    if caller.api_key is not None:
        key = caller.api_key
        return {
            "actor_kind": AuditEntry.ActorKind.API_KEY,
            "actor_api_key": key,
            "actor_label": f"{key.name} ({key.prefix})"[:LABEL_MAX],
        }
    if caller.user is not None:
        return {
            "actor_kind": AuditEntry.ActorKind.MEMBER,
            "actor_user": caller.user,
            "actor_label": _user_label(caller.user),
        }
    raise ValueError("A write without an actor (no API key, no member) cannot be recorded.")


def record_caller_write(
    *, caller: Caller, operation: str, targets: list[dict[str, str]], summary: Any
) -> AuditEntry:
    """One trail row for a member's or an API key's write; must run in the write's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("The audit trail is written in the write's own transaction.")
    return AuditEntry.objects.create(
        merchant=caller.merchant,
        operation=operation[:100],
        targets=targets[:TARGETS_MAX],
        summary=summary,
        **actor_of(caller),
    )


def record_staff_action(
    *,
    user: models.Model,
    merchant: models.Model,
    operation: str,
    targets: list[dict[str, str]],
    details: Any,
) -> AuditEntry:
    """One trail row for a network operator's action on a merchant (the Django admin), in the
    action's transaction; the merchant's admins see it in their trail."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("The audit trail is written in the write's own transaction.")
    return AuditEntry.objects.create(
        merchant=merchant,
        actor_kind=AuditEntry.ActorKind.STAFF,
        actor_user=user,
        actor_label=f"staff: {_user_label(user)}"[:LABEL_MAX],
        operation=operation[:100],
        targets=targets[:TARGETS_MAX],
        summary=safe_summary(details),
    )
