"""Synthetic attribution data for benchmarks: N records written by generate_series in SQL.

    from attribution.bench_data import generate, reference_funnel_sql
    network = generate(10_000_000, coupons=0)
    # time attribution.reports.build_report(merchant=network.issuers[0], ...)
    # against the plain GROUP BY in reference_funnel_sql()

A small network (issuers, publishers with pools, stores, terminals, campaigns, a
placement per campaign and publisher, fans) is made with the ORM; the redemptions, the
attribution records (one per redemption, ~2 % voided, ~10 % outside the attribution
window) and optionally coupons are inserted in batches of INSERT ... SELECT over
generate_series, so no row passes through Python. Not for production databases.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field

from django.db import connection, models, transaction
from django.utils import timezone

from backend.audience.models import FanPool
from backend.campaigns.models import Campaign, Placement
from backend.coupons.models import Coupon
from backend.merchants.models import Merchant, Store, Terminal
from backend.redemptions.models import Redemption

from .models import AttributionRecord


@dataclass
class BenchNetwork:
    issuers: list[Merchant]
    publishers: list[Merchant]
    campaigns: list[Campaign]
    placements: list[Placement]
    start: dt.datetime
    end: dt.datetime
    records: int = 0
    coupons: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def _network(tag: str, *, issuers: int, publishers: int, campaigns_per_issuer: int, stores_per_issuer: int):
    issuer_rows = [
        Merchant.objects.create(name=f"Bench issuer {i}", slug=f"bench-{tag}-i{i}", timezone="Asia/Shanghai")
        for i in range(issuers)
    ]
    publisher_rows = [
        Merchant.objects.create(name=f"Bench publisher {i}", slug=f"bench-{tag}-p{i}")
        for i in range(publishers)
    ]
    pools = [FanPool.objects.create(merchant=p, name=f"bench {tag}") for p in publisher_rows]
    stores: dict[int, list[tuple[int, int]]] = {}
    for issuer in issuer_rows:
        for s in range(stores_per_issuer):
            store = Store.objects.create(merchant=issuer, name=f"bench {tag} {s}")
            terminal = Terminal.objects.create(
                merchant=issuer,
                store=store,
                uid=f"bench-{uuid.uuid4().hex[:24]}",
                name="bench",
                secret_encrypted=b"bench",
            )
            stores.setdefault(issuer.pk, []).append((store.pk, terminal.pk))
    campaigns, placements = [], []
    for issuer in issuer_rows:
        for c in range(campaigns_per_issuer):
            campaign = Campaign.objects.create(
                merchant=issuer,
                name=f"bench {tag} {c}",
                status=Campaign.Status.ACTIVE,
                benefit_kind=Campaign.BenefitKind.AMOUNT_OFF,
                amount_off=500,
                currency="CNY",
                fee_per_redemption=120,
                publisher_share_bps=5000,
                attribution_window_days=30,
            )
            campaigns.append(campaign)
            for pool in pools:
                placements.append(
                    Placement.objects.create(
                        campaign=campaign,
                        issuer=issuer,
                        publisher_id=pool.merchant_id,
                        pool=pool,
                        status=Placement.Status.ACCEPTED,
                        quota=10**9,
                        publisher_share_bps=5000,
                    )
                )
    return issuer_rows, publisher_rows, campaigns, placements, stores


def _insert_columns(model: type[models.Model], given: dict[str, str]) -> tuple[list[str], list[str], list]:
    """Columns and SQL expressions for an INSERT ... SELECT into ``model``.

    Fields named in ``given`` use its expression; any other (a column another app added)
    gets NULL or its Python default as a parameter, so this keeps working as models grow.
    """
    columns, expressions, params = [], [], []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        columns.append(f.column)
        if f.column in given:
            expressions.append(given[f.column])
        elif f.null:
            expressions.append("NULL")
        else:
            default = f.get_default()
            expressions.append("%s")
            params.append(f.get_db_prep_save(default, connection))
    return columns, expressions, params


def generate(
    n: int,
    *,
    issuers: int = 4,
    publishers: int = 8,
    campaigns_per_issuer: int = 5,
    stores_per_issuer: int = 5,
    fans: int = 100_000,
    coupons: int = 0,
    days: int = 90,
    batch: int = 1_000_000,
    analyze: bool = True,
) -> BenchNetwork:
    """Insert ``n`` redemptions with their ``n`` attribution records (and ``coupons`` coupons)."""
    tag = uuid.uuid4().hex[:8]
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    with transaction.atomic():
        issuer_rows, publisher_rows, campaigns, placements, stores = _network(
            tag,
            issuers=issuers,
            publishers=publishers,
            campaigns_per_issuer=campaigns_per_issuer,
            stores_per_issuer=stores_per_issuer,
        )
    end = timezone.now().replace(microsecond=0)
    start = end - dt.timedelta(days=days)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audience_fan (fan_key, kind, created_at) "
            "SELECT 'bench-' || %s || '-' || g, 'phone', now() FROM generate_series(1, %s) g",
            [tag, fans],
        )
        # Lookup tables: placement index -> its facts (one store/terminal per placement, by turns).
        cursor.execute(
            "CREATE TEMP TABLE bench_placement (idx int PRIMARY KEY, placement_id bigint, "
            "campaign_id bigint, issuer_id bigint, publisher_id bigint, store_id bigint, terminal_id bigint)"
        )
        rows = []
        for idx, p in enumerate(placements):
            store_id, terminal_id = stores[p.issuer_id][idx % len(stores[p.issuer_id])]
            rows.append((idx, p.pk, p.campaign_id, p.issuer_id, p.publisher_id, store_id, terminal_id))
        cursor.executemany("INSERT INTO bench_placement VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
        cursor.execute(
            "CREATE TEMP TABLE bench_fan AS SELECT (row_number() OVER (ORDER BY id) - 1)::int AS idx, "
            "id AS fan_id FROM audience_fan WHERE fan_key LIKE %s",
            [f"bench-{tag}-%"],
        )
        cursor.execute("CREATE UNIQUE INDEX ON bench_fan (idx)")
    timings["network"] = time.perf_counter() - t0
    placement_count = len(placements)
    span = int((end - start).total_seconds())

    t0 = time.perf_counter()
    done = 0
    while done < n:
        size = min(batch, n - done)
        _insert_batch(tag, done, size, placement_count, fans, start, span)
        done += size
    timings["records"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if coupons:
        _insert_coupons(tag, coupons, placement_count, fans, start, span)
    timings["coupons"] = time.perf_counter() - t0
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_placement, bench_fan")
        if analyze:
            t0 = time.perf_counter()
            cursor.execute("ANALYZE attribution_attributionrecord")
            cursor.execute("ANALYZE redemptions_redemption")
            cursor.execute("ANALYZE coupons_coupon")
            timings["analyze"] = time.perf_counter() - t0
    return BenchNetwork(
        issuers=issuer_rows,
        publishers=publisher_rows,
        campaigns=campaigns,
        placements=placements,
        start=start,
        end=end,
        records=n,
        coupons=coupons,
        seconds=timings,
    )


def _insert_batch(tag: str, offset: int, size: int, placements: int, fans: int, start, span: int) -> None:
    # k is the 0-based row number; every figure is a cheap function of k (and random()).
    redemption_columns, redemption_exprs, redemption_params = _insert_columns(
        Redemption,
        {
            "merchant_id": "bp.issuer_id",
            "store_id": "bp.store_id",
            "terminal_id": "bp.terminal_id",
            "coupon_id": "NULL",
            "campaign_id": "bp.campaign_id",
            "placement_id": "bp.placement_id",
            "code": "'BENCH'",
            "status": "CASE WHEN g.k %% 50 = 0 THEN 'voided' ELSE 'verified' END",
            "order_amount": "1000 + (g.k * 37) %% 9000",
            "currency": "'CNY'",
            "discount_amount": "500",
            "fee_amount": "120",
            "idempotency_key": f"'bench-{tag}-' || g.k",
            "request_fingerprint": "g.k::text",
            "response": "'{}'::jsonb",
            "created_at": "%(start)s::timestamptz + ((g.k * 7919) %% %(span)s) * interval '1 second'",
            "voided_at": (
                "CASE WHEN g.k %% 50 = 0 THEN %(start)s::timestamptz "
                "+ ((g.k * 7919) %% %(span)s + 60) * interval '1 second' END"
            ),
        },
    )
    # Named parameters for the expressions; positional defaults are inlined as literals.
    params = {
        "start": start,
        "span": span,
        "offset": offset,
        "size": size,
        "placements": placements,
        "fans": fans,
    }
    for i, value in enumerate(redemption_params):
        params[f"d{i}"] = value
    it = iter(range(len(redemption_params)))
    redemption_exprs = [f"%(d{next(it)})s" if e == "%s" else e for e in redemption_exprs]
    # The redemption carries k in request_fingerprint, so the records are derived from the
    # RETURNING rows alone (no join back to the series).
    sql = f"""
        WITH r AS (
            INSERT INTO redemptions_redemption ({", ".join(redemption_columns)})
            SELECT {", ".join(redemption_exprs)}
            FROM (
                SELECT k, (k %% %(placements)s)::int AS pidx
                FROM generate_series(%(offset)s::bigint, %(offset)s::bigint + %(size)s - 1) AS k
            ) g
            JOIN bench_placement bp ON bp.idx = g.pidx
            RETURNING id, created_at, voided_at, order_amount, discount_amount, fee_amount,
                request_fingerprint::bigint AS k
        ), x AS (
            SELECT r.*, (r.k %% %(placements)s)::int AS pidx, (r.k %% %(fans)s)::int AS fidx,
                ((r.k * 104729) %% (40 * 86400))::bigint AS secs
            FROM r
        )
        INSERT INTO {AttributionRecord._meta.db_table} (
            redemption_id, campaign_id, issuer_id, publisher_id, placement_id, fan_id, store_id, terminal_id,
            issued_at, redeemed_at, seconds_to_redeem, order_amount, discount_amount, fee_amount, currency,
            is_new_customer, in_attribution_window, voided_at, created_at)
        SELECT x.id, bp.campaign_id, bp.issuer_id, bp.publisher_id, bp.placement_id, bf.fan_id, bp.store_id,
               bp.terminal_id, x.created_at - x.secs * interval '1 second', x.created_at, x.secs,
               x.order_amount, x.discount_amount, x.fee_amount, 'CNY',
               -- one flagged record per (issuer, fan): the first pass over the fans at placement 0
               x.k < %(fans)s AND x.pidx = 0 AND x.voided_at IS NULL,
               x.secs <= 30 * 86400, x.voided_at, now()
        FROM x
        JOIN bench_placement bp ON bp.idx = x.pidx
        JOIN bench_fan bf ON bf.idx = x.fidx
    """  # noqa: S608  (fixed fragments; values are parameters)
    with transaction.atomic(), connection.cursor() as cursor:
        _skip_foreign_key_checks(cursor)
        cursor.execute(sql, params)


def _skip_foreign_key_checks(cursor) -> None:
    """Rows built here reference only rows made above, so the deferred foreign-key checks
    (about 16 per redemption with its record, all queued until COMMIT) prove nothing and
    were most of a batch's time. A superuser (the bench's own database) switches them off
    for this transaction only; anyone else pays for them."""
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if cursor.fetchone()[0]:
        cursor.execute("SET LOCAL session_replication_role = replica")


def _insert_coupons(tag: str, count: int, placements: int, fans: int, start, span: int) -> None:
    columns, exprs, defaults = _insert_columns(
        Coupon,
        {
            "code": f"'{tag[:3].upper()}' || lpad(to_hex(g.k), 9, '0')",
            "campaign_id": "bp.campaign_id",
            "placement_id": "bp.placement_id",
            "fan_id": "bf.fan_id",
            "ordinal": f"(g.k / ({placements} * {fans}) + 1)::smallint",
            "status": "'issued'",
            "issued_at": "%(start)s::timestamptz + ((g.k * 7919) %% %(span)s) * interval '1 second'",
        },
    )
    params = {"start": start, "span": span, "count": count, "placements": placements, "fans": fans}
    for i, value in enumerate(defaults):
        params[f"d{i}"] = value
    it = iter(range(len(defaults)))
    exprs = [f"%(d{next(it)})s" if e == "%s" else e for e in exprs]
    sql = f"""
        INSERT INTO coupons_coupon ({", ".join(columns)})
        SELECT {", ".join(exprs)}
        FROM (SELECT k, (k %% %(placements)s)::int AS pidx, ((k / %(placements)s) %% %(fans)s)::int AS fidx
              FROM generate_series(0::bigint, %(count)s - 1) AS k) g
        JOIN bench_placement bp ON bp.idx = g.pidx
        JOIN bench_fan bf ON bf.idx = g.fidx
    """  # noqa: S608  (fixed fragments; values are parameters)
    with transaction.atomic(), connection.cursor() as cursor:
        _skip_foreign_key_checks(cursor)
        cursor.execute(sql, params)


def reference_funnel_sql() -> str:
    """The plain SQL GROUP BY a funnel is measured against (params: issuer, start, end)."""
    return """
        SELECT placement_id,
            count(*) FILTER (WHERE voided_at IS NULL),
            count(*) FILTER (WHERE voided_at IS NOT NULL),
            coalesce(sum(order_amount) FILTER (WHERE voided_at IS NULL), 0),
            coalesce(sum(discount_amount) FILTER (WHERE voided_at IS NULL), 0),
            coalesce(sum(fee_amount) FILTER (WHERE voided_at IS NULL AND in_attribution_window), 0),
            count(*) FILTER (WHERE voided_at IS NULL AND is_new_customer),
            percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds_to_redeem) FILTER (WHERE voided_at IS NULL)
        FROM attribution_attributionrecord
        WHERE issuer_id = %s AND redeemed_at >= %s AND redeemed_at < %s
        GROUP BY placement_id
    """
