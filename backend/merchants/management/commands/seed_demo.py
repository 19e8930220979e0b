"""Seed the demo network idempotently and write its credentials to .local/demo-credentials.txt."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from backend.merchants.demo import seed_demo_network


class Command(BaseCommand):
    help = "Create (or refresh) the demo merchants, stores, terminals and API keys."

    def add_arguments(self, parser):
        parser.add_argument("--out", default=str(settings.BASE_DIR / ".local" / "demo-credentials.txt"))

    def handle(self, *args, out, **options):
        creds = seed_demo_network()
        lines = ["Demo API keys (Authorization: Bearer <key>):"]
        lines += [f"  {m:<14} {role:<8} {key}" for m, role, key in creds.api_keys]
        lines.append("Demo terminals (scripts/pos --terminal UID --secret SECRET):")
        lines += [f"  {m:<14} {store:<22} {uid}  {secret}" for m, store, uid, secret in creds.terminals]
        extra = getattr(settings, "DEMO_SEED_HOOKS", [])
        for hook in extra:
            from django.utils.module_loading import import_string

            lines += import_string(hook)()
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text("\n".join(lines) + "\n")
        self.stdout.write(f"demo network seeded; credentials in {out}")
