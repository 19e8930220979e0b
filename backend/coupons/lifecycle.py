"""The end of a coupon's life: expiry past its validity, and revocation by the issuer.

Both move ``issued`` coupons only, by conditional UPDATEs in batches, each batch its own
short transaction: a write-off racing them either wins (the coupon is redeemed and stays so)
or loses and answers EXPIRED / COUPON_REVOKED at the till. Expiry skips rows a write-off
holds (SKIP LOCKED) so it never makes a till wait; the next run takes them. Revocation waits
for them instead (a write-off's lock lasts milliseconds), so none is left behind. Each batch
announces ``coupons.expired`` / ``coupons.revoked`` to the issuer, per campaign.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.db import connection, transaction
from django.utils import timezone

from backend.api import ids
from backend.api.errors import CommonErrorCode, ServiceError
from backend.campaigns.models import Campaign, Placement
from backend.merchants.models import Merchant
from backend.webhooks import events as webhook_events

from .models import Coupon

EXPIRY_BATCH = 5000
REVOKE_BATCH = 5000

_EXPIRE_SQL = """
WITH due AS (
    SELECT id FROM coupons_coupon
     WHERE status = 'issued' AND valid_until <= %(now)s
     ORDER BY valid_until LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED)
UPDATE coupons_coupon AS c SET status = 'expired'
  FROM due WHERE c.id = due.id AND c.status = 'issued'
RETURNING c.campaign_id
"""

_REVOKE_SQL = """
WITH batch AS (
    SELECT id FROM coupons_coupon
     WHERE status = 'issued' AND {scope}
     ORDER BY id LIMIT %(limit)s
       FOR UPDATE)
UPDATE coupons_coupon AS c SET status = 'revoked'
  FROM batch WHERE c.id = batch.id AND c.status = 'issued'
RETURNING c.campaign_id
"""


def _announce(topic: str, campaign_counts: Counter, **extra) -> None:
    issuers = dict(Campaign.objects.filter(pk__in=campaign_counts).values_list("pk", "merchant_id"))
    for campaign_id, count in sorted(campaign_counts.items()):
        webhook_events.announce(
            topic=topic,
            recipients=[
                (
                    issuers[campaign_id],
                    {"campaign": {"id": ids.encode("Campaign", campaign_id)}, "count": count, **extra},
                )
            ],
        )


def expire_batch(*, now: dt.datetime | None = None, limit: int = EXPIRY_BATCH) -> int:
    """Mark up to ``limit`` issued coupons past their validity EXPIRED; how many."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_EXPIRE_SQL, {"now": now, "limit": limit})
        counts = Counter(row[0] for row in cursor.fetchall())
        if counts:
            _announce(webhook_events.COUPONS_EXPIRED.name, counts)
    return sum(counts.values())


def expire_coupons(*, now: dt.datetime | None = None, limit: int = EXPIRY_BATCH) -> int:
    """Every issued coupon past its validity becomes EXPIRED, batch by batch; how many."""
    total = 0
    while True:
        done = expire_batch(now=now, limit=limit)
        total += done
        if done < limit:
            return total


def coupons_revoke(
    *,
    merchant: Merchant,
    code: str | None = None,
    placement: Placement | None = None,
    campaign: Campaign | None = None,
    reason: str = "",
    limit: int = REVOKE_BATCH,
) -> int:
    """The issuer revokes one coupon (by code), a placement's unredeemed coupons, or a
    campaign's: each ``issued`` one becomes REVOKED (redeemed, expired ones stay). How many.

    Exactly one of ``code``, ``placement``, ``campaign``; another merchant's is NOT_FOUND.
    """
    if sum(x is not None for x in (code, placement, campaign)) != 1:
        raise ServiceError.single(CommonErrorCode.INVALID, "Name one coupon, one placement or one campaign.")
    if len(reason) > 200:
        raise ServiceError.single(CommonErrorCode.TOO_LONG, "At most 200 characters.", "reason")
    if code is not None:
        coupon = Coupon.objects.filter(code=code.strip().upper(), campaign__merchant=merchant).first()
        if coupon is None:
            raise ServiceError.not_found("code", "Coupon")
        if coupon.status != Coupon.Status.ISSUED:
            raise ServiceError.single(
                CommonErrorCode.INVALID_STATE, f"The coupon is {coupon.status}.", "code"
            )
        scope, params = "id = %(id)s", {"id": coupon.pk}
    elif placement is not None:
        if placement.issuer_id != merchant.pk:
            raise ServiceError.not_found("placement_id", "Placement")
        scope, params = "placement_id = %(id)s", {"id": placement.pk}
    else:
        if campaign.merchant_id != merchant.pk:
            raise ServiceError.not_found("campaign_id", "Campaign")
        scope, params = "campaign_id = %(id)s", {"id": campaign.pk}
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_REVOKE_SQL.format(scope=scope), {**params, "limit": limit})
            counts = Counter(row[0] for row in cursor.fetchall())
            if counts:
                _announce(webhook_events.COUPONS_REVOKED.name, counts, reason=reason)
        done = sum(counts.values())
        total += done
        if done < limit:
            return total
