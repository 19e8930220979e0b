"""Error codes of the fan pages (claim, share, gift): shown in a page's ``data-code``, never
on a GraphQL payload, so they live apart from errors.py (whose enums are all on payloads)."""

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
