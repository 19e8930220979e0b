"""When a consent may have been given: a real, aware moment, not in the future."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

EARLIEST_CONSENT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
# Clocks of the merchant's systems drift a little; a consent a few minutes ahead is accepted.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


class InvalidConsent(ValueError):
    pass


def check_consent_time(value: dt.datetime | None, *, now: dt.datetime | None = None) -> dt.datetime:
    if value is None:
        raise InvalidConsent("The consent time is required.")
    if timezone.is_naive(value):
        raise InvalidConsent("The consent time must include a time zone offset.")
    now = now or timezone.now()
    if value > now + FUTURE_TOLERANCE:
        raise InvalidConsent("The consent time is in the future.")
    if value < EARLIEST_CONSENT:
        raise InvalidConsent("The consent time is before 2000-01-01.")
    return value


def parse_consent_time(raw: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """An ISO 8601 date or date-time from a CSV cell; without an offset it is read as UTC."""
    text = (raw or "").strip()
    if not text:
        raise InvalidConsent("The consent time is required.")
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidConsent("The consent time is not an ISO 8601 date or date-time.") from None
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt.UTC)
    return check_consent_time(value, now=now)
