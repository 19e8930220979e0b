"""Periodic upkeep of merchants' credentials."""

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .models import TerminalRequestNonce


@shared_task(name="backend.merchants.tasks.purge_terminal_nonces")
def purge_terminal_nonces() -> int:
    """Forget signatures older than twice the accepted clock skew: they are stale anyway."""
    cutoff = timezone.now() - dt.timedelta(seconds=2 * settings.TERMINAL_SIGNATURE_MAX_SKEW_SECONDS)
    deleted, _ = TerminalRequestNonce.objects.filter(created_at__lt=cutoff).delete()
    return deleted
