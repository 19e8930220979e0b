"""Who is calling, as every resolver sees it: a merchant, and an API key's role or a terminal.

The ground names no domain model: the gateway (backend.gateway.authentication) fills these
fields with the merchants app's Merchant, ApiKey and Terminal rows.
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
    role: str | None = None  # set for API keys
    api_key: models.Model | None = None
    terminal: models.Model | None = None
    user: models.Model | None = None  # set for a console member (the session's user)

    @property
    def is_terminal(self) -> bool:
        return self.terminal is not None
