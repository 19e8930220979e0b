"""The data each scenario runs on, built fast: small rows through the ORM, bulk rows by SQL/COPY.

A world is one issuer (with stores and one terminal per load-generating client), one
publisher with a fan pool, active campaigns with their budget slots, accepted placements,
and issued coupons whose codes the load generator sends.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from backend.audience.models import Fan, FanPool, PoolMembership
from backend.campaigns.budget import allocate_slots
from backend.campaigns.models import Campaign, Placement
from backend.coupons import codes as coupon_codes
from backend.coupons.models import Coupon
from backend.merchants import credentials
from backend.merchants.models import Merchant, Store, Terminal

from . import sql

ORDER_AMOUNT = 3000
AMOUNT_OFF = 500
FEE = 120
COST = AMOUNT_OFF + FEE  # what one write-off takes from a campaign's budget
CURRENCY = "CNY"


@dataclass
class TerminalCreds:
    id: int
    uid: str
    secret: str
    merchant_id: int
    store_id: int


@dataclass
class World:
    tag: str
    issuer: Merchant
    publisher: Merchant
    stores: list[Store]
    terminals: list[TerminalCreds]
    pool: FanPool | None = None
    fan_ids: list[int] = field(default_factory=list)
    campaigns: list[Campaign] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)


def new_tag() -> str:
    return secrets.token_hex(4)


def merchant(tag: str, role: str) -> Merchant:
    return Merchant.objects.create(
        name=f"Bench {role} {tag}", slug=f"bench-{role}-{tag}", default_currency=CURRENCY
    )


def terminal(store: Store, name: str) -> TerminalCreds:
    secret = credentials.new_terminal_secret()
    t = Terminal.objects.create(
        merchant_id=store.merchant_id,
        store=store,
        uid=credentials.new_terminal_uid(),
        name=name,
        secret_encrypted=credentials.encrypt_terminal_secret(secret),
    )
    return TerminalCreds(id=t.pk, uid=t.uid, secret=secret, merchant_id=t.merchant_id, store_id=t.store_id)


def build(*, terminals: int, stores: int = 4) -> World:
    """Issuer with stores and ``terminals`` terminals (one per client), and a publisher."""
    tag = new_tag()
    issuer, publisher = merchant(tag, "issuer"), merchant(tag, "publisher")
    store_rows = [Store.objects.create(merchant=issuer, name=f"Store {i}") for i in range(stores)]
    creds = [terminal(store_rows[i % stores], f"till {i}") for i in range(terminals)]
    return World(tag=tag, issuer=issuer, publisher=publisher, stores=store_rows, terminals=creds)


def add_fans(world: World, count: int) -> list[int]:
    """A pool of ``count`` fans of the publisher, all consenting (one INSERT ... SELECT each)."""
    pool = FanPool.objects.create(merchant=world.publisher, name=f"Bench fans {world.tag}")
    fan_cols, fan_params = sql.insert_select_sql(
        Fan, {"fan_key": f"md5('{world.tag}-' || g)", "kind": "'phone'", "created_at": "now()"}
    )
    member_cols, member_params = sql.insert_select_sql(
        PoolMembership,
        {
            "pool_id": str(int(pool.pk)),
            "fan_id": "f.id",
            "consented_at": "now()",
            "source": "'bench'",
            "created_at": "now()",
        },
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH f AS (INSERT INTO {Fan._meta.db_table} {fan_cols} FROM generate_series(1, %s) AS g "
            f"RETURNING id) INSERT INTO {PoolMembership._meta.db_table} {member_cols} FROM f",
            [*fan_params, count, *member_params],
        )
        cursor.execute(
            f"SELECT fan_id FROM {PoolMembership._meta.db_table} WHERE pool_id = %s ORDER BY fan_id",
            [pool.pk],
        )
        fan_ids = [row[0] for row in cursor.fetchall()]
    world.pool = pool
    world.fan_ids = fan_ids
    return fan_ids


def add_campaigns(
    world: World,
    count: int,
    *,
    max_redemptions: int | None = None,
    budget_cap: int | None = None,
    quota: int = 10_000_000,
) -> list[tuple[Campaign, Placement]]:
    """``count`` active campaigns of the issuer (slots allocated), each placed into the pool."""
    assert world.pool is not None, "add_fans first"
    out = []
    now = timezone.now()
    for i in range(count):
        campaign = Campaign.objects.create(
            merchant=world.issuer,
            name=f"Bench {world.tag} #{i}",
            status=Campaign.Status.ACTIVE,
            benefit_kind=Campaign.BenefitKind.AMOUNT_OFF,
            amount_off=AMOUNT_OFF,
            currency=CURRENCY,
            fee_per_redemption=FEE,
            publisher_share_bps=5000,
            max_redemptions=max_redemptions,
            budget_cap=budget_cap,
            activated_at=now,
        )
        allocate_slots(campaign=campaign)
        placement = Placement.objects.create(
            campaign=campaign,
            issuer=world.issuer,
            publisher=world.publisher,
            pool=world.pool,
            status=Placement.Status.ACCEPTED,
            quota=quota,
            publisher_share_bps=5000,
            decided_at=now,
        )
        world.campaigns.append(campaign)
        world.placements.append(placement)
        out.append((campaign, placement))
    return out


def coupon_rows(placement: Placement, fan_ids: list[int], codes: list[str], issued_at):
    """Rows for COPY (code, campaign_id, placement_id, fan_id, ordinal, status, issued_at)."""
    for code, fan_id in zip(codes, fan_ids, strict=True):
        yield (code, placement.campaign_id, placement.pk, fan_id, 1, "issued", issued_at)


COUPON_COLUMNS = ("code", "campaign_id", "placement_id", "fan_id", "ordinal", "status", "issued_at")


@transaction.atomic
def issue_coupons(placement: Placement, fan_ids: list[int]) -> list[str]:
    """Issued coupons of ``placement`` for ``fan_ids`` (one each), by COPY; their codes."""
    codes = coupon_codes.new_codes(len(fan_ids))
    now = timezone.now()
    with connection.cursor() as cursor:
        sql.copy_rows(cursor.cursor, Coupon, COUPON_COLUMNS, coupon_rows(placement, fan_ids, codes, now), now)
    Placement.objects.filter(pk=placement.pk).update(issued_count=len(fan_ids))
    return codes
