"""Texts through Twilio's Programmable Messaging API (the Messages resource), over ``requests``.

One documented call per text: ``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json``,
HTTP Basic auth with the account SID and auth token, a form body with ``To`` (E.164),
``Body`` and either ``MessagingServiceSid`` or ``From``. Twilio answers 201 with the
message's JSON (``sid``, ``status``); an error is a 4xx/5xx with ``{"code", "message",
"status"}`` (e.g. 21211, an invalid ``To``).

Settings (from the environment): ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, and
``TWILIO_MESSAGING_SERVICE_SID`` or ``TWILIO_FROM``; ``TWILIO_API_BASE`` (a local fake in
tests) and ``TWILIO_TIMEOUT_SECONDS``. Choose it with
``NOTIFICATIONS_BACKEND=backend.notifications.twilio.TwilioBackend``.

Every failure (refused, unreachable, timed out, an answer we cannot read) becomes one
``SendFailed`` whatever the cause: callers show one message, so a fan never learns whether
Twilio knew the number. Logs carry the kind, the masked number and Twilio's error code, never
the number, the text (it may hold a one-time code) or the credentials.
"""

from __future__ import annotations

import logging

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .backends import NotificationBackend, SendFailed, TextMessage, mask_phone

logger = logging.getLogger(__name__)


class TwilioBackend(NotificationBackend):
    def __init__(self) -> None:
        conf = settings.TWILIO
        if not conf["ACCOUNT_SID"] or not conf["AUTH_TOKEN"]:
            raise ImproperlyConfigured("TwilioBackend needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        if not conf["MESSAGING_SERVICE_SID"] and not conf["FROM"]:
            raise ImproperlyConfigured("TwilioBackend needs TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM")
        self.url = f"{conf['API_BASE'].rstrip('/')}/2010-04-01/Accounts/{conf['ACCOUNT_SID']}/Messages.json"
        self.auth = (conf["ACCOUNT_SID"], conf["AUTH_TOKEN"])
        self.sender = (
            {"MessagingServiceSid": conf["MESSAGING_SERVICE_SID"]}
            if conf["MESSAGING_SERVICE_SID"]
            else {"From": conf["FROM"]}
        )
        self.timeout = (conf["CONNECT_TIMEOUT_SECONDS"], conf["TIMEOUT_SECONDS"])
        self.session = requests.Session()  # keeps the TLS connection between texts

    def send(self, message: TextMessage) -> None:
        recipient = mask_phone(message.phone)
        form = {"To": "+" + message.phone, "Body": message.body, **self.sender}
        try:
            response = self.session.post(self.url, data=form, auth=self.auth, timeout=self.timeout)
        except requests.RequestException as exc:
            logger.warning(
                "text message not sent: provider unreachable",
                extra={"kind": message.kind, "recipient": recipient, "error": type(exc).__name__},
            )
            raise SendFailed("provider unreachable") from None
        if response.status_code != 201:
            code = _error_code(response)
            logger.warning(
                "text message refused by the provider",
                extra={
                    "kind": message.kind,
                    "recipient": recipient,
                    "status": response.status_code,
                    "provider_code": code,
                },
            )
            raise SendFailed(f"provider refused ({response.status_code}, {code})")
        try:
            sid = response.json()["sid"]
        except (ValueError, KeyError, TypeError):
            logger.warning(
                "text message: unreadable answer", extra={"kind": message.kind, "recipient": recipient}
            )
            raise SendFailed("unreadable answer") from None
        logger.info("text message sent", extra={"kind": message.kind, "recipient": recipient, "sid": sid})


def _error_code(response: requests.Response):
    try:
        return response.json().get("code")
    except (ValueError, AttributeError):
        return None
