"""run_payouts [--day YYYY-MM-DD] [--merchant slug] [--bank-file PATH] [--confirm-bank RUN]

Plan (once) and send the payout run of a day; re-running it, or running it after a crash,
pays nothing twice. ``--bank-file`` writes the run's bank batch file (CSV) for finance to
upload; ``--confirm-bank`` marks a run's submitted bank transfers paid once the bank did them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from backend.merchants.models import Merchant
from billing import payouts


class Command(BaseCommand):
    help = "Pay merchants their locked payable balances (Stripe Connect transfers or a bank batch file)."

    def add_arguments(self, parser):
        parser.add_argument("--day", help="The run's day, YYYY-MM-DD (default: today, UTC).")
        parser.add_argument("--merchant", help="Only this payee (slug): an on-demand run of its own.")
        parser.add_argument(
            "--collected-only",
            choices=["yes", "no"],
            help="Pay only earnings the issuer has paid (default: PAYOUTS_REQUIRE_COLLECTED).",
        )
        parser.add_argument("--bank-file", help="Write the run's bank batch file (CSV) here.")
        parser.add_argument("--confirm-bank", metavar="RUN", help="Mark RUN's bank transfers paid.")

    def handle(
        self, *args, day=None, merchant=None, collected_only=None, bank_file=None, confirm_bank=None, **_
    ):
        if confirm_bank:
            count = payouts.confirm_bank_payouts(run_key=confirm_bank)
            self.stdout.write(f"{confirm_bank}: {count} bank payouts marked paid")
            return
        try:
            run_day = dt.date.fromisoformat(day) if day else None
        except ValueError as exc:
            raise CommandError("--day must be YYYY-MM-DD") from exc
        payee = None
        if merchant:
            payee = Merchant.objects.filter(slug=merchant).first()
            if payee is None:
                raise CommandError(f"No merchant {merchant!r}.")
        run_day = run_day or dt.datetime.now(tz=dt.UTC).date()
        key = run_day.isoformat() if payee is None else f"{run_day.isoformat()}-m{payee.pk}"
        payouts.resume_unfinished_runs()
        run = payouts.run_payouts(
            day=run_day,
            key=key,
            collected_only=None if collected_only is None else collected_only == "yes",
            merchant_id=payee.pk if payee else None,
        )
        for p in run.payouts.select_related("merchant").order_by("id"):
            self.stdout.write(
                f"{run.key} {p.merchant.slug} {p.currency} {p.amount} {p.method} {p.status}"
                f" {p.stripe_transfer_id or p.failure or '-'}"
            )
        self.stdout.write(f"{run.key}: {run.payouts.count()} payouts, cutoff {run.cutoff.isoformat()}")
        if bank_file:
            Path(bank_file).write_text(payouts.bank_batch_for(run_key=run.key), encoding="utf-8")
            self.stdout.write(f"bank batch file: {bank_file}")
