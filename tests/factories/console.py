"""Members of merchants (console users), with a verified email and, if asked, TOTP set up."""

from __future__ import annotations

import time
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.contrib.auth import get_user_model

from backend.merchants.models import Membership, Merchant

MEMBER_PASSWORD = "correct horse battery staple 42"


@dataclass
class Member:
    user: object
    membership: Membership
    email: str
    password: str
    totp_secret: str | None = None

    @property
    def merchant(self) -> Merchant:
        return self.membership.merchant

    def totp_code(self) -> str:
        return fresh_totp_code(self.totp_secret)


def totp_code(secret: str, *, at: float | None = None) -> str:
    """The authenticator app's current 6 digits for ``secret`` (RFC 6238, 30 s steps)."""
    return format_hotp_value(hotp_value(secret, int((at or time.time()) // 30)))


def fresh_totp_code(secret: str) -> str:
    """The current code, with time to use it: allauth accepts only the current 30 s step (no
    tolerance), so a code read in a step's last seconds can reach the server in the next one
    (a browser's fill, click and POST take a few hundred ms). Waits for a fresh step then."""
    if 30 - time.time() % 30 < 3:
        time.sleep(30 - time.time() % 30 + 0.1)
    return totp_code(secret)


def make_member(
    merchant: Merchant,
    role: str = "brand",
    *,
    email: str | None = None,
    password: str = MEMBER_PASSWORD,
    totp: bool | None = None,
) -> Member:
    """A person with ``role`` in ``merchant`` (and their verified email). ``totp`` defaults to
    what the role requires (admin and finance), so they can open pages at once."""
    User = get_user_model()
    email = email or f"{role}-{User.objects.count() + 1}-{merchant.slug}@example.com"
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(username=email[:150], email=email, password=password)
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    membership, _ = Membership.objects.update_or_create(user=user, merchant=merchant, defaults={"role": role})
    secret = None
    if totp if totp is not None else role in ("admin", "finance"):
        secret = generate_totp_secret()
        TOTP.activate(user, secret)
    return Member(user=user, membership=membership, email=email, password=password, totp_secret=secret)
