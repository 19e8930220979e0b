"""Writes of the web till: issue a pairing code, exchange it once for a terminal's secret."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from backend.api.errors import ServiceError
from backend.merchants import services as merchant_services
from backend.merchants.models import ApiKey, Store, Terminal

from . import pairing
from .errors import TillErrorCode
from .models import TerminalPairing

PAIRING_CODE_TTL = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class IssuedPairing:
    pairing: TerminalPairing
    code: str  # shown once, as XXXX-XXXX


@dataclass(frozen=True)
class PairedTerminal:
    terminal: Terminal
    secret: str


@transaction.atomic
def pairing_create(
    *,
    terminal: Terminal | None = None,
    store: Store | None = None,
    name: str | None = None,
    created_by: ApiKey | None = None,
    now: dt.datetime | None = None,
) -> IssuedPairing:
    """A pairing code for ``terminal``, or for a new terminal named ``name`` at ``store``.

    Single use, valid PAIRING_CODE_TTL. Exchanging it gives the terminal a new secret, so
    the phone that pairs is the only holder of a working one.
    """
    if terminal is None:
        if store is None:
            raise ServiceError.single("REQUIRED", "Name a terminal, or a store for a new one.", "terminal_id")
        terminal = merchant_services.terminal_create(store=store, name=name or "").terminal
    elif terminal.is_revoked:
        raise ServiceError.single(
            TillErrorCode.TERMINAL_REVOKED, "This terminal has been revoked.", "terminal_id"
        )
    now = now or timezone.now()
    code = pairing.new_code()
    record = TerminalPairing.objects.create(
        merchant_id=terminal.merchant_id,
        terminal=terminal,
        code_hash=pairing.hash_code(code),
        created_at=now,
        expires_at=now + PAIRING_CODE_TTL,
        created_by=created_by,
    )
    return IssuedPairing(pairing=record, code=pairing.display(code))


@transaction.atomic
def pairing_redeem(*, code: str, now: dt.datetime | None = None) -> PairedTerminal:
    """Exchange a pairing code for its terminal's id and a fresh secret: once, ever.

    A used, expired or unknown code is refused with its own code; nothing is written then.
    """
    now = now or timezone.now()
    normalized = pairing.normalize(code)
    if not pairing.is_well_formed(normalized):
        raise ServiceError.single(
            TillErrorCode.PAIRING_CODE_INVALID, "This pairing code is not valid.", "code"
        )
    code_hash = pairing.hash_code(normalized)
    taken = TerminalPairing.objects.filter(
        code_hash=code_hash, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    record = TerminalPairing.objects.select_related("terminal").filter(code_hash=code_hash).first()
    if not taken:
        if record is None:
            raise ServiceError.single(
                TillErrorCode.PAIRING_CODE_INVALID, "This pairing code is not valid.", "code"
            )
        if record.used_at is not None:
            raise ServiceError.single(
                TillErrorCode.PAIRING_CODE_USED, "This pairing code was already used.", "code"
            )
        raise ServiceError.single(
            TillErrorCode.PAIRING_CODE_EXPIRED, "This pairing code has expired.", "code"
        )
    terminal = record.terminal
    if terminal.is_revoked:
        # Raising rolls back the UPDATE above: a revoked terminal's code stays unused.
        raise ServiceError.single(TillErrorCode.TERMINAL_REVOKED, "This terminal has been revoked.", "code")
    secret = merchant_services.terminal_rotate_secret(terminal=terminal)
    return PairedTerminal(terminal=terminal, secret=secret)
