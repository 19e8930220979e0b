"""Pseudonymous fan identities: a keyed hash of a normalised phone number or platform open id.

The raw identifier lives only in memory while it is hashed: it is never stored, never
logged and never put in an error message. Normalising first makes "+86 138-0013-8000" and
"8613800138000" the same fan, network-wide.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from django.conf import settings

from .models import Fan

# E.164 allows up to 15 digits including the country code; 8 is a safe lower bound for
# "country code + subscriber number" (short codes are not fans).
PHONE_MIN_DIGITS = 8
PHONE_MAX_DIGITS = 15
OPEN_ID_MAX = 128
PLATFORM_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")


class InvalidIdentity(ValueError):
    """The identifier cannot name a fan. ``code`` is a stable reason; the message holds no PII."""

    def __init__(self, code: str, message: str, field: str):
        self.code = code
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class FanIdentity:
    fan_key: str
    kind: str


def normalise_phone(raw: str) -> str:
    """Digits only, country code first: '+86 138-0013-8000' and '0086 13800138000' -> '8613800138000'.

    A number must carry its country code ('+' or '00' prefix, or already all digits with it);
    there is no default country, since guessing would merge different people.
    """
    value = _PHONE_SEPARATORS.sub("", (raw or "").strip())
    if not value:
        raise InvalidIdentity("REQUIRED", "The phone number is empty.", "phone")
    if value.startswith("+"):
        value = value[1:]
    elif value.startswith("00"):
        value = value[2:]
    if not value.isascii() or not value.isdigit():
        raise InvalidIdentity(
            "INVALID_PHONE", "The phone number may hold only digits and one leading '+'.", "phone"
        )
    if value.startswith("0"):
        raise InvalidIdentity("INVALID_PHONE", "The phone number must start with its country code.", "phone")
    if not PHONE_MIN_DIGITS <= len(value) <= PHONE_MAX_DIGITS:
        raise InvalidIdentity(
            "INVALID_PHONE",
            f"The phone number must have {PHONE_MIN_DIGITS}-{PHONE_MAX_DIGITS} digits with its country code.",
            "phone",
        )
    return value


def normalise_open_id(raw: str, platform: str) -> str:
    """'<platform>:<open id>' with the platform lower-cased and the id trimmed (ids are case-sensitive)."""
    platform_value = (platform or "").strip().lower()
    if not platform_value:
        raise InvalidIdentity("REQUIRED", "The platform is required with an open id.", "platform")
    if not PLATFORM_RE.match(platform_value):
        raise InvalidIdentity("INVALID_PLATFORM", "The platform must be a short lower-case name.", "platform")
    value = (raw or "").strip()
    if not value:
        raise InvalidIdentity("REQUIRED", "The open id is empty.", "openId")
    if len(value) > OPEN_ID_MAX or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise InvalidIdentity(
            "INVALID_OPEN_ID", f"The open id must be at most {OPEN_ID_MAX} printable characters.", "openId"
        )
    return f"{platform_value}:{value}"


def _keyed_hash(kind: str, normalised: str) -> str:
    message = f"{kind}\x00{normalised}".encode()
    return hmac.new(settings.FAN_ID_HASH_KEY.encode(), message, hashlib.sha256).hexdigest()


def phone_identity(raw_phone: str) -> FanIdentity:
    return FanIdentity(fan_key=_keyed_hash(Fan.Kind.PHONE, normalise_phone(raw_phone)), kind=Fan.Kind.PHONE)


def open_id_identity(raw_open_id: str, platform: str) -> FanIdentity:
    normalised = normalise_open_id(raw_open_id, platform)
    return FanIdentity(fan_key=_keyed_hash(Fan.Kind.OPEN_ID, normalised), kind=Fan.Kind.OPEN_ID)


def identity_of(
    *, phone: str | None = None, open_id: str | None = None, platform: str | None = None
) -> FanIdentity:
    """The identity named by exactly one of a phone number or an open id (with its platform)."""
    has_phone = bool(phone and phone.strip())
    has_open_id = bool(open_id and open_id.strip())
    if has_phone and (has_open_id or (platform and platform.strip())):
        raise InvalidIdentity("AMBIGUOUS_IDENTITY", "Give a phone number or an open id, not both.", "phone")
    if has_phone:
        return phone_identity(phone or "")
    if has_open_id or (platform and platform.strip()):
        return open_id_identity(open_id or "", platform or "")
    raise InvalidIdentity("REQUIRED", "A phone number or an open id with its platform is required.", "phone")
