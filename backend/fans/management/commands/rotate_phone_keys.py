"""Re-encrypts every kept phone number with the first key of FANS_PHONE_KEYS (key rotation)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from backend.fans.contact import rotate
from backend.fans.models import FanContact


class Command(BaseCommand):
    help = "Re-encrypt kept phone numbers with the first FANS_PHONE_KEYS key; then the old key can go."

    def handle(self, *args, **options):
        done = 0
        last_id = 0
        while True:
            with transaction.atomic():
                batch = list(
                    FanContact.objects.select_for_update().filter(id__gt=last_id).order_by("id")[:500]
                )
                if not batch:
                    break
                for contact in batch:
                    contact.phone_encrypted = rotate(contact.phone_encrypted)
                FanContact.objects.bulk_update(batch, ["phone_encrypted"])
            done += len(batch)
            last_id = batch[-1].id
        self.stdout.write(f"re-encrypted {done} phone numbers")
