"""Error codes of the web till's pairing (payload errors and the pairing endpoint's answers)."""

from enum import StrEnum


class TillErrorCode(StrEnum):
    PAIRING_CODE_INVALID = "PAIRING_CODE_INVALID"  # no such code (or mistyped)
    PAIRING_CODE_USED = "PAIRING_CODE_USED"  # single use: already exchanged
    PAIRING_CODE_EXPIRED = "PAIRING_CODE_EXPIRED"  # older than PAIRING_CODE_TTL
    PAIRING_RATE_LIMITED = "PAIRING_RATE_LIMITED"  # too many wrong codes from one address
    TERMINAL_REVOKED = "TERMINAL_REVOKED"
