"""Raw PostgreSQL for the benchmark: connections, COPY, and the physical references.

The references are what the database itself must do for each operation, issued with raw
psycopg2: the write-off as one SQL statement, a COPY of pre-generated coupon rows, a GROUP
BY for the funnel report. Column lists are taken from the Django models, so a column added
by an app later is filled with its model default instead of breaking the reference.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
from django.db import connection, models


def connect_params() -> dict[str, Any]:
    """psycopg2 keyword arguments for the database Django is using right now."""
    s = connection.settings_dict
    params = {"dbname": s["NAME"], "user": s.get("USER") or None, "password": s.get("PASSWORD") or None}
    if s.get("HOST"):
        params["host"] = s["HOST"]
    if s.get("PORT"):
        params["port"] = str(s["PORT"])
    return {k: v for k, v in params.items() if v is not None}


def connect(params: dict[str, Any], *, autocommit: bool = True):
    conn = psycopg2.connect(**params)
    conn.autocommit = autocommit
    return conn


def _literal_default(field: models.Field) -> Any:
    value = field.get_default()
    if isinstance(field, models.JSONField):
        return json.dumps(value)
    return value


def filler_columns(model: type[models.Model], given: Iterable[str]) -> dict[str, Any]:
    """Columns of ``model`` not in ``given`` that need a value: {column: default or 'now()'}.

    Nullable columns are left out (NULL); auto_now(_add) columns get the SQL ``now()`` marker.
    """
    given = set(given)
    out: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        column = field.column
        if field.primary_key or column in given or field.null:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            out[column] = NOW
        elif field.has_default():
            out[column] = _literal_default(field)
        else:
            raise ValueError(f"{model.__name__}.{field.name} has no default: the bench must give it")
    return out


class _Now:
    def __repr__(self) -> str:
        return "now()"


NOW = _Now()


def _copy_text(value: Any) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


@dataclass
class PreparedCopy:
    """COPY text built ahead of time, so a timed COPY measures only the load itself."""

    table: str
    columns: str
    text: str
    rows: int

    def run(self, cursor) -> int:
        cursor.copy_expert(f"COPY {self.table} ({self.columns}) FROM STDIN", io.StringIO(self.text))
        return self.rows


def prepare_copy(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]], now
) -> PreparedCopy:
    """COPY text for ``rows`` (values for ``columns``), the model's other required columns
    filled with their defaults."""
    fillers = filler_columns(model, columns)
    extra = [now if v is NOW else v for v in fillers.values()]
    tail = "".join("\t" + _copy_text(v) for v in extra) + "\n"
    lines = ["\t".join(_copy_text(v) for v in row) + tail for row in rows]
    return PreparedCopy(model._meta.db_table, ", ".join([*columns, *fillers]), "".join(lines), len(lines))


def copy_rows(
    cursor, model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]], now
) -> int:
    """COPY ``rows`` into the model's table (see prepare_copy); the number of rows."""
    return prepare_copy(model, columns, rows, now).run(cursor)


def insert_select_sql(model: type[models.Model], provided: dict[str, str]) -> tuple[str, list[Any]]:
    """``INSERT INTO t (cols) SELECT exprs`` pieces: provided SQL expressions + defaults as params.

    Returns (column list + select list SQL fragment "(...) SELECT ...", params for defaults).
    """
    fillers = filler_columns(model, provided)
    columns = [*provided, *fillers]
    exprs = list(provided.values())
    params: list[Any] = []
    for value in fillers.values():
        if value is NOW:
            exprs.append("now()")
        else:
            exprs.append("%s")
            params.append(value)
    return f"({', '.join(columns)}) SELECT {', '.join(exprs)}", params


# --- the write-off as one statement (scenario 1's and 2's physical reference) ------------------


def writeoff_statement() -> tuple[str, list[Any]]:
    """One SQL statement doing everything a verified write-off writes, with the same checks
    a conditional UPDATE can make: the coupon (issued -> redeemed, campaign active, inside
    its validity), the fan's usage (per-fan limit), one unit + cost from a free slot of the
    campaign (SKIP LOCKED, caps checked), the Redemption row and its outbox event.

    Parameters (named): code, merchant, store, terminal, order_amount, currency, key, fp,
    response. Returns one row: the new redemption id, or NULL if the coupon could not be
    claimed; a claim whose fan usage or slot cannot be taken raises (division by zero) and
    the statement keeps nothing (the caller retries, as the service falls back to a
    rebalance). Unlike the service it records no rejected attempts.
    """
    from backend.outbox.models import OutboxEvent
    from backend.redemptions.models import Redemption

    redemption_cols, redemption_params = insert_select_sql(
        Redemption,
        {
            "merchant_id": "%(merchant)s",
            "store_id": "%(store)s",
            "terminal_id": "%(terminal)s",
            "coupon_id": "c.id",
            "campaign_id": "c.campaign_id",
            "placement_id": "c.placement_id",
            "code": "%(code)s",
            "status": "'verified'",
            "reason_code": "''",
            "order_amount": "%(order_amount)s",
            "currency": "%(currency)s",
            "discount_amount": "c.discount",
            "fee_amount": "c.fee",
            "slot": "s.slot",
            "idempotency_key": "%(key)s",
            "request_fingerprint": "%(fp)s",
            "response": "%(response)s::jsonb",
            "created_at": "now()",
        },
    )
    event_cols, event_params = insert_select_sql(
        OutboxEvent,
        {
            "topic": "'redemption.verified'",
            "payload": "jsonb_build_object('redemption_id', r.id)",
            "created_at": "now()",
        },
    )
    # psycopg2 named placeholders: the defaults are positional, so inline them as literals.
    redemption_cols = _inline(redemption_cols, redemption_params)
    event_cols = _inline(event_cols, event_params)
    sql = f"""
WITH c AS (
    UPDATE coupons_coupon AS cp SET status = 'redeemed', redeemed_at = now()
      FROM campaigns_campaign AS ca
     WHERE cp.code = %(code)s AND cp.status = 'issued'
       AND ca.id = cp.campaign_id AND ca.status = 'active' AND ca.currency = %(currency)s
       AND (cp.valid_until IS NULL OR cp.valid_until > now())
       AND (ca.valid_until IS NULL OR ca.valid_until > now())
       AND ca.min_spend <= %(order_amount)s
    RETURNING cp.id, cp.campaign_id, cp.placement_id, cp.fan_id, ca.per_fan_limit,
              LEAST(COALESCE(ca.amount_off, 0), %(order_amount)s) AS discount,
              ca.fee_per_redemption AS fee,
              LEAST(COALESCE(ca.amount_off, 0), %(order_amount)s) + ca.fee_per_redemption AS cost
), f AS (
    INSERT INTO campaigns_campaignfanusage AS u (campaign_id, fan_id, used)
    SELECT campaign_id, fan_id, 1 FROM c
    ON CONFLICT (campaign_id, fan_id) DO UPDATE SET used = u.used + 1
       WHERE u.used < (SELECT per_fan_limit FROM c)
    RETURNING u.used
), s AS (
    -- budget.take()'s fast path: a random fitting slot nobody holds. (A join with c here
    -- instead of scalar subqueries makes it miss under concurrency.)
    UPDATE campaigns_campaignslot AS sl
       SET redeemed_count = sl.redeemed_count + 1, spent_amount = sl.spent_amount + (SELECT cost FROM c)
     WHERE sl.id = (SELECT x.id FROM campaigns_campaignslot AS x
                     WHERE x.campaign_id = (SELECT campaign_id FROM c)
                       AND (x.redemption_allowance IS NULL OR x.redeemed_count < x.redemption_allowance)
                       AND (x.budget_allowance IS NULL
                            OR x.spent_amount + (SELECT cost FROM c) <= x.budget_allowance)
                     ORDER BY random() LIMIT 1 FOR UPDATE OF x SKIP LOCKED)
       AND (sl.redemption_allowance IS NULL OR sl.redeemed_count < sl.redemption_allowance)
       AND (sl.budget_allowance IS NULL OR sl.spent_amount + (SELECT cost FROM c) <= sl.budget_allowance)
    RETURNING sl.slot
), r AS (
    INSERT INTO redemptions_redemption {redemption_cols} FROM c, s, f
    RETURNING id
), e AS (
    INSERT INTO outbox_outboxevent {event_cols} FROM r
    RETURNING id
)
-- A claimed coupon whose fan usage or slot could not be taken fails the whole statement
-- (division by zero), so nothing of it is kept, as the service's savepoint does.
SELECT (SELECT id FROM r), CASE WHEN EXISTS (SELECT 1 FROM c) THEN 1 / (SELECT count(*) FROM e)::int END
"""
    return sql, []


def _inline(fragment: str, params: list[Any]) -> str:
    from psycopg2.extensions import adapt

    parts = fragment.split("%s")
    assert len(parts) == len(params) + 1
    out = parts[0]
    for value, part in zip(params, parts[1:], strict=True):
        out += adapt(value).getquoted().decode() + part
    return out
