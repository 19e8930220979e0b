"""Demo people: console members of the two demo merchants and a superuser for /admin/.

Passwords are derived from SECRET_KEY (like the demo keys): re-seeding keeps them, two
installs never share them. Idempotent: the same users, memberships and verified emails.
Admin and finance members set up their authenticator app at their first sign-in.
"""

from __future__ import annotations

import hashlib
import hmac

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from backend.merchants.models import Merchant
from backend.merchants.services import membership_create

DEMO_MERCHANTS = ("sweet-spoon", "mochi-cartoon")
ROLES = ("admin", "brand", "finance")
SUPERUSER = "operator"


def _password(label: str) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), f"demo-person:{label}".encode(), hashlib.sha256)
    return f"demo-{digest.hexdigest()[:16]}"


def _person(email: str, password: str, **fields):
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=email, defaults={"email": email, **fields})
    if not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


@transaction.atomic
def seed() -> list[str]:
    lines = ["Demo console members (sign in at /; admin and finance set up an authenticator app first):"]
    for slug in DEMO_MERCHANTS:
        merchant = Merchant.objects.filter(slug=slug).first()
        if merchant is None:
            lines.append(f"  {slug}: not found, no members seeded")
            continue
        for role in ROLES:
            email = f"{role}@{slug}.example"
            password = _password(email)
            membership_create(user=_person(email, password), merchant=merchant, role=role)
            lines.append(f"  {slug:<14} {role:<8} {email:<32} {password}")
    password = _password(SUPERUSER)
    User = get_user_model()
    operator, _ = User.objects.get_or_create(
        username=SUPERUSER,
        defaults={"email": "operator@network.example", "is_staff": True, "is_superuser": True},
    )
    if not (operator.is_staff and operator.is_superuser and operator.check_password(password)):
        operator.is_staff = operator.is_superuser = True
        operator.set_password(password)
        operator.save(update_fields=["is_staff", "is_superuser", "password"])
    lines.append(f"Operator (/admin/): username {SUPERUSER}  password {password}")
    return lines
