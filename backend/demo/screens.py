"""The scene `manage.py console_screenshots` photographs: the demo network, plus what a month of
use leaves behind, so every console page has something to show.

On top of ``seed_demo()`` (idempotent), once per database:
- twelve write-offs of the demo coupons at Sweet Spoon's till over the last eight days, through
  the write-off service (``now=`` in the past; the coupons' issue dates are moved back a fortnight
  first, the one liberty taken with demo data), then the outbox handlers run inline, so the
  attribution records and the ledger lines are the real ones;
- a fan import into Mochi Cartoon's pool (two good rows, one bad), run inline.
No invoice is made up: invoices come from closing a month through Stripe, so the invoices
page shows what this database really has (the browser tests show one with its Stripe links).
And the people the screenshots sign in as: ``screens-<role>@<merchant>.example``, one per role
and demo merchant, with a TOTP authenticator of a random secret nobody keeps (the pages ask
that admin and finance members have one; the screenshots sign in by session, not by form).
"""

from __future__ import annotations

import datetime as dt
import uuid

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth import get_user_model
from django.utils import timezone

from backend.audience.imports import fan_import_create, fan_import_run
from backend.audience.models import FanImport, FanPool
from backend.campaigns import demo as campaigns_demo
from backend.coupons.models import Coupon
from backend.merchants.models import Merchant, Terminal
from backend.merchants.services import membership_create
from backend.outbox.models import OutboxEvent
from backend.outbox.services import process_events
from backend.redemptions.models import Redemption
from backend.redemptions.services import redeem_coupon

from .seeding import seed_demo

WRITEOFFS = 12
ROLES = ("admin", "brand", "finance")
DEMO_MERCHANTS = ("sweet-spoon", "mochi-cartoon")
IMPORT_CSV = (
    "phone,consented_at,source\n"
    "+86 138 0013 8101,2026-11-20T10:00:00Z,store-signup\n"
    "+86 138 0013 8102,2026-11-21T11:30:00Z,store-signup\n"
    "not-a-phone,2026-11-21T12:00:00Z,store-signup\n"
)


def seed_scene() -> dict[tuple[str, str], object]:
    """Seed the demo and the scene; {(merchant slug, role): user} of the screenshot members."""
    seed_demo()
    _writeoffs()
    _fan_import()
    return _people()


def _writeoffs() -> None:
    placement = campaigns_demo.accepted_placement()
    if placement is None:
        return
    done = Redemption.objects.filter(
        placement=placement, status=Redemption.Status.VERIFIED, idempotency_key__startswith="demo-screens-"
    ).count()
    if done >= WRITEOFFS:
        return
    terminal = (
        Terminal.objects.filter(merchant=placement.issuer, revoked_at__isnull=True).order_by("id").first()
    )
    if terminal is None:
        return
    now = timezone.now()
    coupons = list(
        Coupon.objects.filter(placement=placement, status=Coupon.Status.ISSUED).order_by("id")[
            : WRITEOFFS - done
        ]
    )
    back = now - dt.timedelta(days=14)
    Coupon.objects.filter(pk__in=[c.pk for c in coupons]).update(issued_at=back, valid_from=back)
    for n, coupon in enumerate(coupons, start=done):
        redeem_coupon(
            terminal=terminal,
            code=coupon.code,
            order_amount=2800 + 350 * (n % 5),
            currency=placement.campaign.currency,
            idempotency_key=f"demo-screens-{uuid.uuid4().hex}",
            now=now - dt.timedelta(days=n % 8, hours=1 + n % 3),
        )
    pending = OutboxEvent.objects.filter(dispatched_at__isnull=True).values_list("id", flat=True)
    process_events(list(pending))


def _fan_import() -> None:
    pool = FanPool.objects.filter(merchant__slug=campaigns_demo.PUBLISHER, name=campaigns_demo.POOL).first()
    if pool is None or FanImport.objects.filter(pool=pool).exists():
        return
    created = fan_import_create(merchant=pool.merchant, pool=pool, chunks=[IMPORT_CSV.encode()])
    fan_import_run(import_id=created.pk)


def _people() -> dict[tuple[str, str], object]:
    User = get_user_model()
    people = {}
    for slug in DEMO_MERCHANTS:
        merchant = Merchant.objects.filter(slug=slug).first()
        if merchant is None:
            continue
        for role in ROLES:
            email = f"screens-{role}@{slug}.example"
            user, _ = User.objects.get_or_create(username=email, defaults={"email": email})
            if user.has_usable_password():
                user.set_unusable_password()  # signed in by session only
                user.save(update_fields=["password"])
            EmailAddress.objects.update_or_create(
                user=user, email=email, defaults={"verified": True, "primary": True}
            )
            membership_create(user=user, merchant=merchant, role=role)
            if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
                TOTP.activate(user, generate_totp_secret())
            people[(slug, role)] = user
    return people
