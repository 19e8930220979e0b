"""Pairing codes: 8 Crockford base-32 symbols (40 bits), shown as XXXX-XXXX."""

from __future__ import annotations

import hashlib
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
LENGTH = 8
# What a person may type instead: lower case, spaces, dashes, and the letters Crockford reads.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize(raw: str) -> str:
    text = "".join(ch for ch in (raw or "").upper() if ch.isalnum())
    return text.translate(_READ_AS)


def display(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def is_well_formed(code: str) -> bool:
    return len(code) == LENGTH and all(ch in ALPHABET for ch in code)


def hash_code(code: str) -> str:
    # 40 random bits living 10 minutes: a plain hash keeps a database reader from pairing.
    return hashlib.sha256(f"till-pairing:{code}".encode()).hexdigest()
