"""Print an attribution report as a table, or write it as CSV.

manage.py attribution_report --merchant dessert-shop --by placement --from 2026-10-01 --to 2026-10-31
manage.py attribution_report --merchant dessert-shop --by day --csv out.csv
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from attribution import selectors, services
from attribution.reports import Dimension, ReportFilters, Side, encode_key
from backend.api.errors import ServiceError
from backend.api.spreadsheets import safe_frame
from backend.merchants.models import Merchant


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = "Attribution report (funnel by placement, campaign, publisher, store or day) for one merchant."

    def add_arguments(self, parser):
        parser.add_argument("--merchant", required=True, help="The viewing merchant's slug.")
        parser.add_argument("--by", default="placement", choices=[d.value for d in Dimension])
        parser.add_argument("--from", dest="date_from", type=_date)
        parser.add_argument("--to", dest="date_to", type=_date)
        parser.add_argument("--campaign", type=int, help="A campaign id.")
        parser.add_argument("--publisher", help="A publisher merchant's slug.")
        parser.add_argument("--store", type=int, help="A store id.")
        parser.add_argument("--currency")
        parser.add_argument("--side", default="any", choices=[s.value for s in Side])
        parser.add_argument("--csv", help="Write CSV to this path ('-' for stdout) instead of a table.")

    def handle(self, *args, **options):
        merchant = Merchant.objects.filter(slug=options["merchant"]).first()
        if merchant is None:
            raise CommandError(f"No merchant with slug {options['merchant']!r}.")
        publisher_id = None
        if options["publisher"]:
            publisher = Merchant.objects.filter(slug=options["publisher"]).first()
            if publisher is None:
                raise CommandError(f"No merchant with slug {options['publisher']!r}.")
            publisher_id = publisher.pk
        filters = ReportFilters(
            date_from=options["date_from"],
            date_to=options["date_to"],
            campaign_id=options["campaign"],
            publisher_id=publisher_id,
            store_id=options["store"],
            currency=options["currency"],
            side=Side(options["side"]),
        )
        try:
            services.validate_filters(filters)
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        dimension = Dimension(options["by"])
        report = selectors.report_for(merchant=merchant, dimension=dimension, filters=filters)
        rows = report.rows.assign(key=[encode_key(dimension, k) for k in report.rows["key"]])
        totals = report.totals.assign(key="TOTAL", label=None)
        table = pd.concat([rows, totals[rows.columns]], ignore_index=True) if len(totals) else rows
        if options["csv"]:
            target = self.stdout if options["csv"] == "-" else options["csv"]
            safe_frame(table).to_csv(target, index=False)
            if options["csv"] != "-":
                self.stderr.write(f"Wrote {len(rows)} rows and {len(totals)} totals to {options['csv']}.")
            return
        if table.empty:
            self.stdout.write("No attribution records match.")
            return
        with pd.option_context("display.max_columns", None, "display.width", 250):
            self.stdout.write(table.to_string(index=False))
