"""The phone number kept for reminders, encrypted at rest (Fernet, keys from settings).

``FANS_PHONE_KEYS`` is a list of Fernet keys: the first encrypts, every one decrypts, so a
key is rotated by putting a new key first, running ``manage.py rotate_phone_keys`` (which
re-encrypts every kept number with it), then dropping the old key.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.FANS_PHONE_KEYS))


def encrypt_phone(phone: str) -> bytes:
    return _current().encrypt(phone.encode())


def decrypt_phone(token: bytes) -> str:
    return _current().decrypt(bytes(token)).decode()


def rotate(token: bytes) -> bytes:
    return _current().rotate(bytes(token))
