"""Currencies' minor units (ISO 4217 exponents): how many decimals an amount has.

Money is integer minor units + currency everywhere (API, ledger). Turning it into text or
parsing typed text into it needs the exponent: JPY 0 (500 = ¥500), CNY/USD 2 (500 = 5.00),
KWD 3 (500 = 0.500). Currencies not listed have 2 (the ISO 4217 common case). The table is
ISO 4217's list of currencies whose exponent is not 2 (docs/decisions.md "console-speed").
"""

from __future__ import annotations

from decimal import Decimal

_NOT_TWO = {
    # 0 decimals
    **dict.fromkeys(
        (
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ),
        0,
    ),
    # 3 decimals
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    # 4 decimals
    **dict.fromkeys(("CLF", "UYW"), 4),
}


def exponent(currency: str | None) -> int:
    """ISO 4217 minor-unit exponent: 'JPY' -> 0, 'CNY' -> 2, 'KWD' -> 3."""
    return _NOT_TWO.get((currency or "").upper(), 2)


def format_minor(amount: int, currency: str | None) -> str:
    """500, 'CNY' -> '5.00'; 500, 'JPY' -> '500'; 1500, 'KWD' -> '1.500' (grouped, no symbol)."""
    digits = exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, minor = divmod(abs(int(amount)), 10**digits)
    return sign + f"{whole:,}" + (f".{minor:0{digits}d}" if digits else "")


def to_minor(amount: Decimal, currency: str | None) -> int | None:
    """Decimal('5.00'), 'CNY' -> 500; None when it has more decimals than the currency allows
    ('5.5' in JPY, '1.005' in CNY): never rounded away."""
    scaled = amount.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        return None
    return int(scaled)
