"""Signing secrets and Standard Webhooks signatures (the ``standardwebhooks`` package).

A secret is ``whsec_`` + base64 of 24 random bytes, as the spec recommends. It must be
readable to sign, so it is stored encrypted (Fernet keyed from SECRET_KEY), shown once.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet
from django.conf import settings
from standardwebhooks.webhooks import Webhook


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@lru_cache(maxsize=1)
def _fernet() -> Fernet:
    key = hashlib.sha256(f"webhook-secrets:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(secret: str) -> bytes:
    return _fernet().encrypt(secret.encode())


def decrypt(token: bytes) -> str:
    return _fernet().decrypt(bytes(token)).decode()


def signature_header(*, secrets_: list[str], msg_id: str, timestamp: dt.datetime, body: str) -> str:
    """``webhook-signature``: one ``v1,<base64>`` per valid secret, space separated."""
    return " ".join(Webhook(s).sign(msg_id=msg_id, timestamp=timestamp, data=body) for s in secrets_)
