"""Coupon codes: 12 characters of Crockford base 32, the last a check character.

11 random symbols (32**11 = 3.6e16 codes) and one Luhn mod 32 check symbol, which catches
every single mistyped character and most swaps of neighbours, so a typo at the till is
told apart (``MISTYPED_CODE``) from a well-formed code nobody issued (``UNKNOWN_CODE``).
Input is normalised as Crockford says: case-insensitive, hyphens and spaces ignored,
O read as 0, I and L read as 1.
"""

from __future__ import annotations

import os
import secrets

import numpy as np

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BASE = len(ALPHABET)
CODE_LENGTH = 12
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_TRANSLATE = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


def check_symbol(body: str) -> str:
    """Luhn mod N check symbol for ``body`` (symbols of ALPHABET)."""
    factor, total = 2, 0
    for ch in reversed(body):
        addend = factor * _VALUE[ch]
        addend = addend // BASE + addend % BASE
        total += addend
        factor = 1 if factor == 2 else 2
    return ALPHABET[(BASE - total % BASE) % BASE]


def new_code(body_length: int = CODE_LENGTH - 1, alphabet: str = ALPHABET) -> str:
    """A random code. Tests may pass a tiny ``alphabet`` to force collisions."""
    body = "".join(secrets.choice(alphabet) for _ in range(body_length))
    return body + check_symbol(body)


_ALPHABET_BYTES = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)


def new_codes(count: int, *, body_symbols: int = BASE) -> list[str]:
    """``count`` random codes at once (vectorised: a million take well under a second).

    Randomness comes from the OS (``os.urandom``): codes are bearer tokens, so they must
    not be predictable. ``body_symbols`` < 32 draws the body from the first symbols of the
    alphabet only: tests use it to force collisions; the check symbol is always computed
    over the full alphabet, so such codes are still well-formed.
    """
    if count <= 0:
        return []
    body_length = CODE_LENGTH - 1
    raw = np.frombuffer(os.urandom(count * body_length), dtype=np.uint8).reshape(count, body_length)
    # 256 is a multiple of 32, so ``% 32`` keeps the symbols uniform.
    values = (raw % BASE if body_symbols == BASE else raw % body_symbols).astype(np.int64)
    # Luhn mod N: factor 2 on the rightmost symbol of the body, alternating leftwards.
    factors = np.array([2 if (body_length - 1 - i) % 2 == 0 else 1 for i in range(body_length)])
    addends = values * factors
    total = (addends // BASE + addends % BASE).sum(axis=1)
    check = (BASE - total % BASE) % BASE
    symbols = np.concatenate([values, check[:, None]], axis=1)
    text = _ALPHABET_BYTES[symbols].tobytes().decode("ascii")
    return [text[i : i + CODE_LENGTH] for i in range(0, len(text), CODE_LENGTH)]


def normalize(raw: str) -> str:
    return raw.strip().upper().translate(_TRANSLATE)


def is_well_formed(code: str) -> bool:
    """True if ``code`` (normalised) has the right length, alphabet and check symbol."""
    if len(code) != CODE_LENGTH or any(ch not in _VALUE for ch in code):
        return False
    return check_symbol(code[:-1]) == code[-1]
