"""Error codes of the team: members and invitations (payload errors; see backend.api.errors)."""

from enum import StrEnum


class TeamErrorCode(StrEnum):
    ALREADY_MEMBER = "ALREADY_MEMBER"
    ALREADY_INVITED = "ALREADY_INVITED"
    INVITATION_CLOSED = "INVITATION_CLOSED"  # accepted, revoked or expired
    LAST_ADMIN = "LAST_ADMIN"  # a merchant always keeps one admin
