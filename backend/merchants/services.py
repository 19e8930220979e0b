"""Every write of the merchants app: keyword-only, one transaction each."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from backend.api.errors import CommonErrorCode, ErrorCollector, ServiceError

from . import credentials
from .errors import MerchantErrorCode
from .models import ApiKey, Merchant, Store, Terminal

NAME_MAX = 200
ADDRESS_MAX = 500


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str  # the full key, returned once


@dataclass(frozen=True)
class IssuedTerminal:
    terminal: Terminal
    secret: str  # the signing secret, returned once


@transaction.atomic
def merchant_create(
    *, name: str, slug: str | None = None, timezone_name: str = "UTC", default_currency: str = "CNY"
) -> Merchant:
    errors = ErrorCollector()
    errors.require_text("name", name, max_length=NAME_MAX)
    if timezone_name not in zoneinfo.available_timezones():
        errors.add("timezone", MerchantErrorCode.INVALID_TIMEZONE, "Unknown time zone.")
    errors.raise_if_any()
    slug = slug or slugify(name)[:64]
    if Merchant.objects.filter(slug=slug).exists():
        raise ServiceError.single(CommonErrorCode.DUPLICATE, "This slug is taken.", "slug")
    return Merchant.objects.create(
        name=name.strip(), slug=slug, timezone=timezone_name, default_currency=default_currency
    )


def _validate_store_fields(errors: ErrorCollector, *, name: str | None, address: str | None) -> None:
    if name is not None:
        errors.require_text("name", name, max_length=NAME_MAX)
    if address is not None and len(address) > ADDRESS_MAX:
        errors.add("address", CommonErrorCode.TOO_LONG, f"At most {ADDRESS_MAX} characters.")


def _save_store(store: Store, update_fields: list[str] | None = None) -> Store:
    try:
        with transaction.atomic():
            store.save(update_fields=update_fields)
    except IntegrityError:
        raise ServiceError.single(
            CommonErrorCode.DUPLICATE, "A store with this name already exists.", "name"
        ) from None
    return store


@transaction.atomic
def store_create(*, merchant: Merchant, name: str, address: str = "") -> Store:
    errors = ErrorCollector()
    _validate_store_fields(errors, name=name, address=address)
    errors.raise_if_any()
    return _save_store(Store(merchant=merchant, name=name.strip(), address=address.strip()))


@transaction.atomic
def store_update(
    *, store: Store, name: str | None = None, address: str | None = None, is_active: bool | None = None
) -> Store:
    errors = ErrorCollector()
    _validate_store_fields(errors, name=name, address=address)
    errors.raise_if_any()
    fields = []
    if name is not None:
        store.name, fields = name.strip(), [*fields, "name"]
    if address is not None:
        store.address, fields = address.strip(), [*fields, "address"]
    if is_active is not None:
        store.is_active, fields = is_active, [*fields, "is_active"]
    if fields:
        _save_store(store, update_fields=[*fields, "updated_at"])
    return store


@transaction.atomic
def terminal_create(*, store: Store, name: str) -> IssuedTerminal:
    errors = ErrorCollector()
    errors.require_text("name", name, max_length=NAME_MAX)
    if not store.is_active:
        errors.add("storeId", MerchantErrorCode.STORE_INACTIVE, "The store is not active.")
    errors.raise_if_any()
    secret = credentials.new_terminal_secret()
    terminal = Terminal.objects.create(
        merchant_id=store.merchant_id,
        store=store,
        uid=credentials.new_terminal_uid(),
        name=name.strip(),
        secret_encrypted=credentials.encrypt_terminal_secret(secret),
    )
    return IssuedTerminal(terminal=terminal, secret=secret)


@transaction.atomic
def terminal_update(*, terminal: Terminal, name: str) -> Terminal:
    errors = ErrorCollector()
    errors.require_text("name", name, max_length=NAME_MAX)
    errors.raise_if_any()
    terminal.name = name.strip()
    terminal.save(update_fields=["name"])
    return terminal


@transaction.atomic
def terminal_revoke(*, terminal: Terminal) -> Terminal:
    updated = Terminal.objects.filter(pk=terminal.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if not updated:
        raise ServiceError.single(MerchantErrorCode.ALREADY_REVOKED, "Already revoked.", "id")
    terminal.refresh_from_db(fields=["revoked_at"])
    return terminal


@transaction.atomic
def api_key_create(*, merchant: Merchant, name: str, role: str) -> IssuedApiKey:
    errors = ErrorCollector()
    errors.require_text("name", name, max_length=NAME_MAX)
    if role not in ApiKey.Role.values:
        errors.add("role", CommonErrorCode.INVALID, "Role must be admin, brand or finance.")
    errors.raise_if_any()
    prefix, secret = credentials.new_api_key()
    key = ApiKey.objects.create(
        merchant=merchant,
        name=name.strip(),
        role=role,
        prefix=prefix,
        secret_hash=credentials.hash_api_key(secret),
    )
    return IssuedApiKey(api_key=key, secret=secret)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, revoked_by: ApiKey | None = None) -> ApiKey:
    if revoked_by is not None and revoked_by.pk == api_key.pk:
        raise ServiceError.single(MerchantErrorCode.CANNOT_REVOKE_SELF, "A key cannot revoke itself.", "id")
    updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if not updated:
        raise ServiceError.single(MerchantErrorCode.ALREADY_REVOKED, "Already revoked.", "id")
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


@transaction.atomic
def terminal_rotate_secret(*, terminal: Terminal) -> str:
    """Give ``terminal`` a new signing secret and return it (shown once); the old one stops working."""
    secret = credentials.new_terminal_secret()
    terminal.secret_encrypted = credentials.encrypt_terminal_secret(secret)
    terminal.save(update_fields=["secret_encrypted"])
    return secret


def terminal_secrets_reencrypt(*, batch_size: int = 500) -> int:
    """Re-encrypt every terminal's secret with the newest of TERMINAL_SECRET_KEYS; how many
    rows changed. Rows already under the newest key are left alone, so running it again is
    cheap; each batch is one transaction with its rows locked (a terminal created or rotated
    meanwhile is encrypted with the newest key anyway)."""
    changed, last_id = 0, 0
    while True:
        with transaction.atomic():
            batch = list(
                Terminal.objects.select_for_update()
                .filter(pk__gt=last_id)
                .order_by("pk")
                .only("pk", "secret_encrypted")[:batch_size]
            )
            if not batch:
                return changed
            for terminal in batch:
                token = credentials.reencrypt_terminal_secret(bytes(terminal.secret_encrypted))
                if token is not None:
                    Terminal.objects.filter(pk=terminal.pk).update(secret_encrypted=token)
                    changed += 1
            last_id = batch[-1].pk
