"""The fee split: the publisher's share is floored, the platform keeps the remainder."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.pricing import split_fee


@given(fee=st.integers(0, 10**12), bps=st.integers(0, 10_000))
def test_split_adds_up_and_floors_the_publisher_share(fee, bps):
    split = split_fee(fee, bps)
    assert split.publisher + split.platform == fee
    assert split.publisher * 10_000 <= fee * bps < (split.publisher + 1) * 10_000
    assert 0 <= split.publisher <= fee and split.platform >= 0


def test_examples():
    assert split_fee(125, 3333) == split_fee(125, 3333).__class__(fee=125, publisher=41, platform=84)
    assert split_fee(1, 5000).publisher == 0 and split_fee(1, 5000).platform == 1
    assert split_fee(120, 10_000).platform == 0


@pytest.mark.parametrize("fee,bps", [(-1, 0), (10, -1), (10, 10_001)])
def test_rejects_impossible_inputs(fee, bps):
    with pytest.raises(ValueError):
        split_fee(fee, bps)
