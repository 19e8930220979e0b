"""Error codes of the fan pages and the publisher's fan operations."""

from enum import StrEnum


class ClaimErrorCode(StrEnum):
    LINK_UNAVAILABLE = "LINK_UNAVAILABLE"  # disabled, or its placement/campaign no longer runs
    QUOTA_EXHAUSTED = "QUOTA_EXHAUSTED"
    CONSENT_REQUIRED = "CONSENT_REQUIRED"
    INVALID_PHONE = "INVALID_PHONE"
    CODE_INVALID = "CODE_INVALID"  # wrong, expired or never sent: the page does not say which
    CODE_LOCKED = "CODE_LOCKED"  # too many wrong attempts: ask for a new code
    RESEND_TOO_SOON = "RESEND_TOO_SOON"
    RATE_LIMITED = "RATE_LIMITED"  # too many codes or claims from this phone or address
    OWN_SHARE = "OWN_SHARE"  # a sharer cannot claim through its own share link
    GIFT_UNAVAILABLE = "GIFT_UNAVAILABLE"  # used, given, accepted already, or the campaign forbids it
    ALREADY_HOLDS = "ALREADY_HOLDS"  # the friend already holds this offer's coupon


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
