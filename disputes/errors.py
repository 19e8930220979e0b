"""Error codes of disputes (payload errors; see backend.api.errors)."""

from enum import StrEnum


class DisputeErrorCode(StrEnum):
    WINDOW_CLOSED = "WINDOW_CLOSED"  # the write-off is older than the dispute window
    WRITE_OFF_VOIDED = "WRITE_OFF_VOIDED"  # a voided write-off has nothing left to dispute
    NOT_CHARGED = "NOT_CHARGED"  # no charge was posted (zero fee, outside the attribution window)
    STILL_VOIDABLE = "STILL_VOIDABLE"  # inside the void window: void it at the till instead
    ALREADY_DISPUTED = "ALREADY_DISPUTED"  # one dispute per write-off, ever
    WRONG_PARTY = "WRONG_PARTY"  # only the counterparty responds; a party never decides
    ALREADY_RESPONDED = "ALREADY_RESPONDED"
    ALREADY_DECIDED = "ALREADY_DECIDED"
    OPERATOR_ONLY = "OPERATOR_ONLY"  # deciding needs the network operator's key
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    FILE_TYPE_NOT_ALLOWED = "FILE_TYPE_NOT_ALLOWED"
    TOO_MANY_FILES = "TOO_MANY_FILES"
