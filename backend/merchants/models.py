"""Merchants (the tenants), their stores and POS terminals, and their API keys."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from backend.api import callers


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"Unknown time zone {value!r}.", code="invalid_timezone")


class Merchant(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    default_currency = models.CharField(max_length=3, default="CNY")
    # The network's own operator (docs/decisions.md, "Disputes"): its admin and finance API
    # keys decide disputes between other merchants. Set in the Django admin only, never by API.
    is_network_operator = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # False for a self-serve sign-up while CONSOLE_SIGNUP_REQUIRES_APPROVAL waits for an
    # operator (the admin's "approve" action); its members see a waiting page, nothing else.
    is_approved = models.BooleanField(default=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Store(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="stores")
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=500, blank=True, default="")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="store_name_unique_per_merchant"),
        ]

    def __str__(self) -> str:
        return f"{self.merchant.name} / {self.name}"


class Terminal(models.Model):
    """A POS device at one store. It signs every request with its own secret.

    The secret must be readable by the server to check HMAC signatures, so it is stored
    encrypted (Fernet, with TERMINAL_SECRET_KEYS: rotatable), never in clear, and shown once
    on creation.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="terminals")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="terminals")
    uid = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    secret_encrypted = models.BinaryField()
    secret_version = models.PositiveIntegerField(
        default=1,
        help_text="Raised by a trigger whenever secret_encrypted changes (migration 0003): "
        "processes cache the decrypted secret by (terminal, version).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.uid})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class ApiKey(models.Model):
    Role = callers.Role  # the ground's roles: permissions check them without knowing this model

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=16, choices=Role.choices)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Who revoked it: another key of the merchant, or a console member (or neither, for an
    # operator's shell). The audit trail holds the same fact with the time and input.
    revoked_by_key = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["admin", "brand", "finance"]), name="apikey_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.role})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class TerminalRequestNonce(models.Model):
    """A nonce already seen from a terminal: a second request with it is a replay.

    Kept in PostgreSQL (not Redis) so that the POS path does not depend on the broker;
    rows older than the signature window are purged by a periodic task.
    """

    terminal = models.ForeignKey(Terminal, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["terminal", "nonce"], name="terminal_nonce_unique"),
        ]


class Membership(models.Model):
    """A person's role in one merchant: the console's caller (a Member). One person may belong
    to several merchants; the console keeps the active one in the session."""

    Role = callers.Role

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "merchant"], name="membership_unique_per_merchant"),
            models.CheckConstraint(
                condition=Q(role__in=["admin", "brand", "finance"]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.merchant.name} ({self.role})"
