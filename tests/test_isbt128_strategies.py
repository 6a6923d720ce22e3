"""Hypothesis strategies for the ISBT 128 tests: every kind of valid data structure and scan."""

from __future__ import annotations

import datetime as dt
import string

from hypothesis import given, reject
from hypothesis import strategies as st

from agent.isbt128 import (
    COLLECTION_TYPES,
    GROUP_CODES,
    MOD37_ALPHABET,
    OTHER_STRUCTURES,
    BloodGroup,
    CompoundMessage,
    Din,
    ExpirationDate,
    ExpirationDateTime,
    OtherStructure,
    ProductCode,
    ScanItem,
    Structure,
    mod37_2_value,
)

UPPER_NO_O = "ABCDEFGHIJKLMNPQRSTUVWXYZ"
ALNUM = string.ascii_uppercase + string.digits
MIXED = string.ascii_letters + string.digits
FLAG_CHARS = "ABCDEFGHJKLMNPRSTUVWXY0123456789"


def chars(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), min_size=size, max_size=size)


din_codes = st.builds(
    lambda first, middle, last, rest: first + middle + last + rest,
    chars(UPPER_NO_O + "123456789", 1),
    chars(UPPER_NO_O + string.digits, 2),
    chars(string.digits, 2),
    chars(string.digits, 8),
)
"""13-character DIN codes as ST-001 allows them."""


@st.composite
def dins(draw: st.DrawFn) -> Din:
    code = draw(din_codes)
    flags = draw(
        st.sampled_from(["00", "01", "05", "14", "19", "20", "59", "97", "99"])
        | chars(FLAG_CHARS, 2).filter(lambda flags: not flags.isdigit() or int(flags) < 60)
        | st.just(f"{60 + mod37_2_value(code)}")
    )
    return Din(code[:5], int(code[5:7]), int(code[7:]), flags)


blood_groups = st.builds(
    BloodGroup, st.sampled_from(sorted(GROUP_CODES)), chars(ALNUM, 1), chars(ALNUM, 1)
)


@st.composite
def product_codes(draw: st.DrawFn) -> ProductCode:
    description = draw(chars(string.ascii_uppercase, 1)) + draw(chars(ALNUM, 4))
    collection = draw(st.sampled_from(sorted(COLLECTION_TYPES)) | chars(MIXED, 1))
    division = draw(chars(ALNUM, 1)) + draw(chars(string.ascii_lowercase + string.digits, 1))
    try:
        return ProductCode(description, collection, division)
    except ValueError:
        reject()


expiration_date_times = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2999, 12, 31, 23, 59)
).map(lambda moment: ExpirationDateTime(moment.replace(second=0, microsecond=0)))

expiration_dates = st.dates(dt.date(2000, 1, 1), dt.date(2999, 12, 31)).map(ExpirationDate)


@st.composite
def others(draw: st.DrawFn) -> OtherStructure:
    identifier = draw(st.sampled_from(sorted(OTHER_STRUCTURES)))
    return OtherStructure(
        identifier, draw(chars(MIXED, OTHER_STRUCTURES[identifier].content_length))
    )


structures: st.SearchStrategy[Structure] = st.one_of(
    dins(), blood_groups, product_codes(), expiration_date_times, expiration_dates, others()
)

compound_messages = st.builds(
    CompoundMessage, st.lists(structures, min_size=1, max_size=8).map(tuple), st.integers(0, 999)
)

scans: st.SearchStrategy[tuple[ScanItem, ...]] = compound_messages.map(
    lambda message: (message,)
) | st.lists(structures, min_size=1, max_size=5).map(tuple)
"""What one scan may carry: one compound message, or one or more structures concatenated."""


@given(dins())
def test_generated_dins_carry_their_check_value_when_flags_say_so(din: Din) -> None:
    if din.flags.isdigit() and 60 <= int(din.flags) <= 96:
        assert MOD37_ALPHABET[int(din.flags) - 60] == din.check_character
