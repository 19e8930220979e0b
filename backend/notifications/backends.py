"""How a text reaches a phone. One small interface; the backend is chosen in settings.

``NOTIFICATIONS_BACKEND`` names a class with ``send(message: TextMessage) -> None``. The
default, ``KeepingBackend``, logs that a message went out (kind and masked number only:
never the number or the text, which may hold a one-time code) and keeps it in the database,
where the DEBUG dev inbox (``/dev/inbox/``) and the tests read it. A provider's adapter
(an SMS gateway: ``backend.notifications.twilio.TwilioBackend``) implements the same ``send``
and raises ``SendFailed`` when the text did not go out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .models import KeptMessage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextMessage:
    phone: str  # normalised digits with the country code; never logged
    recipient_key: str  # keyed hash of the phone number (the fan key)
    kind: str  # "otp", "expiry_reminder", ...
    body: str


def mask_phone(phone: str) -> str:
    """'8613800138000' -> '+86*******8000': enough to recognise, too little to dial."""
    digits = phone or ""
    if len(digits) <= 6:
        return "+" + "*" * len(digits)
    return "+" + digits[:2] + "*" * (len(digits) - 6) + digits[-4:]


class SendFailed(Exception):
    """The text did not go out (refused, unreachable, timed out). The reason is for logs only:
    callers show one message whatever it was, so nobody learns whether a number is known."""


class NotificationBackend:
    def send(self, message: TextMessage) -> None:
        """Sends the text or raises ``SendFailed``."""
        raise NotImplementedError


class KeepingBackend(NotificationBackend):
    """Logs and keeps every message (the default; the dev inbox shows them)."""

    def send(self, message: TextMessage) -> None:
        KeptMessage.objects.create(
            recipient_key=message.recipient_key,
            recipient_hint=mask_phone(message.phone),
            kind=message.kind,
            body=message.body,
        )
        logger.info("text message kept", extra={"kind": message.kind, "recipient": mask_phone(message.phone)})
