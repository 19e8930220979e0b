"""Writes of the fan pages: claiming a coupon, wallets, the publisher's claim links."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.db.models.functions import Greatest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from backend.api.errors import ServiceError
from backend.api.rows import columns, model_from_row
from backend.audience.identity import FanIdentity, InvalidIdentity, phone_identity
from backend.audience.models import Fan, PoolMembership
from backend.campaigns.models import Campaign, Placement
from backend.coupons import codes
from backend.coupons.issuance import coupon_validity
from backend.coupons.models import Coupon
from backend.merchants.models import Merchant
from backend.notifications.services import SendFailed, send_text
from backend.redemptions.models import Redemption

from .contact import decrypt_phone, encrypt_phone
from .errors import ClaimErrorCode, ClaimLinkErrorCode, PublishErrorCode, SharingErrorCode
from .models import Claim, ClaimLink, ExpiryReminder, FanContact, Gift, ReferralReward, ShareLink, Wallet

CHANNEL_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MEMBERSHIP_SOURCE = "claim"


@dataclass(frozen=True)
class ClaimResult:
    coupon: Coupon
    wallet: Wallet
    created: bool  # False: the fan already held this placement's coupon


def _unavailable() -> ServiceError:
    return ServiceError.single(
        ClaimErrorCode.LINK_UNAVAILABLE, gettext("This offer is no longer available."), None
    )


def ensure_fan(identity: FanIdentity) -> Fan:
    """The fan of ``identity``, created if new: one upsert, safe under concurrency."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audience_fan (fan_key, kind, created_at) VALUES (%s, %s, now()) "
            "ON CONFLICT (fan_key) DO UPDATE SET kind = audience_fan.kind RETURNING id",
            [identity.fan_key, str(identity.kind)],
        )
        (fan_id,) = cursor.fetchone()
    return Fan(pk=fan_id, fan_key=identity.fan_key, kind=identity.kind)


def wallet_for(*, fan: Fan) -> Wallet:
    """The fan's active wallet, created if it has none (one active per fan, by constraint).

    One statement: the insert, or else the active wallet as the statement found it. A wallet
    another transaction committed while this insert waited is not in that snapshot: then it
    is read again.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH created AS (INSERT INTO fans_wallet (fan_id, token, created_at) VALUES (%s, %s, now()) "
            "ON CONFLICT DO NOTHING RETURNING id, token, created_at, revoked_at) "
            "SELECT id, token, created_at, revoked_at FROM created UNION ALL "
            "SELECT id, token, created_at, revoked_at FROM fans_wallet WHERE fan_id = %s AND revoked_at IS NULL "
            "LIMIT 1",
            [fan.pk, secrets.token_urlsafe(32), fan.pk],
        )
        row = cursor.fetchone()
    if row is None:
        return Wallet.objects.get(fan=fan, revoked_at__isnull=True)
    wallet_id, token, created_at, revoked_at = row
    return Wallet(pk=wallet_id, fan=fan, token=token, created_at=created_at, revoked_at=revoked_at)


def share_link_for(*, wallet: Wallet, coupon: Coupon) -> ShareLink:
    """The wallet's fan's share link for the coupon's offer (one per fan and placement)."""
    if coupon.fan_id != wallet.fan_id:
        raise ServiceError.single(
            ClaimErrorCode.LINK_UNAVAILABLE, gettext("This offer is no longer available."), None
        )
    parent = Claim.objects.filter(coupon=coupon).values_list("sharer_id", flat=True).first()
    ShareLink.objects.bulk_create(
        [
            ShareLink(
                fan_id=wallet.fan_id,
                placement_id=coupon.placement_id,
                parent_id=parent,
                token=secrets.token_urlsafe(12),
            )
        ],
        ignore_conflicts=True,
    )
    return ShareLink.objects.get(fan_id=wallet.fan_id, placement_id=coupon.placement_id)


def gift_create(*, wallet: Wallet, coupon: Coupon) -> Gift:
    """The giver's accept link for an unused coupon: once per coupon (the same link again)."""
    campaign = coupon.campaign
    if coupon.fan_id != wallet.fan_id or coupon.status != Coupon.Status.ISSUED or not campaign.allow_gifting:
        raise ServiceError.single(
            ClaimErrorCode.GIFT_UNAVAILABLE, gettext("This coupon cannot be given."), None
        )
    Gift.objects.bulk_create(
        [Gift(coupon=coupon, giver_id=wallet.fan_id, token=secrets.token_urlsafe(32))], ignore_conflicts=True
    )
    gift = Gift.objects.get(coupon=coupon)
    if gift.giver_id != wallet.fan_id or gift.accepted_at is not None:
        raise ServiceError.single(
            ClaimErrorCode.GIFT_UNAVAILABLE, gettext("This coupon cannot be given."), None
        )
    return gift


def gift_accept(*, gift: Gift, identity: FanIdentity) -> ClaimResult:
    """The friend takes the coupon: exactly once, only while unused and still the giver's.

    The coupon row is locked, so a write-off or a second acceptance at the same moment
    either happens first (and the gift fails) or waits for the transfer.
    """
    try:
        with transaction.atomic():
            gift = Gift.objects.select_for_update().get(pk=gift.pk)
            coupon = (
                Coupon.objects.select_for_update(of=("self",))
                .select_related("campaign")
                .get(pk=gift.coupon_id)
            )
            fan = ensure_fan(identity)
            if fan.pk == gift.giver_id:
                raise ServiceError.single(
                    ClaimErrorCode.OWN_SHARE, gettext("This is your own gift: send it to a friend."), None
                )
            if (
                gift.accepted_at is not None
                or coupon.status != Coupon.Status.ISSUED
                or coupon.fan_id != gift.giver_id
                or not coupon.campaign.allow_gifting
            ):
                raise ServiceError.single(
                    ClaimErrorCode.GIFT_UNAVAILABLE, gettext("This gift is no longer available."), None
                )
            # A new code for the friend: the giver saw the old one (wallet, delivery link) and
            # must not be able to write it off after giving it away.
            new_code = codes.new_code()
            with transaction.atomic():  # the friend may already hold this offer's coupon
                Coupon.objects.filter(pk=coupon.pk).update(fan_id=fan.pk, code=new_code)
            coupon.code = new_code
            now = timezone.now()
            Gift.objects.filter(pk=gift.pk).update(receiver_id=fan.pk, accepted_at=now)
            coupon.fan = fan
            wallet = wallet_for(fan=fan)
    except IntegrityError as exc:
        raise ServiceError.single(
            ClaimErrorCode.ALREADY_HOLDS, gettext("You already hold this offer's coupon."), None
        ) from exc
    return ClaimResult(coupon=coupon, wallet=wallet, created=True)


def wallet_revoke(*, wallet: Wallet) -> None:
    """The wallet link stops working; the fan gets a new one by phone and one-time code."""
    Wallet.objects.filter(pk=wallet.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def keep_contact(*, fan: Fan, phone: str, language: str = "en") -> None:
    """Keeps the fan's phone number (encrypted) for reminders: call only with the fan's consent."""
    FanContact.objects.update_or_create(
        fan=fan,
        defaults={
            "phone_encrypted": encrypt_phone(phone),
            "consented_at": timezone.now(),
            "language": language,
        },
    )


def forget_contact_without_consent(*, fan_id: int, **_signal) -> None:
    """A publisher recorded a withdrawal (audience's poolFanConsentWithdraw): the kept phone
    number goes once the fan has no pool membership left with consent."""
    if not PoolMembership.objects.filter(fan_id=fan_id, consent_withdrawn_at__isnull=True).exists():
        FanContact.objects.filter(fan_id=fan_id).delete()


def withdraw_consent(*, fan: Fan) -> None:
    """The fan withdraws consent: its kept phone number is erased and its memberships end."""
    with transaction.atomic():
        FanContact.objects.filter(fan=fan).delete()
        PoolMembership.objects.filter(fan=fan, consent_withdrawn_at__isnull=True).update(
            consent_withdrawn_at=timezone.now()
        )


def claim_coupon(
    *,
    claim_link: ClaimLink,
    identity: FanIdentity,
    consent: bool,
    phone_for_reminders: str | None = None,
    language: str = "en",
) -> ClaimResult:
    """Binds one coupon of the link's placement to the fan, exactly once per fan per placement.

    The quota is taken by one conditional UPDATE of the placement row, so it holds exactly
    whatever the concurrency; a second claim by the same fan (even a concurrent one) gets the
    coupon the fan already holds. Joining the publisher's pool needs the fan's consent.
    """
    if not consent:
        raise ServiceError.single(
            ClaimErrorCode.CONSENT_REQUIRED, gettext("Please agree to join the fan club to claim."), "consent"
        )
    try:
        with transaction.atomic():
            coupon, created, wallet = _bind(claim_link=claim_link, identity=identity)
            if phone_for_reminders:
                keep_contact(fan=coupon.fan, phone=phone_for_reminders, language=language)
            if wallet is None:
                wallet = wallet_for(fan=coupon.fan)
    except IntegrityError:
        # The same fan claimed at the same moment and won: show that coupon.
        coupon = Coupon.objects.filter(
            placement_id=claim_link.placement_id, fan__fan_key=identity.fan_key, ordinal=1
        ).first()
        if coupon is None:
            raise
        created = False
        wallet = wallet_for(fan=coupon.fan)
    return ClaimResult(coupon=coupon, wallet=wallet, created=created)


def _bind(*, claim_link: ClaimLink, identity: FanIdentity) -> tuple[Coupon, bool, Wallet | None]:
    now = timezone.now()
    link = claim_link  # a ClaimLink or a ShareLink, loaded with its placement and campaign
    placement, campaign = link.placement, link.placement.campaign
    if (
        not link.is_active
        or placement.status != Placement.Status.ACCEPTED
        or campaign.status != Campaign.Status.ACTIVE
        or (campaign.valid_until is not None and campaign.valid_until <= now)
    ):
        raise _unavailable()
    fan, wallet = _join(identity=identity, placement=placement, now=now)
    share = link if isinstance(link, ShareLink) else None
    if share is not None and share.fan_id == fan.pk:
        raise ServiceError.single(
            ClaimErrorCode.OWN_SHARE, gettext("This is your own share link: send it to a friend."), None
        )
    coupon, created = _bind_coupon(
        placement=placement,
        fan=fan,
        claim_link=None if share else link,
        channel=link.channel,
        now=now,
        share=share,
    )
    return coupon, created, wallet


# The fan (upserted), its membership of the placement's pool (source ``claim``; claiming with
# consent renews a consent withdrawn earlier) and its active wallet (created, or the one it
# has), in one statement. A wallet another transaction committed while this statement waited
# for the fan's row is not in its snapshot: then no wallet comes back and the caller reads it.
_JOIN_SQL = """
WITH fan AS (
  INSERT INTO audience_fan (fan_key, kind, created_at) VALUES (%(fan_key)s, %(kind)s, now())
  ON CONFLICT (fan_key) DO UPDATE SET kind = audience_fan.kind RETURNING id
), member AS (
  INSERT INTO audience_poolmembership (pool_id, fan_id, consented_at, source, created_at)
  SELECT %(pool)s, fan.id, %(now)s, %(source)s, now() FROM fan
  ON CONFLICT (pool_id, fan_id) DO UPDATE SET consented_at = EXCLUDED.consented_at, consent_withdrawn_at = NULL
  WHERE audience_poolmembership.consent_withdrawn_at IS NOT NULL
), created AS (
  INSERT INTO fans_wallet (fan_id, token, created_at) SELECT fan.id, %(token)s, now() FROM fan
  ON CONFLICT DO NOTHING RETURNING id, token, created_at
), wallet AS (
  SELECT id, token, created_at FROM created UNION ALL
  SELECT w.id, w.token, w.created_at FROM fans_wallet w, fan WHERE w.fan_id = fan.id AND w.revoked_at IS NULL
  LIMIT 1
)
SELECT fan.id, wallet.id, wallet.token, wallet.created_at FROM fan LEFT JOIN wallet ON true
"""


def _join(*, identity: FanIdentity, placement: Placement, now) -> tuple[Fan, Wallet | None]:
    """The claiming fan, in the placement's pool, and its wallet (None: read it after)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _JOIN_SQL,
            {
                "fan_key": identity.fan_key,
                "kind": str(identity.kind),
                "pool": placement.pool_id,
                "now": now,
                "source": MEMBERSHIP_SOURCE,
                "token": secrets.token_urlsafe(32),
            },
        )
        fan_id, wallet_id, token, created_at = cursor.fetchone()
    fan = Fan(pk=fan_id, fan_key=identity.fan_key, kind=identity.kind)
    if wallet_id is None:
        return fan, None
    return fan, Wallet(pk=wallet_id, fan=fan, token=token, created_at=created_at, revoked_at=None)


_COUPON_COLUMNS = columns(Coupon, Coupon._meta.db_table)  # qualified: also valid in RETURNING

# The binding in one statement: the fan's coupon of the placement if it holds one; else one
# unit of the quota (or, for a friend through a share link once the quota is used up, of the
# share allowance) taken by a conditional UPDATE of the placement row, the coupon and the
# claim. The UPDATE re-checks its condition on the row's latest version after waiting for a
# concurrent claim's lock (READ COMMITTED), so the quota holds exactly whatever the
# concurrency; the unique (placement, fan, ordinal) refuses a second coupon for the fan.
_BIND_SQL = f"""
WITH existing AS (
  SELECT {_COUPON_COLUMNS} FROM coupons_coupon
  WHERE placement_id = %(placement)s AND fan_id = %(fan)s AND ordinal = 1
), taken AS (
  UPDATE campaigns_placement SET
    issued_count = issued_count + (issued_count < quota)::int,
    share_issued_count = share_issued_count + (issued_count >= quota)::int
  WHERE id = %(placement)s AND status = %(accepted)s AND NOT EXISTS (SELECT 1 FROM existing)
    AND (issued_count < quota OR (%(share)s AND share_issued_count < share_allowance))
  RETURNING id
), coupon AS (
  INSERT INTO coupons_coupon (code, campaign_id, placement_id, fan_id, ordinal, status, issued_at, valid_from, valid_until)
  SELECT %(code)s, %(campaign)s, taken.id, %(fan)s, 1, %(issued)s, %(now)s, %(valid_from)s, %(valid_until)s FROM taken
  RETURNING {_COUPON_COLUMNS}
), claim AS (
  INSERT INTO fans_claim (coupon_id, placement_id, fan_id, claim_link_id, channel, sharer_id, sharer_parent_id, created_at)
  SELECT coupon.id, coupon.placement_id, coupon.fan_id, %(link)s, %(channel)s, %(sharer)s, %(sharer_parent)s, %(now)s
  FROM coupon
)
SELECT false, * FROM existing UNION ALL SELECT true, * FROM coupon
"""  # noqa: S608 (column names from the model; values are parameters)


def _bind_coupon(
    *, placement: Placement, fan: Fan, claim_link: ClaimLink | None, channel: str, now, share=None
) -> tuple[Coupon, bool]:
    """The fan's coupon of the placement: the one it holds, or a new one from the quota.

    One statement (``_BIND_SQL``): exact quota and share allowance under concurrency, one
    coupon per fan and placement (a concurrent twin raises IntegrityError: the caller shows
    the coupon that won).
    """
    campaign = placement.campaign
    valid_from, valid_until = coupon_validity(campaign, now)
    with connection.cursor() as cursor:
        cursor.execute(
            _BIND_SQL,
            {
                "placement": placement.pk,
                "fan": fan.pk,
                "accepted": Placement.Status.ACCEPTED.value,
                "share": share is not None,
                "code": codes.new_code(),
                "campaign": campaign.pk,
                "issued": Coupon.Status.ISSUED.value,
                "now": now,
                "valid_from": valid_from,
                "valid_until": valid_until,
                "link": claim_link.pk if claim_link is not None else None,
                "channel": channel,
                "sharer": share.fan_id if share else None,
                "sharer_parent": share.parent_id if share else None,
            },
        )
        row = cursor.fetchone()
    if row is None:
        raise ServiceError.single(
            ClaimErrorCode.QUOTA_EXHAUSTED, gettext("Sorry, all coupons have been claimed."), None
        )
    coupon = model_from_row(Coupon, row, 1)
    coupon.fan, coupon.placement = fan, placement
    if coupon.campaign_id == campaign.pk:
        coupon.campaign = campaign
    return coupon, row[0]


# --- the publisher's CRM publishes one coupon to one customer ------------------------------

PUBLISH_CHANNEL = "crm"


def coupon_publish(
    *, merchant: Merchant, placement: Placement, external_ref: str | None = None, phone: str | None = None
) -> tuple[Coupon, bool]:
    """Publishes one coupon of an accepted placement to one consenting member of its pool,
    named by the publisher's ``external_ref`` or by phone. Idempotent: the same fan gets the
    same coupon again (``False`` then), and the quota is taken once.
    """
    external_ref = (external_ref or "").strip() or None
    phone = (phone or "").strip() or None
    if (external_ref is None) == (phone is None):
        raise ServiceError.single(
            PublishErrorCode.ONE_RECIPIENT, "Give an externalRef or a phone number, not both.", "external_ref"
        )
    if placement.publisher_id != merchant.pk:
        raise ServiceError.single(
            PublishErrorCode.ONLY_PUBLISHER, "Only the publisher publishes coupons.", "placement_id"
        )
    memberships = PoolMembership.objects.filter(pool_id=placement.pool_id, consent_withdrawn_at__isnull=True)
    if external_ref is not None:
        membership = memberships.filter(external_ref=external_ref).first()
        field = "external_ref"
    else:
        try:
            fan_key = phone_identity(phone).fan_key
        except InvalidIdentity as exc:
            raise ServiceError.single(exc.code, str(exc), "phone") from exc
        membership = memberships.filter(fan__fan_key=fan_key).first()
        field = "phone"
    if membership is None:
        raise ServiceError.single(
            PublishErrorCode.FAN_NOT_IN_POOL,
            "No consenting member of the placement's pool is named so.",
            field,
        )
    try:
        with transaction.atomic():
            placement = Placement.objects.select_related("campaign").get(pk=placement.pk)
            if (
                placement.status != Placement.Status.ACCEPTED
                or placement.campaign.status != Campaign.Status.ACTIVE
            ):
                raise ServiceError.single(
                    PublishErrorCode.PLACEMENT_NOT_ACCEPTED, "The placement is not running.", "placement_id"
                )
            return _bind_coupon(
                placement=placement,
                fan=membership.fan,
                claim_link=None,
                channel=PUBLISH_CHANNEL,
                now=timezone.now(),
            )
    except IntegrityError:
        coupon = Coupon.objects.filter(placement_id=placement.pk, fan_id=membership.fan_id, ordinal=1).first()
        if coupon is None:
            raise
        return coupon, False


# --- expiry reminders -------------------------------------------------------------------


def send_expiry_reminders(*, now=None, days: int | None = None) -> int:
    """Texts every fan whose coupon ends within ``days`` (settings.FANS_REMINDER_DAYS): once
    per coupon, whatever the re-runs (a unique row per coupon, inserted with the send in one
    transaction), and only to fans who let us keep their number and still consent to the
    coupon's pool. Returns how many went out.
    """
    now = now or timezone.now()
    days = settings.FANS_REMINDER_DAYS if days is None else days
    due = (
        Coupon.objects.filter(
            status=Coupon.Status.ISSUED,
            valid_until__gt=now,
            valid_until__lte=now + dt.timedelta(days=days),
            fan__contact__isnull=False,
            fan__memberships__pool_id=F("placement__pool_id"),
            fan__memberships__consent_withdrawn_at__isnull=True,
        )
        .exclude(pk__in=ExpiryReminder.objects.values("coupon_id"))
        .values_list("pk", flat=True)
        .order_by("pk")
    )
    sent = 0
    for coupon_id in list(due[:5000]):
        try:
            sent += _remind(coupon_id, now=now)
        except SendFailed:
            continue  # the reminder's row rolled back with the send: the next run tries again
    return sent


def _remind(coupon_id: int, *, now) -> int:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO fans_expiryreminder (coupon_id, sent_at) VALUES (%s, %s) "
                "ON CONFLICT (coupon_id) DO NOTHING RETURNING coupon_id",
                [coupon_id, now],
            )
            if cursor.fetchone() is None:
                return 0  # another run took it
        coupon = Coupon.objects.select_related("campaign", "fan__contact").get(pk=coupon_id)
        contact = coupon.fan.contact
        wallet = wallet_for(fan=coupon.fan)
        with translation.override(contact.language):
            body = gettext("Your coupon %(name)s expires on %(date)s. Open your wallet: %(url)s") % {
                "name": coupon.campaign.name,
                "date": coupon.valid_until.date().isoformat(),
                "url": settings.FANS_PUBLIC_URL.rstrip("/")
                + reverse("fans:wallet", kwargs={"token": wallet.token}),
            }
        send_text(
            phone=decrypt_phone(contact.phone_encrypted),
            recipient_key=coupon.fan.fan_key,
            kind="expiry_reminder",
            body=body,
        )
        return 1


# --- the publisher's claim links -------------------------------------------------------


@transaction.atomic
def claim_link_create(*, merchant: Merchant, placement: Placement, channel: str) -> ClaimLink:
    """A new claim link for an accepted placement: its publisher only."""
    if placement.publisher_id != merchant.pk:
        raise ServiceError.single(
            ClaimLinkErrorCode.ONLY_PUBLISHER, "Only the publisher hands out claim links.", "placement_id"
        )
    if placement.status != Placement.Status.ACCEPTED:
        raise ServiceError.single(
            ClaimLinkErrorCode.PLACEMENT_NOT_ACCEPTED, f"The placement is {placement.status}.", "placement_id"
        )
    channel = (channel or "").strip().lower()
    if not CHANNEL_RE.match(channel):
        raise ServiceError.single(
            ClaimLinkErrorCode.INVALID_CHANNEL,
            "A channel is 1-40 lower-case letters, digits, '-' or '_' (e.g. wechat-group).",
            "channel",
        )
    return ClaimLink.objects.create(placement=placement, channel=channel, token=secrets.token_urlsafe(12))


def claim_link_disable(*, merchant: Merchant, claim_link: ClaimLink) -> ClaimLink:
    """Stops a claim link (idempotent); coupons already claimed stay valid."""
    if claim_link.placement.publisher_id != merchant.pk:
        raise ServiceError.single(
            ClaimLinkErrorCode.ONLY_PUBLISHER, "Only the publisher manages claim links.", "id"
        )
    ClaimLink.objects.filter(pk=claim_link.pk, disabled_at__isnull=True).update(disabled_at=timezone.now())
    claim_link.refresh_from_db(fields=["disabled_at"])
    return claim_link


# --- sharing: the share allowance and referral rewards ----------------------------------

MAX_SHARE_ALLOWANCE = 1_000_000


def placement_share_allowance_set(*, merchant: Merchant, placement: Placement, allowance: int) -> Placement:
    """How many coupons friends may claim through share links once the quota is used up.

    The placement's issuer or its publisher sets it; never below what friends already took
    (one conditional UPDATE, so a concurrent friend's claim cannot slip under it).
    """
    if merchant.pk not in (placement.issuer_id, placement.publisher_id):
        raise ServiceError.single(
            SharingErrorCode.ONLY_PARTIES, "Only the placement's issuer or publisher sets it.", "placement_id"
        )
    if not 0 <= allowance <= MAX_SHARE_ALLOWANCE:
        raise ServiceError.single(
            SharingErrorCode.INVALID_ALLOWANCE, f"The allowance is 0 to {MAX_SHARE_ALLOWANCE:,}.", "allowance"
        )
    changed = Placement.objects.filter(pk=placement.pk, share_issued_count__lte=allowance).update(
        share_allowance=allowance
    )
    placement.refresh_from_db(fields=["share_allowance", "share_issued_count"])
    if not changed:
        raise ServiceError.single(
            SharingErrorCode.INVALID_ALLOWANCE,
            f"Friends already took {placement.share_issued_count}: the allowance cannot be lower.",
            "allowance",
        )
    return placement


@transaction.atomic
def campaign_referral_reward_set(
    *, merchant: Merchant, campaign: Campaign, reward: Campaign | None
) -> Campaign:
    """The campaign's referral reward: a campaign of the same issuer, not itself and not
    ended (None removes it). Rewards already given stay."""
    if campaign.merchant_id != merchant.pk:
        raise ServiceError.single(
            SharingErrorCode.ONLY_ISSUER,
            "Only the campaign's issuer sets its referral reward.",
            "campaign_id",
        )
    if reward is not None and (
        reward.merchant_id != merchant.pk
        or reward.pk == campaign.pk
        or reward.status == Campaign.Status.ENDED
    ):
        raise ServiceError.single(
            SharingErrorCode.INVALID_REWARD,
            "The reward is another running campaign of the same issuer.",
            "reward_campaign_id",
        )
    Campaign.objects.filter(pk=campaign.pk).update(referral_reward=reward)
    campaign.referral_reward = reward
    return campaign


def _reward_placement(*, reward: Campaign, placement: Placement, now) -> Placement | None:
    """Where reward coupons of ``reward`` sit for the publisher of ``placement``: the reward
    campaign's open placement in the same pool, created (accepted) on demand. None when
    that placement is only proposed (the publisher has not accepted it yet)."""
    fields = {"campaign": reward, "pool_id": placement.pool_id, "status__in": ["proposed", "accepted"]}
    found = Placement.objects.filter(**fields).first()
    if found is None:
        try:
            with transaction.atomic():
                found = Placement.objects.create(
                    campaign=reward,
                    issuer_id=reward.merchant_id,
                    publisher_id=placement.publisher_id,
                    pool_id=placement.pool_id,
                    status=Placement.Status.ACCEPTED,
                    quota=1,
                    publisher_share_bps=0,
                    decided_at=now,
                    auto_accepted=True,
                )
        except IntegrityError:  # created at the same moment by another reward
            found = Placement.objects.filter(**fields).first()
    if found is None or found.status != Placement.Status.ACCEPTED:
        return None
    return found


def grant_referral_reward(*, redemption_id: int) -> ReferralReward | None:
    """A friend's verified write-off of a coupon claimed through a share link gives the sharer
    one coupon of the campaign's referral reward: once per write-off (unique on the
    redemption). Run by the outbox handler inside its transaction."""
    redemption = (
        Redemption.objects.select_related("coupon__campaign__referral_reward", "coupon__placement")
        .filter(pk=redemption_id, status=Redemption.Status.VERIFIED, coupon__isnull=False)
        .first()
    )
    if redemption is None:
        return None  # rejected, unknown, or voided before its event ran
    coupon = redemption.coupon
    reward = coupon.campaign.referral_reward
    sharer_id = Claim.objects.filter(coupon_id=coupon.pk).values_list("sharer_id", flat=True).first()
    if sharer_id is None or reward is None or reward.status != Campaign.Status.ACTIVE:
        return None
    existing = ReferralReward.objects.filter(redemption_id=redemption_id).first()
    if existing is not None:
        return existing
    now = timezone.now()
    with transaction.atomic():
        placement = _reward_placement(reward=reward, placement=coupon.placement, now=now)
        if placement is None:
            return None
        placement = Placement.objects.select_for_update().get(pk=placement.pk)  # ordinals one by one
        existing = ReferralReward.objects.filter(redemption_id=redemption_id).first()
        if existing is not None:  # a concurrent run gave it while we waited for the lock
            return existing
        # Hold the write-off while the reward is made: a void waits for this commit (and its
        # take-back then finds the reward), or it committed first and there is no reward.
        still_verified = (
            Redemption.objects.select_for_update(no_key=True)
            .filter(pk=redemption_id, status=Redemption.Status.VERIFIED)
            .values_list("pk", flat=True)
            .first()
        )
        if still_verified is None:
            return None
        ordinal = (
            Coupon.objects.filter(placement=placement, fan_id=sharer_id).aggregate(n=Max("ordinal"))["n"] or 0
        ) + 1
        # A reward is earned, so it is not held back by the placement's quota: the quota grows.
        Placement.objects.filter(pk=placement.pk).update(
            issued_count=F("issued_count") + 1, quota=Greatest(F("quota"), F("issued_count") + 1)
        )
        valid_from, valid_until = coupon_validity(reward, now)
        reward_coupon = Coupon.objects.create(
            code=codes.new_code(),
            campaign=reward,
            placement=placement,
            fan_id=sharer_id,
            ordinal=ordinal,
            issued_at=now,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        return ReferralReward.objects.create(
            redemption_id=redemption_id, sharer_id=sharer_id, coupon=reward_coupon
        )


def rewarded_redemption_ids(*, redemption_ids: list[int]) -> list[int]:
    """Of these write-offs, those that may earn a referral reward (verified, of a coupon
    claimed through a share link, of a campaign with a reward): one query for a batch."""
    return list(
        Redemption.objects.filter(
            pk__in=redemption_ids,
            status=Redemption.Status.VERIFIED,
            coupon__claim__sharer__isnull=False,
            coupon__campaign__referral_reward__isnull=False,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def grant_referral_rewards(*, redemption_ids: list[int]) -> None:
    """The batch form of :func:`grant_referral_reward`: one query finds the few write-offs
    that earn a reward, and only those do the work."""
    for redemption_id in rewarded_redemption_ids(redemption_ids=redemption_ids):
        grant_referral_reward(redemption_id=redemption_id)


def take_back_referral_rewards(*, redemption_ids: list[int]) -> None:
    """The batch form of :func:`take_back_referral_reward`: one query when none was rewarded."""
    rewarded = ReferralReward.objects.filter(redemption_id__in=redemption_ids, revoked_at__isnull=True)
    for redemption_id in rewarded.order_by("redemption_id").values_list("redemption_id", flat=True):
        take_back_referral_reward(redemption_id=redemption_id)


def take_back_referral_reward(*, redemption_id: int) -> bool:
    """A void of the friend's write-off takes the sharer's reward coupon back while it is
    unused (it becomes REVOKED); a reward already used stays. Idempotent."""
    with transaction.atomic():
        reward = (
            ReferralReward.objects.select_for_update()
            .filter(redemption_id=redemption_id, revoked_at__isnull=True)
            .first()
        )
        if reward is None:
            return False
        revoked = Coupon.objects.filter(pk=reward.coupon_id, status=Coupon.Status.ISSUED).update(
            status=Coupon.Status.REVOKED
        )
        if revoked:
            ReferralReward.objects.filter(pk=reward.pk).update(revoked_at=timezone.now())
        return bool(revoked)
