"""Pairing codes as people type them, and every till string and reason message in zh-Hans."""

from __future__ import annotations

import pytest
from django.utils import translation

from backend.redemptions.errors import REASON_MESSAGES, RedemptionReason, reason_message
from backend.till import pairing
from backend.till.strings import till_strings


def test_codes_are_eight_crockford_symbols_shown_in_two_groups():
    code = pairing.new_code()
    assert pairing.is_well_formed(code)
    assert pairing.display(code) == f"{code[:4]}-{code[4:]}"
    assert len({pairing.new_code() for _ in range(200)}) == 200


@pytest.mark.parametrize(
    ("typed", "read"),
    [("ab12-cd34", "AB12CD34"), (" ab12 cd34 ", "AB12CD34"), ("OOII-LLXY", "001111XY")],
)
def test_a_code_is_read_as_a_person_types_it(typed, read):
    assert pairing.normalize(typed) == read


def test_malformed_codes_are_not_well_formed():
    assert not pairing.is_well_formed("ABC")
    assert not pairing.is_well_formed("ABCDEFGU")  # U is not a Crockford symbol
    assert pairing.hash_code("AB12CD34") != pairing.hash_code("AB12CD35")


def test_every_till_string_has_a_chinese_translation():
    with translation.override("en"):
        english = till_strings()
    with translation.override("zh-hans"):
        chinese = till_strings()
    untranslated = [key for key in english if english[key] == chinese[key]]
    assert untranslated == []
    # Placeholders the script fills in survive translation.
    for key, text in english.items():
        for placeholder in ("{time}", "{seconds}", "{limit}"):
            assert (placeholder in text) == (placeholder in chinese[key]), key


def test_every_reason_message_has_a_chinese_translation():
    assert set(REASON_MESSAGES) == set(RedemptionReason)
    for reason in RedemptionReason:
        with translation.override("en"):
            english = reason_message(reason)
        with translation.override("zh-hans"):
            chinese = reason_message(reason)
        assert english == str(REASON_MESSAGES[reason]), reason
        assert chinese != english, reason
    with translation.override("zh-hans"):
        assert reason_message(None, verified=True) == "优惠券核销成功。"
