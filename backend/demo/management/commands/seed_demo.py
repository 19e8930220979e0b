"""Seed the demo network idempotently and write its credentials to .local/demo-credentials.txt."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from backend.demo.seeding import seed_demo


class Command(BaseCommand):
    help = "Create (or refresh) the demo network: merchants, keys, terminals, fans, a campaign, coupons."

    def add_arguments(self, parser):
        parser.add_argument("--out", default=str(settings.BASE_DIR / ".local" / "demo-credentials.txt"))

    def handle(self, *args, out, **options):
        lines = seed_demo()
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text("\n".join(lines) + "\n")
        self.stdout.write(f"demo network seeded; credentials in {out}")
