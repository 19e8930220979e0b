"""Coupon codes: 12 characters of Crockford base 32, the last a check character.

11 random symbols (32**11 = 3.6e16 codes) and one Luhn mod 32 check symbol, which catches
every single mistyped character and most swaps of neighbours, so a typo at the till is
told apart (``MISTYPED_CODE``) from a well-formed code nobody issued (``UNKNOWN_CODE``).
Input is normalised as Crockford says: case-insensitive, hyphens and spaces ignored,
O read as 0, I and L read as 1.
"""

from __future__ import annotations

import secrets

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


def normalize(raw: str) -> str:
    return raw.strip().upper().translate(_TRANSLATE)


def is_well_formed(code: str) -> bool:
    """True if ``code`` (normalised) has the right length, alphabet and check symbol."""
    if len(code) != CODE_LENGTH or any(ch not in _VALUE for ch in code):
        return False
    return check_symbol(code[:-1]) == code[-1]
