"""Sending a text through the configured backend (``settings.NOTIFICATIONS_BACKEND``)."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from .backends import NotificationBackend, SendFailed, TextMessage

__all__ = ["SendFailed", "send_text"]


@cache
def _backend(path: str) -> NotificationBackend:
    return import_string(path)()


def send_text(*, phone: str, recipient_key: str, kind: str, body: str) -> None:
    """Hands one text to the backend. ``phone`` is normalised digits; it is never logged.

    Raises ``SendFailed`` when the backend could not send it."""
    _backend(settings.NOTIFICATIONS_BACKEND).send(
        TextMessage(phone=phone, recipient_key=recipient_key, kind=kind, body=body)
    )
