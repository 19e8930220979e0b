"""Who is calling: an API key (brand, finance or admin role) or a signed POS terminal."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection
from django.utils import timezone

from backend.api.callers import Caller
from backend.merchants import credentials
from backend.merchants.models import ApiKey, Terminal

# last_used_at is informative; writing it on every request would make the key row hot.
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)


class AuthenticationFailed(Exception):
    """The credentials were present but not acceptable. ``code`` is the API error code."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(message)


def authenticate_api_key(raw_key: str) -> Caller:
    prefix = credentials.split_api_key(raw_key)
    if prefix is None:
        raise AuthenticationFailed("UNAUTHENTICATED", "Malformed API key.")
    key = ApiKey.objects.select_related("merchant").filter(prefix=prefix).first()
    if key is None or not credentials.api_key_matches(raw_key, key.secret_hash):
        raise AuthenticationFailed("UNAUTHENTICATED", "Unknown API key.")
    if key.is_revoked:
        raise AuthenticationFailed("UNAUTHENTICATED", "This API key has been revoked.")
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return Caller(merchant=key.merchant, role=key.role, api_key=key)


def authenticate_terminal(
    *,
    terminal_uid: str,
    timestamp: str,
    nonce: str,
    signature: str,
    method: str,
    path: str,
    query: str,
    body: bytes,
) -> Caller:
    """Check a terminal's v2 signature over the whole request, its freshness (+-300 s) and
    that its nonce was not seen before (a replay). See credentials.terminal_signing_message."""
    bad = AuthenticationFailed("BAD_SIGNATURE", "The request signature is not valid.")
    scheme, _, _ = (signature or "").partition("=")
    if scheme != credentials.SIGNATURE_SCHEME:
        raise AuthenticationFailed(
            "BAD_SIGNATURE", "Sign with scheme v2: X-Signature: v2=<hex HMAC-SHA256> (see the docs)."
        )
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 15):
        raise AuthenticationFailed("BAD_SIGNATURE", "The timestamp is not a Unix time in milliseconds.")
    skew = abs(timezone.now().timestamp() - int(timestamp) / 1000)
    if skew > settings.TERMINAL_SIGNATURE_MAX_SKEW_SECONDS:
        raise AuthenticationFailed("BAD_SIGNATURE", "The request timestamp is outside +-300 s.")
    if not credentials.is_valid_nonce(nonce or ""):
        raise AuthenticationFailed("BAD_SIGNATURE", "X-Nonce must be 16-64 characters of [A-Za-z0-9_-].")
    terminal = Terminal.objects.select_related("merchant", "store").filter(uid=terminal_uid).first()
    if terminal is None:
        raise bad
    secret = credentials.decrypt_terminal_secret(bytes(terminal.secret_encrypted))
    expected = credentials.sign_terminal_request(
        secret, method=method, path=path, query=query, timestamp=timestamp, nonce=nonce, body=body
    )
    # Compare bytes: compare_digest refuses non-ASCII str, and a header may carry anything.
    if not credentials.hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise bad
    if terminal.is_revoked:
        raise AuthenticationFailed("TERMINAL_REVOKED", "This terminal has been revoked.")
    if not _first_use_of_nonce(terminal.pk, nonce):
        raise AuthenticationFailed("BAD_SIGNATURE", "This request was already received (replay).")
    return Caller(merchant=terminal.merchant, terminal=terminal)


def _first_use_of_nonce(terminal_id: int, nonce: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO merchants_terminalrequestnonce (terminal_id, nonce, created_at) "
            "VALUES (%s, %s, now()) ON CONFLICT DO NOTHING",
            [terminal_id, nonce],
        )
        return cursor.rowcount == 1
