"""Factories for the fan pages: claim links, and a fresh phone number per test."""

from __future__ import annotations

import random
import secrets

import factory

from backend.fans.models import ClaimLink
from tests.factories.campaigns import PlacementFactory

__all__ = ["ClaimLinkFactory", "new_phone", "last_code_sent_to"]


class ClaimLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClaimLink

    placement = factory.SubFactory(PlacementFactory)
    channel = "wechat-group"
    token = factory.LazyFunction(lambda: secrets.token_urlsafe(12))


def new_phone() -> str:
    """A phone number no other test uses (the one-time code limits live in Redis for an hour)."""
    return f"+86 13{random.randint(0, 9)} {random.randint(0, 9999):04d} {random.randint(0, 9999):04d}"


def last_code_sent_to(phone: str) -> str:
    """The one-time code in the last text the keeping backend kept for ``phone``."""
    import re

    from backend.audience.identity import phone_identity
    from backend.notifications.models import KeptMessage

    message = KeptMessage.objects.filter(recipient_key=phone_identity(phone).fan_key, kind="otp").first()
    assert message is not None, "no one-time code was sent"
    return re.search(r"\b(\d{6})\b", message.body).group(1)
