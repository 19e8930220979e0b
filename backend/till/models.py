"""Pairing codes: how a phone becomes a store's signed terminal without anyone typing a secret."""

from django.db import models
from django.db.models import Q


class TerminalPairing(models.Model):
    """A short, single-use code that a till exchanges once for its terminal's id and secret.

    Only the SHA-256 of the code is stored. ``used_at`` is set by a conditional UPDATE, so two
    phones racing with the same code cannot both get the secret.
    """

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    terminal = models.ForeignKey("merchants.Terminal", on_delete=models.CASCADE, related_name="pairings")
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        "merchants.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="pairing_expiry_after_creation"
            ),
        ]

    def __str__(self) -> str:
        return f"pairing of {self.terminal_id} until {self.expires_at:%Y-%m-%d %H:%M}"
