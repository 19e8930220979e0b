"""Demo claim link: a counter poster for the demo placement, so `scripts/run` can be tried as a fan.

Run by `manage.py seed_demo` after the campaigns demo (settings.DEMO_SEED_HOOKS). Idempotent.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.urls import reverse

from backend.campaigns.models import Placement

from .models import ClaimLink

CHANNEL = "counter-poster"


def seed() -> list[str]:
    placement = (
        Placement.objects.filter(
            campaign__name="5 off any dessert",
            publisher__slug="mochi-cartoon",
            status=Placement.Status.ACCEPTED,
        )
        .order_by("-id")
        .first()
    )
    if placement is None:
        return ["Demo claim link skipped: no accepted demo placement."]
    link = ClaimLink.objects.filter(placement=placement, channel=CHANNEL, disabled_at__isnull=True).first()
    if link is None:
        link = ClaimLink.objects.create(placement=placement, channel=CHANNEL, token=secrets.token_urlsafe(12))
    base = settings.FANS_PUBLIC_URL.rstrip("/")
    return [
        "Fan pages:",
        f"  claim link ({CHANNEL}): {base}{reverse('fans:claim', kwargs={'token': link.token})}",
        f"  dev inbox (one-time codes, DEBUG only): {base}{reverse('dev-inbox')}",
        f"  open a wallet again: {base}{reverse('fans:wallet-recover')}",
    ]
