"""Celery entry points of the fans app (thin; safe to run twice)."""

from celery import shared_task

from . import services


@shared_task(name="backend.fans.tasks.send_expiry_reminders")
def send_expiry_reminders() -> int:
    """Beat: texts fans whose coupons end soon (once per coupon, only with consent)."""
    return services.send_expiry_reminders()
