"""Keys of their own: terminal secrets under TERMINAL_SECRET_KEYS (MultiFernet, rotatable,
with a path for rows encrypted under the old SECRET_KEY-derived key), and FAN_ID_HASH_KEY
required when DEBUG is off."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command

from backend.merchants import credentials
from backend.merchants.models import Terminal
from tests.factories import pos_setup

ROOT = Path(__file__).resolve().parents[2]
K1, K2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def _token(terminal: Terminal) -> bytes:
    return bytes(Terminal.objects.get(pk=terminal.pk).secret_encrypted)


_amounts = iter(range(3000, 4000))


def _checks(api, operation, setup) -> bool:
    """The till path: a signed checkCoupon is accepted (its secret decrypted server-side).
    Each call signs another body: the same signature twice in one second is a replay."""
    variables = {
        "code": setup.coupons[0].code,
        "orderAmount": next(_amounts),
        "currency": setup.campaign.currency,
    }
    answer = api.execute(operation("pos_check_coupon"), variables, terminal=setup.signing)
    return answer.status == 200 and not answer.errors


def _rotate() -> str:
    out = io.StringIO()
    call_command("rotate_terminal_secrets", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_rows_under_the_secret_key_derived_key_move_to_the_new_key(settings, api, operation):
    settings.TERMINAL_SECRET_KEYS = []  # before this change: the key derived from SECRET_KEY
    setup = pos_setup(coupons=1)
    legacy = _token(setup.terminal)
    Fernet(credentials._legacy_key()).decrypt(legacy)

    settings.TERMINAL_SECRET_KEYS = [K1]  # upgraded: the legacy key still decrypts
    assert _checks(api, operation, setup)
    assert "Re-encrypted 1 terminal secret(s)" in _rotate()
    moved = _token(setup.terminal)
    assert moved != legacy and Fernet(K1.encode()).decrypt(moved).decode() == setup.secret
    assert "Re-encrypted 0" in _rotate()  # idempotent: rows under the newest key stay

    settings.TERMINAL_SECRET_LEGACY_DECRYPT = False  # the old key is gone for good
    assert _checks(api, operation, setup)
    with pytest.raises(InvalidToken):
        credentials.decrypt_terminal_secret(legacy)


@pytest.mark.django_db
def test_a_new_key_goes_first_then_the_old_one_can_go(settings, api, operation):
    settings.TERMINAL_SECRET_KEYS = [K1]
    settings.TERMINAL_SECRET_LEGACY_DECRYPT = False
    setup = pos_setup(coupons=1)
    old = _token(setup.terminal)
    Fernet(K1.encode()).decrypt(old)

    settings.TERMINAL_SECRET_KEYS = [K2, K1]  # first encrypts, all decrypt
    assert _checks(api, operation, setup)
    new_terminal = pos_setup(coupons=0).terminal
    Fernet(K2.encode()).decrypt(_token(new_terminal))
    assert "Re-encrypted 1 terminal secret(s)" in _rotate()  # only the old row changed

    settings.TERMINAL_SECRET_KEYS = [K2]
    assert _checks(api, operation, setup)
    with pytest.raises(InvalidToken):
        credentials.decrypt_terminal_secret(old)


@pytest.mark.django_db
def test_a_row_no_key_decrypts_stops_the_rotation_with_a_clear_error(settings):
    settings.TERMINAL_SECRET_KEYS = [K1]
    settings.TERMINAL_SECRET_LEGACY_DECRYPT = False
    pos_setup(coupons=0)
    settings.TERMINAL_SECRET_KEYS = [K2]
    with pytest.raises(CommandError, match="not in TERMINAL_SECRET_KEYS"):
        _rotate()


def _start_django(**env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("FAN_ID_HASH_KEY", "TERMINAL_SECRET_KEYS")
    }
    environment.update({"DJANGO_SETTINGS_MODULE": "backend.config.settings", "DEBUG": "0", **env})
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("missing", ["FAN_ID_HASH_KEY", "TERMINAL_SECRET_KEYS"])
def test_each_key_is_required_when_debug_is_off(missing):
    keys = {"FAN_ID_HASH_KEY": "fan-key", "TERMINAL_SECRET_KEYS": K1}
    keys.pop(missing)
    done = _start_django(**keys)
    assert done.returncode != 0 and f"Set the {missing} environment variable" in done.stderr
    assert _start_django(FAN_ID_HASH_KEY="fan-key", TERMINAL_SECRET_KEYS=K1).returncode == 0
