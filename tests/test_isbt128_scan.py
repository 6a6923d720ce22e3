"""Scans as the scanner delivers them: single structures, concatenation, compound messages,
unit labels; every valid scan round-trips and no text makes the parser raise anything but a
LabelError."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from agent.isbt128 import (
    BadLength,
    BloodGroup,
    CompoundCountMismatch,
    CompoundMessage,
    Din,
    DuplicateStructure,
    ExpirationDate,
    ExpirationDateTime,
    LabelError,
    MissingStructure,
    OtherStructure,
    ProductCode,
    ScanItem,
    UnexpectedStructure,
    UnitLabel,
    UnknownDataIdentifier,
    encode_scan,
    flatten,
    parse_compound,
    parse_scan,
)
from hal_sim.units import SimUnit
from tests.test_isbt128_strategies import scans

DIN = "=A99992600000700"
GROUP = "=%9500"
PRODUCT = "=<E0336V00"
EXPIRY = "&>0273650805"
LABEL = UnitLabel(
    Din("A9999", 26, 7),
    BloodGroup("95"),
    ProductCode("E0336", "V", "00"),
    ExpirationDateTime(dt.datetime(2027, 12, 31, 8, 5)),
)


def test_single_structures_dispatch_on_their_data_identifier() -> None:
    assert parse_scan(DIN) == (LABEL.din,)
    assert parse_scan(GROUP) == (LABEL.blood_group,)
    assert parse_scan(PRODUCT) == (LABEL.product_code,)
    assert parse_scan(EXPIRY) == (LABEL.expiry,)
    assert parse_scan("=>027365") == (ExpirationDate(dt.date(2027, 12, 31)),)
    assert parse_scan("=*026001") == (OtherStructure("=*", "026001"),)


def test_concatenated_structures_read_in_order() -> None:
    assert parse_scan(PRODUCT + EXPIRY + DIN) == (LABEL.product_code, LABEL.expiry, LABEL.din)


def test_compound_message_worked_example() -> None:
    text = "=+05000" + DIN + GROUP + PRODUCT + EXPIRY + "=*026001"
    (message,) = parse_scan(text)
    assert isinstance(message, CompoundMessage)
    assert message.sequence == 0
    assert message.structures[:4] == LABEL.structures()
    assert message.encode() == text
    assert UnitLabel.from_structures([message]) == LABEL
    assert LABEL.compound().encode() == "=+04000" + DIN + GROUP + PRODUCT + EXPIRY


@pytest.mark.parametrize(
    ("text", "error", "position", "message"),
    [
        ("=+03000" + DIN + GROUP + PRODUCT + EXPIRY, CompoundCountMismatch, 39, "declares 3"),
        ("=+05000" + DIN + GROUP + PRODUCT + EXPIRY, CompoundCountMismatch, 51, "found 4"),
        ("=+00000", CompoundCountMismatch, 2, "found 00"),
        ("=+01000", CompoundCountMismatch, 7, "found 0"),
        ("=+0200", BadLength, 6, None),
        ("=+0A000" + DIN, LabelError, 3, "number of structures"),
        ("=+02000" + DIN + "=+01000" + GROUP, UnexpectedStructure, 23, "another compound"),
        ("=+02000" + DIN + "=%9-00", LabelError, 26, None),
        (DIN + "=+01000" + GROUP, UnexpectedStructure, 16, "whole scan"),
    ],
)
def test_bad_compound_messages_are_refused(
    text: str, error: type[LabelError], position: int, message: str | None
) -> None:
    with pytest.raises(error, match=message) as raised:
        parse_scan(text)
    assert raised.value.position == position


def test_parse_compound_reads_a_whole_message() -> None:
    assert parse_compound(LABEL.compound().encode()) == LABEL.compound()


@pytest.mark.parametrize(
    ("text", "error", "position"),
    [
        ("", BadLength, 0),
        ("\r\n", UnknownDataIdentifier, 0),
        (DIN + "\r", UnknownDataIdentifier, 16),
        ("]C1" + DIN, UnknownDataIdentifier, 0),
        ("=0A9992600000700", UnknownDataIdentifier, 0),
        ("&a12345", UnknownDataIdentifier, 0),
        (PRODUCT + "&>02736508", BadLength, 20),
        ("=", UnknownDataIdentifier, 0),
    ],
)
def test_what_is_not_a_structure_is_refused_with_its_position(
    text: str, error: type[LabelError], position: int
) -> None:
    with pytest.raises(error) as raised:
        parse_scan(text)
    assert raised.value.position == position


def test_a_unit_label_from_separate_scans() -> None:
    assert UnitLabel.from_scans(DIN, GROUP, PRODUCT + EXPIRY) == LABEL
    assert LABEL.barcodes() == (DIN, GROUP, PRODUCT, EXPIRY)
    assert LABEL.expires_at(dt.UTC) == dt.datetime(2027, 12, 31, 8, 5, tzinfo=dt.UTC)


def test_a_unit_label_ignores_other_structures_and_takes_a_date_only_expiry() -> None:
    label = UnitLabel.from_scans(DIN, "=*026001", GROUP, PRODUCT, "=>027365")
    assert label.expiry == ExpirationDate(dt.date(2027, 12, 31))


@pytest.mark.parametrize(
    ("scans_", "error", "message"),
    [
        ((DIN, GROUP, PRODUCT), MissingStructure, "expected one expiry, found none"),
        ((GROUP, PRODUCT, EXPIRY), MissingStructure, "DIN"),
        ((DIN, GROUP, PRODUCT, EXPIRY, DIN), DuplicateStructure, "expected one DIN"),
        ((DIN, GROUP, PRODUCT, EXPIRY, "=>027365"), DuplicateStructure, "expiry"),
        ((DIN, GROUP, "=%5100", PRODUCT, EXPIRY), DuplicateStructure, "'=%9500', '=%5100'"),
    ],
)
def test_a_unit_label_refuses_missing_and_repeated_structures(
    scans_: tuple[str, ...], error: type[LabelError], message: str
) -> None:
    with pytest.raises(error, match=message) as raised:
        UnitLabel.from_scans(*scans_)
    assert raised.value.position is None


def test_simulated_units_read_as_valid_labels() -> None:
    unit = SimUnit(
        din="A999926000007",
        flags="00",
        blood_group="9500",
        product_code="E0336V00",
        expiry=dt.datetime(2027, 12, 31, 8, 5, tzinfo=dt.UTC),
        tag_uid="E004",
    )
    label = UnitLabel.from_scans(*unit.barcodes())
    assert label == LABEL
    assert label.din.check_character == unit.check_character


@given(scans)
def test_every_valid_scan_round_trips(items: tuple[ScanItem, ...]) -> None:
    text = encode_scan(items)
    assert parse_scan(text) == items
    assert encode_scan(parse_scan(text)) == text
    assert len(flatten(items)) >= len(items)


_ISBT_CHARS = "=&%<>+*}{()\\-,/;'\"$#]" + "0123456789AEGOPSVZamx" + " \r\n"


@st.composite
def mutated_scans(draw: st.DrawFn) -> str:
    text = encode_scan(draw(scans))
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(text)))
        char = draw(st.sampled_from(_ISBT_CHARS))
        action = draw(st.sampled_from(["insert", "replace", "delete", "cut"]))
        if action == "insert":
            text = text[:index] + char + text[index:]
        elif action == "replace":
            text = text[:index] + char + text[index + 1 :]
        elif action == "delete":
            text = text[:index] + text[index + 1 :]
        else:
            text = text[:index]
    return text


@given(st.text() | st.text(st.sampled_from(_ISBT_CHARS)) | mutated_scans())
@example("=+99000")
@example("=+01000=+01000")
@example("=" * 40)
def test_no_text_makes_the_parser_raise_anything_but_a_label_error(text: str) -> None:
    try:
        items = parse_scan(text)
    except LabelError as exc:
        error = exc
    else:
        assert encode_scan(items) == text
        return
    assert error.position is not None
    assert 0 <= error.position <= len(text)
    assert str(error).endswith(f"at position {error.position}")
