"""How one write-off's fee is split, in integer minor units.

Rounding rule: the publisher's share is floored (``fee * bps // 10000``) and the platform
keeps the remainder, so the parts always add up to the fee exactly and the publisher is
never paid a fraction of a minor unit the issuer did not pay.
"""

from __future__ import annotations

from dataclasses import dataclass

BPS_DENOMINATOR = 10_000


@dataclass(frozen=True)
class FeeSplit:
    fee: int
    publisher: int
    platform: int


def split_fee(fee: int, publisher_share_bps: int) -> FeeSplit:
    if fee < 0:
        raise ValueError("a fee is never negative")
    if not 0 <= publisher_share_bps <= BPS_DENOMINATOR:
        raise ValueError("a share is 0..10000 basis points")
    publisher = fee * publisher_share_bps // BPS_DENOMINATOR
    return FeeSplit(fee=fee, publisher=publisher, platform=fee - publisher)
