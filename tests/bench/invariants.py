"""The write-off path's invariants, checked on the whole database at the end of every run.

Each check is one query counting violations; zero means it holds. They are the rules of
ARCHITECTURE.md that the benchmark's load could break if the code under load were wrong.
The report scenario's synthetic rows (merchants ``bench-synthetic-*``, see attribution_data)
never went through the write-off path, so the outbox checks leave them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

SYNTHETIC = "SELECT id FROM merchants_merchant WHERE slug LIKE 'bench-synthetic-%%'"

CHECKS: list[tuple[str, str]] = [
    (
        "no coupon verified twice",
        """SELECT count(*) FROM (SELECT coupon_id FROM redemptions_redemption
           WHERE status = 'verified' AND coupon_id IS NOT NULL
           GROUP BY coupon_id HAVING count(*) > 1) AS x""",
    ),
    (
        "every verified redemption's coupon is redeemed",
        """SELECT count(*) FROM redemptions_redemption r JOIN coupons_coupon c ON c.id = r.coupon_id
           WHERE r.status = 'verified' AND c.status <> 'redeemed'""",
    ),
    (
        "every redeemed coupon has a verified or voided redemption",
        """SELECT count(*) FROM coupons_coupon c WHERE c.status = 'redeemed' AND NOT EXISTS (
             SELECT 1 FROM redemptions_redemption r
             WHERE r.coupon_id = c.id AND r.status IN ('verified', 'voided'))""",
    ),
    (
        "verified count <= max redemptions (per campaign)",
        """SELECT count(*) FROM campaigns_campaign ca WHERE ca.max_redemptions IS NOT NULL
           AND (SELECT count(*) FROM redemptions_redemption r
                WHERE r.campaign_id = ca.id AND r.status = 'verified') > ca.max_redemptions""",
    ),
    (
        "spend <= budget (per campaign)",
        """SELECT count(*) FROM campaigns_campaign ca WHERE ca.budget_cap IS NOT NULL
           AND (SELECT coalesce(sum(r.discount_amount + r.fee_amount), 0) FROM redemptions_redemption r
                WHERE r.campaign_id = ca.id AND r.status = 'verified') > ca.budget_cap""",
    ),
    (
        "slot counters = verified rows (count and spend, per campaign)",
        """SELECT count(*) FROM (
             SELECT s.campaign_id, sum(s.redeemed_count) AS n, sum(s.spent_amount) AS spent
             FROM campaigns_campaignslot s GROUP BY s.campaign_id) AS s
           LEFT JOIN (
             SELECT campaign_id, count(*) AS n, sum(discount_amount + fee_amount) AS spent
             FROM redemptions_redemption WHERE status = 'verified' GROUP BY campaign_id) AS r
           ON r.campaign_id = s.campaign_id
           WHERE s.n <> coalesce(r.n, 0) OR s.spent <> coalesce(r.spent, 0)""",
    ),
    (
        "slot allowances sum to the caps (per campaign)",
        """SELECT count(*) FROM campaigns_campaign ca JOIN (
             SELECT campaign_id, sum(redemption_allowance) AS ra, sum(budget_allowance) AS ba,
                    bool_or(redemption_allowance IS NULL) AS ra_null,
                    bool_or(budget_allowance IS NULL) AS ba_null
             FROM campaigns_campaignslot GROUP BY campaign_id) AS s ON s.campaign_id = ca.id
           WHERE (ca.max_redemptions IS NOT NULL AND (s.ra_null OR s.ra <> ca.max_redemptions))
              OR (ca.budget_cap IS NOT NULL AND (s.ba_null OR s.ba <> ca.budget_cap))""",
    ),
    (
        "fan usage = verified rows (per campaign and fan)",
        """SELECT count(*) FROM campaigns_campaignfanusage u FULL JOIN (
             SELECT r.campaign_id, c.fan_id, count(*) AS n FROM redemptions_redemption r
             JOIN coupons_coupon c ON c.id = r.coupon_id WHERE r.status = 'verified'
             GROUP BY r.campaign_id, c.fan_id) AS v ON v.campaign_id = u.campaign_id AND v.fan_id = u.fan_id
           WHERE coalesce(u.used, 0) <> coalesce(v.n, 0)""",
    ),
    (
        "verified or voided redemptions = 'redemption.verified' outbox events (one each)",
        """SELECT count(*) FROM (
             SELECT r.id, count(e.id) AS n FROM redemptions_redemption r
             LEFT JOIN outbox_outboxevent e ON e.topic = 'redemption.verified'
                  AND (e.payload->>'redemption_id')::bigint = r.id
             WHERE r.status IN ('verified', 'voided') AND r.merchant_id NOT IN (SELECT id FROM synthetic)
             GROUP BY r.id) AS x WHERE n <> 1""",
    ),
    (
        "no outbox event for a rejected or missing redemption",
        """SELECT count(*) FROM outbox_outboxevent e LEFT JOIN redemptions_redemption r
             ON r.id = (e.payload->>'redemption_id')::bigint
           WHERE e.topic IN ('redemption.verified', 'redemption.voided')
             AND (r.id IS NULL OR r.status = 'rejected')""",
    ),
    (
        "verified-not-voided redemptions = verified events - voided events",
        """SELECT abs((SELECT count(*) FROM redemptions_redemption
             WHERE status = 'verified' AND merchant_id NOT IN (SELECT id FROM synthetic))
             - ((SELECT count(*) FROM outbox_outboxevent WHERE topic = 'redemption.verified')
                - (SELECT count(*) FROM outbox_outboxevent WHERE topic = 'redemption.voided')))""",
    ),
    (
        "rejected redemptions carry no discount or fee",
        """SELECT count(*) FROM redemptions_redemption WHERE status = 'rejected'
           AND (discount_amount <> 0 OR fee_amount <> 0)""",
    ),
    (
        "placement issued_count = its coupons, within quota",
        """SELECT count(*) FROM campaigns_placement p LEFT JOIN (
             SELECT placement_id, count(*) AS n FROM coupons_coupon GROUP BY placement_id) AS c
             ON c.placement_id = p.id
           WHERE p.issued_count <> coalesce(c.n, 0) OR coalesce(c.n, 0) > p.quota""",
    ),
]


@dataclass
class CheckResult:
    name: str
    violations: int

    @property
    def ok(self) -> bool:
        return self.violations == 0


def check_all() -> list[CheckResult]:
    results = []
    with connection.cursor() as cursor:
        for name, query in CHECKS:
            cursor.execute(f"WITH synthetic AS ({SYNTHETIC}) {query}")
            results.append(CheckResult(name=name, violations=int(cursor.fetchone()[0])))
    return results


def verified_count(campaign_ids: list[int]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM redemptions_redemption WHERE status = 'verified' AND campaign_id = ANY(%s)",
            [campaign_ids],
        )
        return int(cursor.fetchone()[0])
