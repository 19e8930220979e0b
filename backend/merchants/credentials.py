"""Secrets for API keys and terminals: generated here, shown once, never stored in clear."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

API_KEY_PREFIX_BYTES = 6  # 12 hex characters, unique, shown in lists to tell keys apart


def new_api_key() -> tuple[str, str]:
    """Return (prefix, full key). Only the prefix and the key's SHA-256 are stored."""
    prefix = secrets.token_hex(API_KEY_PREFIX_BYTES)
    return prefix, f"cn_{prefix}_{secrets.token_urlsafe(32)}"


def hash_api_key(full_key: str) -> str:
    # The key carries 256 random bits, so a fast hash is as strong as a slow one here.
    return hashlib.sha256(full_key.encode()).hexdigest()


def split_api_key(full_key: str) -> str | None:
    """The prefix of a well-formed key, or None."""
    parts = full_key.split("_")
    if len(parts) < 3 or parts[0] != "cn" or len(parts[1]) != API_KEY_PREFIX_BYTES * 2:
        return None
    return parts[1]


def api_key_matches(full_key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(full_key), stored_hash)


def new_terminal_uid() -> str:
    return f"trm_{secrets.token_hex(8)}"


def new_terminal_secret() -> str:
    return f"ts_{secrets.token_urlsafe(32)}"


def _legacy_key() -> bytes:
    """The key terminal secrets were encrypted with before TERMINAL_SECRET_KEYS existed."""
    return base64.urlsafe_b64encode(
        hashlib.sha256(f"terminal-secrets:{settings.SECRET_KEY}".encode()).digest()
    )


def _keys() -> list[Fernet]:
    try:
        keys = [Fernet(key.strip().encode()) for key in settings.TERMINAL_SECRET_KEYS if key.strip()]
    except ValueError:
        raise ImproperlyConfigured(
            "TERMINAL_SECRET_KEYS: each key must be 32 url-safe base64-encoded bytes "
            "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
        ) from None
    if not keys or settings.TERMINAL_SECRET_LEGACY_DECRYPT:
        keys.append(Fernet(_legacy_key()))  # decrypts old rows; encrypts only when no key is set
    return keys


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    """TERMINAL_SECRET_KEYS as one MultiFernet: the first key encrypts, every key decrypts."""
    return MultiFernet(_keys())


@lru_cache(maxsize=1)
def _newest() -> Fernet:
    return _keys()[0]


@receiver(setting_changed)
def _forget_keys(*, setting: str, **kwargs) -> None:
    if setting in ("TERMINAL_SECRET_KEYS", "TERMINAL_SECRET_LEGACY_DECRYPT", "SECRET_KEY"):
        _fernet.cache_clear()
        _newest.cache_clear()
        decrypt_terminal_secret.cache_clear()


def encrypt_terminal_secret(secret: str) -> bytes:
    return _fernet().encrypt(secret.encode())


@lru_cache(maxsize=4096)
def decrypt_terminal_secret(token: bytes) -> str:
    return _fernet().decrypt(bytes(token)).decode()


def reencrypt_terminal_secret(token: bytes) -> bytes | None:
    """``token`` encrypted with the newest key, or None when it already is (nothing to do).

    Raises cryptography.fernet.InvalidToken when no configured key decrypts it."""
    try:
        _newest().decrypt(bytes(token))
        return None
    except InvalidToken:
        return _fernet().rotate(bytes(token))


def sign_terminal_request(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", hex encoded (as Stripe signs webhooks)."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
