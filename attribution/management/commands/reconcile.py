"""Reconcile write-offs with attribution records (and every registered check) for a period.

    manage.py reconcile --merchant dessert-shop --from 2026-10-01 --to 2026-10-31

Exits 1 when any discrepancy is found, so it can gate a period close or a cron alert.
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from attribution import selectors
from backend.merchants.models import Merchant


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = (
        "Check verified non-voided redemptions = attribution records per campaign; exit 1 on discrepancies."
    )

    def add_arguments(self, parser):
        parser.add_argument("--merchant", help="An issuer's slug; every merchant when omitted.")
        parser.add_argument("--from", dest="date_from", type=_date, required=True)
        parser.add_argument("--to", dest="date_to", type=_date, required=True)

    def handle(self, *args, **options):
        if options["date_from"] > options["date_to"]:
            raise CommandError("--to is before --from.")
        merchants = Merchant.objects.order_by("id")
        if options["merchant"]:
            merchants = merchants.filter(slug=options["merchant"])
            if not merchants.exists():
                raise CommandError(f"No merchant with slug {options['merchant']!r}.")
        found = 0
        for merchant in merchants:
            result = selectors.reconcile_for(
                merchant=merchant, date_from=options["date_from"], date_to=options["date_to"]
            )
            for balance in result.campaigns:
                mark = "ok" if balance.balanced else "MISMATCH"
                self.stdout.write(
                    f"{merchant.slug} campaign {balance.campaign_id}: "
                    f"{balance.verified_redemptions} verified, {balance.attribution_records} records  {mark}"
                )
            for d in result.discrepancies:
                self.stdout.write(f"{merchant.slug} {d.kind} [{d.check}] {d.detail}")
            found += len(result.discrepancies)
        if found:
            raise CommandError(f"{found} discrepancies found.", returncode=1)
        self.stdout.write("Reconciled: no discrepancies.")
