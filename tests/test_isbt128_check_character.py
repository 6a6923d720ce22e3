"""ISO/IEC 7064 Mod 37-2 and the DIN's check character: ICCBBA's vectors, and proof that every
single substitution and every adjacent transposition over a 13-character DIN code is caught."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.isbt128 import (
    BadCharacter,
    BadCheckCharacter,
    Din,
    LabelError,
    iso7064_mod37_2,
    mod37_2_value,
    parse_din,
    parse_keyboard_entry,
)
from tests.test_isbt128_strategies import din_codes

DATA_ALPHABET = string.digits + string.ascii_uppercase
SAMPLE_CODES = ("G123417654321", "A999917123456", "A999926000007", "Z9Z9900000000", "1AB1299999999")


@pytest.mark.parametrize(
    ("code", "check"), [("G123417654321", "A"), ("A999917123456", "9"), ("A999818123456", "N")]
)
def test_iccbba_vectors(code: str, check: str) -> None:
    assert iso7064_mod37_2(code) == check


def test_the_check_value_indexes_the_alphabet() -> None:
    assert mod37_2_value("G123417654321") == 10


@pytest.mark.parametrize("data", ["a1", "A*", "A-1", "É"])
def test_characters_outside_the_data_alphabet_are_refused(data: str) -> None:
    with pytest.raises(ValueError, match="not a Mod 37-2 data character"):
        iso7064_mod37_2(data)


def _substitutions(code: str) -> list[str]:
    return [
        code[:index] + char + code[index + 1 :]
        for index in range(len(code))
        for char in DATA_ALPHABET
        if char != code[index]
    ]


def _transpositions(code: str) -> list[str]:
    return [
        code[:index] + code[index + 1] + code[index] + code[index + 2 :]
        for index in range(len(code) - 1)
        if code[index] != code[index + 1]
    ]


@pytest.mark.parametrize("code", SAMPLE_CODES)
def test_every_substitution_and_adjacent_transposition_changes_the_check(code: str) -> None:
    check = iso7064_mod37_2(code)
    changed = _substitutions(code) + _transpositions(code)
    assert len(changed) >= 13 * 35
    assert all(iso7064_mod37_2(other) != check for other in changed)


@pytest.mark.parametrize("code", SAMPLE_CODES)
def test_a_mistyped_keyboard_entry_never_reads_as_a_din(code: str) -> None:
    check = iso7064_mod37_2(code)
    assert parse_keyboard_entry(code + check).code == code
    for other in _substitutions(code) + _transpositions(code):
        with pytest.raises((BadCheckCharacter, BadCharacter)):
            parse_keyboard_entry(other + check)


@given(din_codes, st.data())
def test_hypothesis_substitution_is_caught(code: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, 12))
    char = data.draw(st.sampled_from(DATA_ALPHABET).filter(lambda c: c != code[index]))
    other = code[:index] + char + code[index + 1 :]
    assert iso7064_mod37_2(other) != iso7064_mod37_2(code)


@given(din_codes, st.data())
def test_hypothesis_adjacent_transposition_is_caught(code: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, 11))
    other = code[:index] + code[index + 1] + code[index] + code[index + 2 :]
    if other != code:
        assert iso7064_mod37_2(other) != iso7064_mod37_2(code)


@given(din_codes, st.data())
def test_check_flags_catch_a_changed_code(code: str, data: st.DataObject) -> None:
    """Flags 60-96 carry the check value: a bar code whose code changed in one character is
    refused, never read as another DIN."""
    flags = f"{60 + mod37_2_value(code)}"
    assert parse_din(f"={code}{flags}").code == code
    index = data.draw(st.integers(0, 12))
    char = data.draw(st.sampled_from(DATA_ALPHABET).filter(lambda c: c != code[index]))
    other = code[:index] + char + code[index + 1 :]
    with pytest.raises(LabelError):
        parse_din(f"={other}{flags}")


def test_din_check_character_property_matches_the_function() -> None:
    din = Din("G1234", 17, 654321)
    assert din.check_character == "A"
    assert din.keyboard_entry() == "G123417654321A"
