"""Synthetic attribution data for the report scenario: N records of one issuer, generated in SQL.

Each record comes with the verified (or voided) Redemption row it belongs to, as the write-off
path leaves them, spread over campaigns, publishers' placements, stores, fans and 90 days.
The rows are written by INSERT ... SELECT over generate_series in batches (no Python loop),
so ten million take minutes rather than hours. The dataset is tagged by its size and kept: a
later run finds it (merchant slug ``bench-synthetic-<records>``) and reuses it.

These rows do not come through the write-off path (no coupon, no outbox event): the
invariant checks leave the ``bench-synthetic-`` merchants out.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from . import sql, world

SLUG_PREFIX = "bench-synthetic-"
BATCH = 1_000_000
PUBLISHERS = 8
STORES = 10
DAYS = 90


@dataclass
class Dataset:
    merchant_id: int
    records: int
    source: str


def _existing(records: int) -> Dataset | None:
    from backend.merchants.models import Merchant

    merchant = Merchant.objects.filter(slug=f"{SLUG_PREFIX}{records}").first()
    if merchant is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM attribution_attributionrecord WHERE issuer_id = %s", [merchant.pk]
        )
        if cursor.fetchone()[0] == records:
            return Dataset(merchant.pk, records, "reused")
    return None


@transaction.atomic
def _skeleton(records: int, campaigns: int):
    """The issuer, its stores and terminals, publishers with pools, campaigns and placements."""
    from backend.merchants.models import Merchant

    Merchant.objects.filter(slug=f"{SLUG_PREFIX}{records}").update(
        slug=f"{SLUG_PREFIX}{records}-stale-{world.new_tag()}"
    )
    w = world.build(terminals=STORES, stores=STORES)
    w.issuer.slug = f"{SLUG_PREFIX}{records}"
    w.issuer.name = f"Synthetic issuer ({records:,} records)"
    w.issuer.save(update_fields=["slug", "name"])
    world.add_fans(w, max(1000, records // 5))
    placements = []
    publishers = [w.publisher] + [world.merchant(w.tag + f"-{i}", "publisher") for i in range(1, PUBLISHERS)]
    from backend.audience.models import FanPool

    pools = [w.pool] + [
        FanPool.objects.create(merchant=p, name=f"Fans {w.tag} {i}") for i, p in enumerate(publishers[1:])
    ]
    for i in range(campaigns):
        campaign = world.Campaign.objects.create(
            merchant=w.issuer,
            name=f"Synthetic campaign {i}",
            status="active",
            benefit_kind="amount_off",
            amount_off=world.AMOUNT_OFF,
            currency=world.CURRENCY,
            fee_per_redemption=world.FEE,
            publisher_share_bps=5000,
            activated_at=timezone.now(),
        )
        for publisher, pool in zip(publishers, pools, strict=True):
            placements.append(
                world.Placement.objects.create(
                    campaign=campaign,
                    issuer=w.issuer,
                    publisher=publisher,
                    pool=pool,
                    status="accepted",
                    quota=10**9,
                    publisher_share_bps=5000,
                    decided_at=timezone.now(),
                )
            )
    return w, placements


def generate(*, records: int, campaigns: int = 20) -> Dataset:
    """The dataset of ``records`` records (reused when a previous run left it complete)."""
    existing = _existing(records)
    if existing is not None:
        return existing
    from attribution.models import AttributionRecord
    from backend.redemptions.models import Redemption

    w, placements = _skeleton(records, campaigns)
    fan_lo, fan_count = w.fan_ids[0], len(w.fan_ids)
    terminals = [t.id for t in w.terminals]
    stores = [t.store_id for t in w.terminals]
    placement_ids = [p.pk for p in placements]
    campaign_ids = [p.campaign_id for p in placements]
    publisher_ids = [p.publisher_id for p in placements]
    # g -> placement k = g % P, store/terminal j = g % S, fan = g % F; every 20th voided; a
    # fan's first record (g < F) is its new-customer write-off; 1 in 10 outside the window.
    redemption_cols, redemption_params = sql.insert_select_sql(
        Redemption,
        {
            "merchant_id": str(w.issuer.pk),
            "store_id": "(%(stores)s::bigint[])[1 + g %% %(ns)s]",
            "terminal_id": "(%(terminals)s::bigint[])[1 + g %% %(ns)s]",
            "campaign_id": "(%(campaigns)s::bigint[])[1 + g %% %(np)s]",
            "placement_id": "(%(placements)s::bigint[])[1 + g %% %(np)s]",
            "code": "'S' || g",
            "status": "CASE WHEN g %% 20 = 0 THEN 'voided' ELSE 'verified' END",
            "reason_code": "''",
            "order_amount": "1000 + (g * 7919) %% 9000",
            "currency": f"'{world.CURRENCY}'",
            "discount_amount": str(world.AMOUNT_OFF),
            "fee_amount": str(world.FEE),
            "idempotency_key": "'synthetic-' || g",
            "request_fingerprint": "md5(g::text)",
            "response": "'{}'::jsonb",
            "created_at": "%(now)s - ((g * 104729) %% (86400 * %(days)s)) * interval '1 second'",
            "voided_at": "CASE WHEN g %% 20 = 0 THEN %(now)s ELSE NULL END",
        },
    )
    record_cols, record_params = sql.insert_select_sql(
        AttributionRecord,
        {
            "redemption_id": "r.id",
            "campaign_id": "r.campaign_id",
            "issuer_id": "r.merchant_id",
            "publisher_id": "(%(publishers)s::bigint[])[1 + r.g %% %(np)s]",
            "placement_id": "r.placement_id",
            "fan_id": "%(fan_lo)s + r.g %% %(nf)s",
            "store_id": "r.store_id",
            "terminal_id": "r.terminal_id",
            "issued_at": "r.created_at - (3600 + (r.g * 31) %% (86400 * 40)) * interval '1 second'",
            "redeemed_at": "r.created_at",
            "seconds_to_redeem": "3600 + (r.g * 31) %% (86400 * 40)",
            "order_amount": "r.order_amount",
            "discount_amount": "r.discount_amount",
            "fee_amount": "r.fee_amount",
            "currency": "r.currency",
            "is_new_customer": "r.g < %(nf)s AND r.voided_at IS NULL",
            "in_attribution_window": "(r.g %% 10) <> 0",
            "voided_at": "r.voided_at",
        },
    )
    statement = (
        f"WITH r AS (INSERT INTO redemptions_redemption {_named(redemption_cols, redemption_params)} "
        f"FROM generate_series(%(lo)s, %(hi)s) AS g "
        f"RETURNING id, substr(code, 2)::bigint AS g, campaign_id, placement_id, merchant_id, store_id, "
        f"terminal_id, created_at, order_amount, discount_amount, fee_amount, currency, voided_at) "
        f"INSERT INTO attribution_attributionrecord {_named(record_cols, record_params)} FROM r"
    )
    params = {
        "stores": stores,
        "terminals": terminals,
        "ns": len(stores),
        "placements": placement_ids,
        "campaigns": campaign_ids,
        "publishers": publisher_ids,
        "np": len(placement_ids),
        "fan_lo": fan_lo,
        "nf": fan_count,
        "now": timezone.now(),
        "days": DAYS,
    }
    # Fans must be consecutive ids for "fan_lo + g % nf" to name real fans.
    assert w.fan_ids[-1] - fan_lo + 1 == fan_count, "fan ids are not consecutive"
    for lo in range(0, records, BATCH):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, {**params, "lo": lo, "hi": min(records, lo + BATCH) - 1})
    return Dataset(w.issuer.pk, records, "generated")


def _named(fragment: str, params: list) -> str:
    """Inline positional default parameters so the statement can use named ones."""
    return sql._inline(fragment, params)
