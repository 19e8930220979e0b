"""Check that a running server receives and verifies Stripe webhooks with our signing secret.

Posts a test event signed with ``BILLING_STRIPE_WEBHOOK_SECRET`` (as Stripe signs: HMAC-SHA256
of ``"<timestamp>.<body>"`` in the ``Stripe-Signature`` header), then the same event with a
wrong signature: the first must be accepted (200), the second refused (400). The test event's
type is not one billing acts on, so it changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def signed_headers(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={timestamp},v1={signature}", "Content-Type": "application/json"}


class Command(BaseCommand):
    help = "Post a signed (and a badly signed) test event to the Stripe webhook of a running server."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")

    def handle(self, *args, url: str, **options):
        secret = settings.BILLING_STRIPE_WEBHOOK_SECRET
        if not secret:
            raise CommandError("BILLING_STRIPE_WEBHOOK_SECRET is not set (scripts/run sets one).")
        endpoint = f"{url.rstrip('/')}/billing/stripe/webhook/"
        body = json.dumps(
            {
                "id": f"evt_selftest_{uuid.uuid4().hex}",
                "object": "event",
                "type": "billing.selftest",
                "created": int(time.time()),
                "data": {"object": {}},
            }
        )
        good = requests.post(endpoint, data=body, headers=signed_headers(body, secret), timeout=10)
        bad = requests.post(endpoint, data=body, headers=signed_headers(body, secret + "x"), timeout=10)
        self.stdout.write(f"signed event: {good.status_code}; wrong signature: {bad.status_code}")
        if good.status_code != 200 or bad.status_code != 400:
            raise CommandError(f"{endpoint} does not verify webhooks (expected 200 then 400).")
        self.stdout.write(self.style.SUCCESS(f"{endpoint} receives and verifies Stripe webhooks."))
