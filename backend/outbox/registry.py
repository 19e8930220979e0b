"""Handlers of outbox events, registered by the apps that react to core events.

    from backend.outbox.registry import register

    @register("redemption.verified", name="attribution.record")
    def record(event): ...

A handler runs inside a transaction together with the insert of its OutboxDelivery row,
so it runs exactly once per event whatever the retries; it must not call external
services (do that from a task it schedules on commit). Register from AppConfig.ready().

Events are handled in batches: one transaction per handler and batch, a savepoint per
event. A handler may also give a ``batch`` function taking the list of events, which
does the whole batch's work in a few statements; if it raises, the events are run one
by one with ``func`` so that one bad event does not hold up the others.
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
    batch: Callable | None = None


_handlers: dict[str, list[Handler]] = {}


def register(topic: str, *, name: str, batch: Callable | None = None) -> Callable[[Callable], Callable]:
    def decorator(func: Callable) -> Callable:
        existing = _handlers.setdefault(topic, [])
        if not any(h.name == name for h in existing):
            existing.append(Handler(topic=topic, name=name, func=func, batch=batch))
        return func

    return decorator


def handlers_for(topic: str) -> list[Handler]:
    return list(_handlers.get(topic, ()))


def topics() -> list[str]:
    """The topics this process has at least one handler for."""
    return sorted(topic for topic, handlers in _handlers.items() if handlers)
