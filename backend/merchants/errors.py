"""Error codes of the merchants app (payload errors; see backend.api.errors)."""

from enum import StrEnum


class MerchantErrorCode(StrEnum):
    STORE_INACTIVE = "STORE_INACTIVE"
    ALREADY_REVOKED = "ALREADY_REVOKED"
    CANNOT_REVOKE_SELF = "CANNOT_REVOKE_SELF"
    INVALID_TIMEZONE = "INVALID_TIMEZONE"
