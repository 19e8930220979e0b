"""Error codes of the coupons app (payload errors; see backend.api.errors)."""

from enum import StrEnum


class IssuanceErrorCode(StrEnum):
    ONLY_PUBLISHER = "ONLY_PUBLISHER"  # the publisher decides when its fans receive coupons
    PLACEMENT_NOT_ACCEPTED = "PLACEMENT_NOT_ACCEPTED"
    CAMPAIGN_NOT_ACTIVE = "CAMPAIGN_NOT_ACTIVE"
    QUOTA_REACHED = "QUOTA_REACHED"
    FAN_NOT_IN_POOL = "FAN_NOT_IN_POOL"  # not a consenting member of the placement's pool
    TOO_MANY_FANS = "TOO_MANY_FANS"
