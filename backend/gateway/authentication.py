"""Who is calling: an API key (brand, finance or admin role) or a signed POS terminal."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.signals import setting_changed
from django.db import connection
from django.dispatch import receiver
from django.utils import timezone

from backend.api.callers import Caller
from backend.merchants import credentials
from backend.merchants.models import ApiKey, Merchant, Store, Terminal

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


# --- terminals: one statement per request -----------------------------------------------------

_TERMINAL_COLUMNS = [f.column for f in Terminal._meta.concrete_fields]
_MERCHANT_COLUMNS = [f.column for f in Merchant._meta.concrete_fields]
_STORE_COLUMNS = [f.column for f in Store._meta.concrete_fields]

# The terminal with its merchant and store and, in the same statement, the nonce recorded:
# only when the caller already checked the signature with the secret of this very version
# (its cache) and the terminal is not revoked. Otherwise nothing is inserted, and the
# caller checks the signature with the row's secret and records the nonce afterwards.
# Column names come from the models; every value is a parameter.
_TERMINAL_AND_NONCE_SQL = f"""
WITH nonce AS (
  INSERT INTO merchants_terminalrequestnonce (terminal_id, nonce, created_at)
  SELECT id, %(nonce)s, now() FROM merchants_terminal
   WHERE uid = %(uid)s AND secret_version = %(version)s AND revoked_at IS NULL
  ON CONFLICT DO NOTHING RETURNING terminal_id
)
SELECT {", ".join(f"t.{c}" for c in _TERMINAL_COLUMNS)},
       {", ".join(f"m.{c}" for c in _MERCHANT_COLUMNS)},
       {", ".join(f"s.{c}" for c in _STORE_COLUMNS)},
       EXISTS (SELECT 1 FROM nonce)
  FROM merchants_terminal t
  JOIN merchants_merchant m ON m.id = t.merchant_id
  JOIN merchants_store s ON s.id = t.store_id
 WHERE t.uid = %(uid)s
"""  # noqa: S608

# Decrypted signing secrets, per process: uid -> (secret_version, secret). The version is
# read with every request (the statement above) and changes with every new secret (a
# trigger, merchants migration 0003), so a rotation takes effect at the next request, and a
# revocation too (revoked_at is read in the same statement).
_secrets: dict[str, tuple[int, str]] = {}
SECRET_CACHE_MAX = 10_000


@receiver(setting_changed)
def _forget_secrets(*, setting: str, **kwargs) -> None:
    if setting in ("TERMINAL_SECRET_KEYS", "TERMINAL_SECRET_LEGACY_DECRYPT", "SECRET_KEY"):
        _secrets.clear()


def _load_terminal(uid: str, nonce: str, version: int) -> tuple[Terminal | None, bool]:
    """The terminal named by ``uid`` (merchant and store attached) and whether the nonce was
    recorded now (see _TERMINAL_AND_NONCE_SQL)."""
    with connection.cursor() as cursor:
        cursor.execute(_TERMINAL_AND_NONCE_SQL, {"uid": uid, "nonce": nonce, "version": version})
        row = cursor.fetchone()
    if row is None:
        return None, False
    nt, nm = len(_TERMINAL_COLUMNS), len(_MERCHANT_COLUMNS)
    terminal = Terminal.from_db("default", [f.attname for f in Terminal._meta.concrete_fields], row[:nt])
    terminal.merchant = Merchant.from_db(
        "default", [f.attname for f in Merchant._meta.concrete_fields], row[nt : nt + nm]
    )
    terminal.store = Store.from_db(
        "default", [f.attname for f in Store._meta.concrete_fields], row[nt + nm : -1]
    )
    return terminal, bool(row[-1])


def _signature_matches(secret: str, signature: str, **signed) -> bool:
    expected = credentials.sign_terminal_request(secret, **signed)
    # Compare bytes: compare_digest refuses non-ASCII str, and a header may carry anything.
    return credentials.hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


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
    that its nonce was not seen before (a replay). See credentials.terminal_signing_message.

    One statement on the usual path: the signature is checked first with this process's
    cached secret, and the statement that reads the terminal also records the nonce if that
    secret is still the terminal's current one and the terminal is not revoked. A nonce is
    never recorded for a request whose signature did not match the current secret."""
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
    signed = {
        "method": method,
        "path": path,
        "query": query,
        "timestamp": timestamp,
        "nonce": nonce,
        "body": body,
    }
    cached = _secrets.get(terminal_uid)
    signed_with_cached = cached is not None and _signature_matches(cached[1], signature, **signed)
    terminal, nonce_recorded = _load_terminal(terminal_uid, nonce, cached[0] if signed_with_cached else -1)
    if terminal is None:
        raise bad
    if not (signed_with_cached and cached[0] == terminal.secret_version):
        # No cached secret, a stale one (rotated), or a signature it did not match.
        if cached is not None and cached[0] == terminal.secret_version:
            raise bad
        secret = credentials.decrypt_terminal_secret(bytes(terminal.secret_encrypted))
        if len(_secrets) >= SECRET_CACHE_MAX:
            _secrets.clear()
        _secrets[terminal_uid] = (terminal.secret_version, secret)
        if not _signature_matches(secret, signature, **signed):
            raise bad
        if terminal.is_revoked:
            raise AuthenticationFailed("TERMINAL_REVOKED", "This terminal has been revoked.")
        nonce_recorded = _first_use_of_nonce(terminal.pk, nonce)
    if terminal.is_revoked:
        raise AuthenticationFailed("TERMINAL_REVOKED", "This terminal has been revoked.")
    if not nonce_recorded:
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
