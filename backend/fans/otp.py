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


# Counters and the code live in Redis under the cache's keys (prefix and version), so tests
# and tools reach them with ``cache.delete``; the scripts below make each check one round trip.
_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""
# KEYS: checks per IP, attempts on the code, the code; ARGV: hour, IP limit, code TTL, max attempts.
# Returns {1} IP capped, {2} locked (the code is dropped), {3} no code, {0, digest}.
_CHECK = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[2]) then return {1} end
local a = redis.call('INCR', KEYS[2])
if a == 1 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
if a > tonumber(ARGV[4]) then redis.call('DEL', KEYS[3]) return {2} end
local code = redis.call('GET', KEYS[3])
if not code then return {3} end
return {0, code}
"""
# KEYS: the code [, claims per IP]; ARGV: hour. Uses the code up: -1 if another caller did,
# else the IP's claim count (0 when not counting a claim).
_USE = """
if redis.call('DEL', KEYS[1]) == 0 then return -1 end
if #KEYS == 1 then return 0 end
local n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return n
"""
_scripts: dict[str, object] = {}


_clients: dict[str, object] = {}


def _redis():
    """The cache's Redis client, built once per location (building one costs ~0.5 ms; a client
    is thread-safe and draws on the cache's own connection pool)."""
    location = str(settings.CACHES["default"]["LOCATION"])
    client = _clients.get(location)
    if client is None:
        client = _clients[location] = cache._cache.get_client(write=True)
    return client


def _run(name: str, source: str, keys: list[str], args: list) -> object:
    client = _redis()
    script = _scripts.get(name)
    if script is None:
        script = _scripts[name] = client.register_script(source)
    return script(keys=[cache.make_and_validate_key(k) for k in keys], args=args, client=client)


def count_within(key: str, limit: int, *, window: int = HOUR) -> bool:
    """Counts one event under ``key`` for ``window`` seconds; False once past ``limit``."""
    return int(_run("count", _COUNT, [key], [window])) <= limit


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
    client = _redis()
    client.set(cache.make_and_validate_key(f"otp:code:{key}"), _digest(key, code), ex=CODE_TTL_SECONDS)
    client.delete(cache.make_and_validate_key(f"otp:attempts:{key}"))
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


def verify_code(*, phone: str, code: str, ip: str, claim: bool = False) -> VerifiedPhone:
    """The phone's identity if ``code`` is the one last sent to it; the code is then used up.

    At most ``MAX_ATTEMPTS`` checks per code, whatever the concurrency (an atomic counter):
    after that the code is locked and a new one must be sent. With ``claim``, the right code
    also counts one claim from ``ip`` (``check_claim_rate``) in the same round trip. Two
    round trips to Redis in all, each one atomic script.
    """
    normalised, identity = parse_phone(phone)
    key = identity.fan_key
    checked = _run(
        "check",
        _CHECK,
        [f"otp:checks:ip:{_ip_key(ip)}", f"otp:attempts:{key}", f"otp:code:{key}"],
        [HOUR, _limits()["checks_per_ip_per_hour"], CODE_TTL_SECONDS, MAX_ATTEMPTS],
    )
    if checked[0] == 1:
        raise ServiceError.single(
            ClaimErrorCode.RATE_LIMITED, gettext("Too many attempts. Try again later."), "code"
        )
    if checked[0] == 2:
        raise ServiceError.single(
            ClaimErrorCode.CODE_LOCKED, gettext("Too many wrong codes. Ask for a new code."), "code"
        )
    expected = checked[1].decode() if checked[0] == 0 else None
    given = (code or "").strip()
    if expected is None or not hmac.compare_digest(expected, _digest(key, given)):
        raise ServiceError.single(
            ClaimErrorCode.CODE_INVALID, gettext("This code is wrong or has expired."), "code"
        )
    # Used up: only the caller that deletes the code wins (two concurrent right answers).
    keys = [f"otp:code:{key}"] + ([f"claims:ip:{_ip_key(ip)}"] if claim else [])
    used = int(_run("use", _USE, keys, [HOUR]))
    if used < 0:
        raise ServiceError.single(
            ClaimErrorCode.CODE_INVALID, gettext("This code is wrong or has expired."), "code"
        )
    if claim and used > _limits()["claims_per_ip_per_hour"]:
        raise _claims_capped()
    return VerifiedPhone(identity=identity, phone=normalised)


def _claims_capped() -> ServiceError:
    return ServiceError.single(
        ClaimErrorCode.RATE_LIMITED, gettext("Too many claims from this network. Try again later."), None
    )


def check_claim_rate(*, ip: str) -> None:
    """Claims per IP address per hour are capped (a phone claims once per placement anyway)."""
    if not count_within(f"claims:ip:{_ip_key(ip)}", _limits()["claims_per_ip_per_hour"]):
        raise _claims_capped()
