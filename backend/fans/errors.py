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
    SEND_FAILED = "SEND_FAILED"  # the text provider did not take the code (same page for any number)
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
