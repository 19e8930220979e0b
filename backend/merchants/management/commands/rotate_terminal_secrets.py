"""Re-encrypt every terminal secret with the newest key of TERMINAL_SECRET_KEYS.

Rotation: put a new key first in TERMINAL_SECRET_KEYS (keep the old ones after it), deploy,
run this, then drop the old keys. Secrets encrypted before TERMINAL_SECRET_KEYS existed (with
the key derived from SECRET_KEY) move the same way; then set TERMINAL_SECRET_LEGACY_DECRYPT=0.
"""

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError

from backend.merchants import services


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def handle(self, *args, **options):
        try:
            changed = services.terminal_secrets_reencrypt()
        except InvalidToken:
            raise CommandError(
                "A terminal secret is encrypted with a key that is not in TERMINAL_SECRET_KEYS "
                "(nor the SECRET_KEY-derived legacy key): add that key back and run again."
            ) from None
        self.stdout.write(f"Re-encrypted {changed} terminal secret(s) with the newest key.")
