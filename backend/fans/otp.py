"""One-time codes sent to a phone, and the abuse limits around them (Redis, via the cache).

A code is 6 digits, valid 5 minutes, checked at most 5 times (then locked: ask for another);
a new code waits 60 s after the previous one. Per phone and per IP address: codes sent and
failed attempts per hour are capped. Every key is the phone's keyed hash, never the number,
and a refusal never says whether a number is known (we send to any number).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext

from backend.api.errors import ServiceError
from backend.audience.identity import FanIdentity, InvalidIdentity, normalise_phone, phone_identity
from backend.notifications.services import SendFailed, send_text

from .errors import ClaimErrorCode

CODE_TTL_SECONDS = 300
MAX_ATTEMPTS = 5
RESEND_AFTER_SECONDS = 60
HOUR = 3600


@dataclass(frozen=True)
class VerifiedPhone:
    identity: FanIdentity
    phone: str  # normalised digits; kept only with consent, never logged


def _limits() -> dict:
    return settings.FANS_LIMITS


def parse_phone(raw: str) -> tuple[str, FanIdentity]:
    try:
        return normalise_phone(raw), phone_identity(raw)
    except InvalidIdentity as exc:
        raise ServiceError.single(ClaimErrorCode.INVALID_PHONE, str(exc), "phone") from exc


def _digest(fan_key: str, code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"{fan_key}:{code}".encode(), hashlib.sha256).hexdigest()


def count_within(key: str, limit: int, *, window: int = HOUR) -> bool:
    """Counts one event under ``key`` for ``window`` seconds; False once past ``limit``."""
    cache.add(key, 0, window)
    try:
        return cache.incr(key) <= limit
    except ValueError:  # expired between add and incr: start again
        cache.set(key, 1, window)
        return True


def _ip_key(ip: str) -> str:
    return hashlib.sha256(ip.encode()).hexdigest()[:32]


def send_code(*, phone: str, ip: str) -> FanIdentity:
    """Sends a fresh one-time code to ``phone`` (raw input) through the notifications backend."""
    normalised, identity = parse_phone(phone)
    key = identity.fan_key
    limits = _limits()
    if not cache.add(f"otp:resend:{key}", 1, RESEND_AFTER_SECONDS):
        raise ServiceError.single(
            ClaimErrorCode.RESEND_TOO_SOON,
            gettext("Please wait a minute before asking for another code."),
            "phone",
        )
    if not count_within(f"otp:sends:phone:{key}", limits["sends_per_phone_per_hour"]) or not count_within(
        f"otp:sends:ip:{_ip_key(ip)}", limits["sends_per_ip_per_hour"]
    ):
        raise ServiceError.single(
            ClaimErrorCode.RATE_LIMITED, gettext("Too many codes were asked for. Try again later."), "phone"
        )
    code = f"{secrets.randbelow(10**6):06d}"
    cache.set(f"otp:code:{key}", _digest(key, code), CODE_TTL_SECONDS)
    cache.delete(f"otp:attempts:{key}")
    try:
        send_text(
            phone=normalised,
            recipient_key=key,
            kind="otp",
            body=gettext("Your code is %(code)s. It is valid for 5 minutes. Do not share it.")
            % {"code": code},
        )
    except SendFailed:
        # Nothing went out: the code is void and the fan may ask again at once (the hourly caps
        # above still count this try). One message whatever the provider said about the number.
        cache.delete_many([f"otp:code:{key}", f"otp:resend:{key}"])
        raise ServiceError.single(
            ClaimErrorCode.SEND_FAILED,
            gettext("We could not send a code just now. Try again in a few minutes."),
            "phone",
        ) from None
    return identity


def verify_code(*, phone: str, code: str, ip: str) -> VerifiedPhone:
    """The phone's identity if ``code`` is the one last sent to it; the code is then used up.

    At most ``MAX_ATTEMPTS`` checks per code, whatever the concurrency (an atomic counter):
    after that the code is locked and a new one must be sent.
    """
    normalised, identity = parse_phone(phone)
    key = identity.fan_key
    if not count_within(f"otp:checks:ip:{_ip_key(ip)}", _limits()["checks_per_ip_per_hour"]):
        raise ServiceError.single(
            ClaimErrorCode.RATE_LIMITED, gettext("Too many attempts. Try again later."), "code"
        )
    if not count_within(f"otp:attempts:{key}", MAX_ATTEMPTS, window=CODE_TTL_SECONDS):
        cache.delete(f"otp:code:{key}")
        raise ServiceError.single(
            ClaimErrorCode.CODE_LOCKED, gettext("Too many wrong codes. Ask for a new code."), "code"
        )
    expected = cache.get(f"otp:code:{key}")
    given = (code or "").strip()
    if expected is None or not hmac.compare_digest(expected, _digest(key, given)):
        raise ServiceError.single(
            ClaimErrorCode.CODE_INVALID, gettext("This code is wrong or has expired."), "code"
        )
    # Used up: only the caller that deletes the code wins (two concurrent right answers).
    if not cache.delete(f"otp:code:{key}"):
        raise ServiceError.single(
            ClaimErrorCode.CODE_INVALID, gettext("This code is wrong or has expired."), "code"
        )
    return VerifiedPhone(identity=identity, phone=normalised)


def check_claim_rate(*, ip: str) -> None:
    """Claims per IP address per hour are capped (a phone claims once per placement anyway)."""
    if not count_within(f"claims:ip:{_ip_key(ip)}", _limits()["claims_per_ip_per_hour"]):
        raise ServiceError.single(
            ClaimErrorCode.RATE_LIMITED, gettext("Too many claims from this network. Try again later."), None
        )
