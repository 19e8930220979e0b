"""Stable error codes of the attribution app."""

from enum import StrEnum


class AttributionErrorCode(StrEnum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    INVALID_PERIOD = "INVALID_PERIOD"
    INVALID_CURRENCY = "INVALID_CURRENCY"
    LINK_EXPIRED = "LINK_EXPIRED"
    LINK_INVALID = "LINK_INVALID"
    EXPORT_NOT_READY = "EXPORT_NOT_READY"
