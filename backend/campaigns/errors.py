"""Error codes of the campaigns app (payload errors; see backend.api.errors).

Generic codes (REQUIRED, INVALID, OUT_OF_RANGE, NOT_FOUND, DUPLICATE) come from
backend.api.errors.CommonErrorCode; these name the campaign- and placement-specific ones.
"""

from enum import StrEnum


class CampaignErrorCode(StrEnum):
    INVALID_CURRENCY = "INVALID_CURRENCY"
    # A field that belongs to another benefit kind was given (e.g. percentOffBps with AMOUNT_OFF).
    BENEFIT_FIELD_CONFLICT = "BENEFIT_FIELD_CONFLICT"
    NEGATIVE_AMOUNT = "NEGATIVE_AMOUNT"
    VALIDITY_REQUIRED = "VALIDITY_REQUIRED"  # neither a window end nor days after issue
    VALIDITY_ORDER = "VALIDITY_ORDER"  # valid_until not after valid_from
    WINDOW_ENDED = "WINDOW_ENDED"  # activation after the window's end
    NOT_DRAFT = "NOT_DRAFT"  # money and benefit terms change only in draft
    INVALID_TRANSITION = "INVALID_TRANSITION"
    NOT_LIVE = "NOT_LIVE"  # live changes need an active or paused campaign
    BELOW_USED = "BELOW_USED"  # a cap below what the campaign has already used
    VALIDITY_NOT_EXTENDED = "VALIDITY_NOT_EXTENDED"  # validity can only be extended


class PlacementErrorCode(StrEnum):
    CAMPAIGN_NOT_ACTIVE = "CAMPAIGN_NOT_ACTIVE"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    OPEN_PLACEMENT_EXISTS = "OPEN_PLACEMENT_EXISTS"


class CampaignPartnerErrorCode(StrEnum):
    CAMPAIGN_NOT_ACTIVE = "CAMPAIGN_NOT_ACTIVE"
    OWN_CAMPAIGN = "OWN_CAMPAIGN"  # an issuer cannot be a partner of its own campaign
    # The per-coupon maximum above the campaign's largest discount per coupon.
    REIMBURSEMENT_ABOVE_DISCOUNT = "REIMBURSEMENT_ABOVE_DISCOUNT"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    OPEN_PARTNERSHIP_EXISTS = "OPEN_PARTNERSHIP_EXISTS"
