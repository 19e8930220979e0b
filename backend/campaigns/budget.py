"""A campaign's caps, split into slot rows so concurrent write-offs do not queue on one row.

The write-off path (backend.redemptions) takes and gives back units through this module;
activation allocates the slots. See CampaignSlot for the guarantee.
"""

from __future__ import annotations

import zoneinfo

from django.db import connection, transaction

from .models import Campaign, CampaignSlot

SLOT_COUNT = 16
REBALANCE_LOCK_NAMESPACE = 0x5C07  # first key of pg_advisory_xact_lock(ns, campaign id)


def _split(total: int | None, parts: int) -> list[int | None]:
    if total is None:
        return [None] * parts
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


@transaction.atomic
def allocate_slots(*, campaign: Campaign) -> list[CampaignSlot]:
    """Create the campaign's slots once (idempotent); allowances sum exactly to the caps."""
    existing = list(CampaignSlot.objects.filter(campaign=campaign).order_by("slot"))
    if existing:
        return existing
    parts = SLOT_COUNT
    if campaign.max_redemptions is not None:
        parts = max(1, min(SLOT_COUNT, campaign.max_redemptions))
    counts = _split(campaign.max_redemptions, parts)
    budgets = _split(campaign.budget_cap, parts)
    return CampaignSlot.objects.bulk_create(
        CampaignSlot(campaign=campaign, slot=i, redemption_allowance=counts[i], budget_allowance=budgets[i])
        for i in range(parts)
    )


# --- The write-off path: take, give back, rebalance --------------------------------------
# These run inside the caller's transaction (the write-off or the void); they never open one.

_TAKE_ANY_FITTING_SLOT = """
UPDATE campaigns_campaignslot AS s
   SET redeemed_count = s.redeemed_count + 1, spent_amount = s.spent_amount + %(cost)s
 WHERE s.id = (
         SELECT f.id FROM campaigns_campaignslot AS f
          WHERE f.campaign_id = %(campaign)s
            AND (f.redemption_allowance IS NULL OR f.redeemed_count < f.redemption_allowance)
            AND (f.budget_allowance IS NULL OR f.spent_amount + %(cost)s <= f.budget_allowance)
          ORDER BY random() LIMIT 1
            FOR UPDATE SKIP LOCKED)
   AND (s.redemption_allowance IS NULL OR s.redeemed_count < s.redemption_allowance)
   AND (s.budget_allowance IS NULL OR s.spent_amount + %(cost)s <= s.budget_allowance)
RETURNING s.slot
"""


def take(*, campaign_id: int, cost: int) -> int | None:
    """Take one redemption and ``cost`` of budget from the campaign's slots; the slot used.

    None when the caps cannot cover it. The fast path is one conditional UPDATE of a random
    fitting slot that no one else holds (SKIP LOCKED), so concurrent write-offs of one
    campaign spread over its slots instead of queueing on one row. When no free slot fits,
    every slot is locked in slot order and the remaining headroom is redistributed
    (:func:`rebalance`). The CHECK constraints on CampaignSlot make overspending impossible
    even if this code were wrong: the caps hold by one unit and one cent.
    """
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_ANY_FITTING_SLOT, {"campaign": campaign_id, "cost": cost})
        row = cursor.fetchone()
    if row is not None:
        return row[0]
    return rebalance(campaign_id=campaign_id, cost=cost)


def _headroom(slots: list[tuple], index_allowance: int, index_used: int) -> int | None:
    if any(s[index_allowance] is None for s in slots):
        return None
    return sum(s[index_allowance] - s[index_used] for s in slots)


_REBALANCE_SQL = """
UPDATE campaigns_campaignslot AS s
   SET redemption_allowance = v.ra, budget_allowance = v.ba, redeemed_count = v.rc, spent_amount = v.sa
  FROM (VALUES $values) AS v(slot, ra, ba, rc, sa)
 WHERE s.campaign_id = %s AND s.slot = v.slot
"""


def rebalance(*, campaign_id: int, cost: int) -> int | None:
    """Lock all slots (slot order, so two rebalances cannot deadlock), pool their headroom,
    spread it again evenly and take one unit + ``cost`` from slot 0. None if the caps are spent.

    The allowances still sum exactly to the campaign's caps afterwards.
    """
    with connection.cursor() as cursor:
        # One rebalance per campaign at a time: rebalancers then only ever wait for
        # fast-path takers, which hold one slot and never wait for another (SKIP LOCKED).
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [REBALANCE_LOCK_NAMESPACE, campaign_id])
        cursor.execute(
            "SELECT slot, redemption_allowance, redeemed_count, budget_allowance, spent_amount "
            "FROM campaigns_campaignslot WHERE campaign_id = %s ORDER BY slot FOR UPDATE",
            [campaign_id],
        )
        slots = cursor.fetchall()
        if not slots:
            return None
        count_room = _headroom(slots, 1, 2)
        budget_room = _headroom(slots, 3, 4)
        if (count_room is not None and count_room < 1) or (budget_room is not None and budget_room < cost):
            return None
        counts = _split(count_room, len(slots))
        budgets = _split(budget_room, len(slots))
        if budgets[0] is not None and budgets[0] < cost:
            budgets = [budget_room] + [0] * (len(slots) - 1)  # the cost needs the whole remainder
        rows = []
        for i, (slot, _, redeemed, _, spent) in enumerate(slots):
            count_allowance = None if counts[i] is None else redeemed + counts[i]
            budget_allowance = None if budgets[i] is None else spent + budgets[i]
            took = i == 0
            rows.append(
                (slot, count_allowance, budget_allowance, redeemed + took, spent + (cost if took else 0))
            )
        values = ", ".join(["(%s, %s::integer, %s::bigint, %s::integer, %s::bigint)"] * len(rows))
        cursor.execute(
            _REBALANCE_SQL.replace("$values", values),
            [value for row in rows for value in row] + [campaign_id],
        )
    return slots[0][0]


class SlotMismatch(RuntimeError):
    """A slot cannot give back what a write-off says it took: the counters disagree with the
    redemption rows. Raised so the caller's transaction (a void) rolls back whole."""


def release(*, campaign_id: int, slot: int, cost: int) -> None:
    """Give back one redemption and ``cost`` to the slot a voided write-off took them from.

    Raises SlotMismatch when the slot does not hold them (its row count is checked): a void
    that gave back nothing would leave the caps short by one write-off for ever.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE campaigns_campaignslot SET redeemed_count = redeemed_count - 1, "
            "spent_amount = spent_amount - %s "
            "WHERE campaign_id = %s AND slot = %s AND redeemed_count >= 1 AND spent_amount >= %s",
            [cost, campaign_id, slot, cost],
        )
        if cursor.rowcount != 1:
            raise SlotMismatch(f"slot {slot} of campaign {campaign_id} cannot give back 1 unit and {cost}")


# --- live changes of the caps ----------------------------------------------------------------


def _lock_all_slots(cursor, campaign_id: int) -> list[tuple]:
    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [REBALANCE_LOCK_NAMESPACE, campaign_id])
    cursor.execute(
        "SELECT slot, redemption_allowance, redeemed_count, budget_allowance, spent_amount "
        "FROM campaigns_campaignslot WHERE campaign_id = %s ORDER BY slot FOR UPDATE",
        [campaign_id],
    )
    return cursor.fetchall()


def usage(*, campaign_id: int, lock: bool = False) -> tuple[int, int]:
    """(redemptions, spend) used now; with ``lock`` every slot is held until commit (as a
    rebalance holds them), so no write-off can take a unit before the caller's change."""
    with connection.cursor() as cursor:
        if lock:
            slots = _lock_all_slots(cursor, campaign_id)
        else:
            cursor.execute(
                "SELECT slot, redemption_allowance, redeemed_count, budget_allowance, spent_amount "
                "FROM campaigns_campaignslot WHERE campaign_id = %s",
                [campaign_id],
            )
            slots = cursor.fetchall()
    return sum(s[2] for s in slots), sum(s[4] for s in slots)


def set_caps(*, campaign_id: int, max_redemptions: int | None, budget_cap: int | None) -> None:
    """Spread new caps over the slots (all locked, in slot order, under the rebalance lock):
    each slot keeps what it used and gets an even share of the new headroom, so the
    allowances sum exactly to the new caps. The caller checked the caps are not below use."""
    with connection.cursor() as cursor:
        slots = _lock_all_slots(cursor, campaign_id)
        used_count, used_spend = sum(s[2] for s in slots), sum(s[4] for s in slots)
        counts = _split(None if max_redemptions is None else max_redemptions - used_count, len(slots))
        budgets = _split(None if budget_cap is None else budget_cap - used_spend, len(slots))
        rows = [
            (
                slot,
                None if counts[i] is None else redeemed + counts[i],
                None if budgets[i] is None else spent + budgets[i],
                redeemed,
                spent,
            )
            for i, (slot, _, redeemed, _, spent) in enumerate(slots)
        ]
        if not rows:
            return
        values = ", ".join(["(%s, %s::integer, %s::bigint, %s::integer, %s::bigint)"] * len(rows))
        cursor.execute(
            _REBALANCE_SQL.replace("$values", values),
            [value for row in rows for value in row] + [campaign_id],
        )


# --- daily caps (the write-off path; inside the caller's transaction) -------------------------

_TAKE_DAILY = """
INSERT INTO campaigns_campaigndailyusage AS d (campaign_id, day, redeemed_count, spent_amount)
SELECT %(campaign)s, %(day)s, 1, %(cost)s
 WHERE (%(count_cap)s::integer IS NULL OR %(count_cap)s::integer >= 1)
   AND (%(spend_cap)s::bigint IS NULL OR %(cost)s <= %(spend_cap)s::bigint)
ON CONFLICT (campaign_id, day) DO UPDATE
   SET redeemed_count = d.redeemed_count + 1, spent_amount = d.spent_amount + %(cost)s
 WHERE (%(count_cap)s::integer IS NULL OR d.redeemed_count < %(count_cap)s::integer)
   AND (%(spend_cap)s::bigint IS NULL OR d.spent_amount + %(cost)s <= %(spend_cap)s::bigint)
"""


def day_of(moment, tz_name: str):
    """The merchant's local date of ``moment``: daily caps reset at the merchant's midnight."""
    return moment.astimezone(zoneinfo.ZoneInfo(tz_name)).date()


def take_daily(*, campaign: Campaign, day, cost: int) -> bool:
    """Take one write-off and ``cost`` from the campaign's day; False if a daily cap is hit.

    The upsert's WHERE is re-checked on the latest row version under its lock, so concurrent
    write-offs never pass the cap by one unit or one cent."""
    with connection.cursor() as cursor:
        cursor.execute(
            _TAKE_DAILY,
            {
                "campaign": campaign.pk,
                "day": day,
                "cost": cost,
                "count_cap": campaign.daily_redemption_cap,
                "spend_cap": campaign.daily_spend_cap,
            },
        )
        return cursor.rowcount == 1


def release_daily(*, campaign_id: int, day, cost: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE campaigns_campaigndailyusage SET redeemed_count = redeemed_count - 1, "
            "spent_amount = spent_amount - %s "
            "WHERE campaign_id = %s AND day = %s AND redeemed_count >= 1 AND spent_amount >= %s",
            [cost, campaign_id, day, cost],
        )
