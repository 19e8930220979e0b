"""Coupon codes: well-formed, check symbol catches single typos, bulk generation is unbiased enough."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backend.coupons import codes

symbols = st.sampled_from(codes.ALPHABET)


def test_bulk_codes_are_well_formed_and_distinct():
    batch = codes.new_codes(20_000)
    assert len(batch) == 20_000
    assert all(len(c) == codes.CODE_LENGTH and codes.is_well_formed(c) for c in batch)
    assert len(set(batch)) == len(batch)
    assert codes.new_codes(0) == []


def test_bulk_codes_match_the_single_code_check_symbol():
    for code in codes.new_codes(500):
        assert codes.check_symbol(code[:-1]) == code[-1]


def test_tiny_code_space_for_tests():
    batch = codes.new_codes(1000, body_symbols=2)
    assert all(set(c[:-1]) <= {"0", "1"} and codes.is_well_formed(c) for c in batch)
    assert len(set(batch)) <= 2**11


def test_symbols_are_spread_over_the_alphabet():
    text = "".join(c[:-1] for c in codes.new_codes(5000))
    counts = {ch: text.count(ch) for ch in codes.ALPHABET}
    expected = len(text) / 32
    assert all(0.8 * expected < n < 1.2 * expected for n in counts.values())


@given(st.integers(min_value=0, max_value=codes.CODE_LENGTH - 1), symbols, st.data())
def test_a_single_mistyped_symbol_is_detected(position, replacement, data):
    code = codes.new_code()
    if code[position] == replacement:
        return
    typo = code[:position] + replacement + code[position + 1 :]
    assert not codes.is_well_formed(typo)


@given(st.text(alphabet=codes.ALPHABET.lower() + "-o il", max_size=20))
def test_normalize_never_raises(raw):
    assert isinstance(codes.is_well_formed(codes.normalize(raw)), bool)
