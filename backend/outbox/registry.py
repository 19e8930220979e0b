"""Handlers of outbox events, registered by the apps that react to core events.

    from backend.outbox.registry import register

    @register("redemption.verified", name="attribution.record")
    def record(event): ...

A handler runs inside a transaction together with the insert of its OutboxDelivery row,
so it runs exactly once per event whatever the retries; it must not call external
services (do that from a task it schedules on commit). Register from AppConfig.ready().
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Topics written by the core apps. Payloads: {"redemption_id": int}.
REDEMPTION_VERIFIED = "redemption.verified"
REDEMPTION_VOIDED = "redemption.voided"


@dataclass(frozen=True)
class Handler:
    topic: str
    name: str
    func: Callable


_handlers: dict[str, list[Handler]] = {}


def register(topic: str, *, name: str) -> Callable[[Callable], Callable]:
    def decorator(func: Callable) -> Callable:
        existing = _handlers.setdefault(topic, [])
        if not any(h.name == name for h in existing):
            existing.append(Handler(topic=topic, name=name, func=func))
        return func

    return decorator


def handlers_for(topic: str) -> list[Handler]:
    return list(_handlers.get(topic, ()))
