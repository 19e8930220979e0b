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


class SharingErrorCode(StrEnum):
    """The share allowance on a placement and the referral reward of a campaign."""

    ONLY_PARTIES = "ONLY_PARTIES"  # only the placement's issuer or publisher sets its share allowance
    INVALID_ALLOWANCE = "INVALID_ALLOWANCE"  # 0..1,000,000 and not below what friends already took
    ONLY_ISSUER = "ONLY_ISSUER"  # only the campaign's issuer sets its referral reward
    INVALID_REWARD = "INVALID_REWARD"  # another issuer's, itself, not running, or another currency
