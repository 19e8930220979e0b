"""Secrets for API keys and terminals: generated here, shown once, never stored in clear."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet
from django.conf import settings

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


@lru_cache(maxsize=1)
def _fernet() -> Fernet:
    key = hashlib.sha256(f"terminal-secrets:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_terminal_secret(secret: str) -> bytes:
    return _fernet().encrypt(secret.encode())


@lru_cache(maxsize=4096)
def decrypt_terminal_secret(token: bytes) -> str:
    return _fernet().decrypt(bytes(token)).decode()


SIGNATURE_SCHEME = "v2"
NONCE_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
NONCE_MIN_LENGTH, NONCE_MAX_LENGTH = 16, 64


def terminal_signing_message(
    *, method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes
) -> bytes:
    """What a v2 terminal signature covers: the whole request, one field per line.

    ``v2``, the method (upper case), the path, the raw query string (empty if none), the
    timestamp (Unix milliseconds), the nonce and the raw body, joined by newlines. The
    body comes last, so nothing in it can be confused with the fields before it.
    """
    head = "\n".join([SIGNATURE_SCHEME, method.upper(), path, query, timestamp, nonce, ""])
    return head.encode("utf-8") + body


def sign_terminal_request(
    secret: str, *, method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes
) -> str:
    """``v2=`` and the hex HMAC-SHA256 of :func:`terminal_signing_message` under the secret."""
    message = terminal_signing_message(
        method=method, path=path, query=query, timestamp=timestamp, nonce=nonce, body=body
    )
    return f"{SIGNATURE_SCHEME}=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def is_valid_nonce(nonce: str) -> bool:
    return NONCE_MIN_LENGTH <= len(nonce) <= NONCE_MAX_LENGTH and set(nonce) <= NONCE_ALPHABET


def new_nonce() -> str:
    return secrets.token_urlsafe(18)
