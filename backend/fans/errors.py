"""Error codes of the fan pages and the publisher's fan operations."""

from enum import StrEnum

from .page_codes import ClaimErrorCode  # noqa: F401 - the pages' codes, re-exported


class PublishErrorCode(StrEnum):
    ONE_RECIPIENT = "ONE_RECIPIENT"  # exactly one of externalRef or phone
    ONLY_PUBLISHER = "ONLY_PUBLISHER"
    PLACEMENT_NOT_ACCEPTED = "PLACEMENT_NOT_ACCEPTED"
    FAN_NOT_IN_POOL = "FAN_NOT_IN_POOL"
    QUOTA_EXHAUSTED = "QUOTA_EXHAUSTED"


class ClaimLinkErrorCode(StrEnum):
    ONLY_PUBLISHER = "ONLY_PUBLISHER"
    PLACEMENT_NOT_ACCEPTED = "PLACEMENT_NOT_ACCEPTED"
    INVALID_CHANNEL = "INVALID_CHANNEL"
