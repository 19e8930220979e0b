"""Who is calling, as every resolver sees it: a merchant, and an API key's role, a terminal,
or a console member (a signed-in person's Membership, with its role).

The ground names no domain model: the gateway (backend.gateway.authentication) fills these
fields with the merchants app's Merchant, ApiKey and Terminal rows; the console
(backend.console.members) with the session's user and Membership.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class Role(models.TextChoices):
    """What an API key may do; ``admin`` may do everything a key may (merchants' ApiKey.Role)."""

    ADMIN = "admin", "Admin"
    BRAND = "brand", "Brand"
    FINANCE = "finance", "Finance"


@dataclass(frozen=True)
class Caller:
    merchant: models.Model  # the caller's Merchant: every query and mutation is scoped to it
    role: str | None = None  # set for API keys and members: permissions check only this
    api_key: models.Model | None = None
    terminal: models.Model | None = None
    user: models.Model | None = None  # a console member: the signed-in person...
    membership: models.Model | None = None  # ...and their Membership in ``merchant``

    @property
    def is_member(self) -> bool:
        return self.user is not None

    @property
    def actor_label(self) -> str:
        """Who did it, for history and audit lines: the key's name, the member's email."""
        if self.api_key is not None:
            return self.api_key.name
        if self.user is not None:
            return self.user.email or str(self.user)
        if self.terminal is not None:
            return self.terminal.name
        return self.merchant.name

    @property
    def is_terminal(self) -> bool:
        return self.terminal is not None
