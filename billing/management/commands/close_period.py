"""close_period --period 2026-10 [--merchant slug]: close ended months (idempotent, re-runnable)."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from backend.api.errors import ServiceError
from backend.merchants.models import Merchant
from billing import closing
from billing.models import LedgerEntry


class Command(BaseCommand):
    help = "Close an issuer's billing period: freeze its locked lines, send its Stripe invoices."

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="The month, YYYY-MM.")
        parser.add_argument("--merchant", help="The issuer's slug (default: every issuer with lines).")

    def handle(self, *args, period: str, merchant: str | None = None, **options):
        try:
            period_start = dt.datetime.strptime(period, "%Y-%m").date()  # noqa: DTZ007 (a calendar month)
        except ValueError as exc:
            raise CommandError("--period must be YYYY-MM") from exc
        if merchant:
            issuers = list(Merchant.objects.filter(slug=merchant))
            if not issuers:
                raise CommandError(f"No merchant {merchant!r}.")
        else:
            ids = LedgerEntry.objects.filter(period_start=period_start).values_list("issuer_id", flat=True)
            issuers = list(Merchant.objects.filter(pk__in=ids.distinct()).order_by("id"))
        for issuer in issuers:
            try:
                result = closing.close_period(issuer=issuer, period_start=period_start)
            except ServiceError as exc:
                raise CommandError(f"{issuer.slug}: {exc}") from exc
            invoices = ", ".join(
                f"{i.currency} {i.amount} {i.status} {i.stripe_invoice_id or '-'}"
                for i in result.invoices.all()
            )
            self.stdout.write(f"{issuer.slug} {period}: {result.status} [{invoices or 'no invoice'}]")
