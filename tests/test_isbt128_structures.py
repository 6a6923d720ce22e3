"""The ISBT 128 data structures one by one: worked examples, typed errors with the position
of the problem, and round trips of every valid structure."""

from __future__ import annotations

import datetime as dt
import pickle
import zoneinfo

import pytest
from hypothesis import given

from agent.isbt128 import (
    Abo,
    BadCharacter,
    BadCheckCharacter,
    BadDate,
    BadLength,
    BloodGroup,
    Din,
    ExpirationDate,
    ExpirationDateTime,
    FlagKind,
    IntendedUse,
    LabelError,
    ProductCode,
    RhD,
    UnknownCode,
    parse_blood_group,
    parse_din,
    parse_expiration_date,
    parse_expiration_date_time,
    parse_expiry,
    parse_keyboard_entry,
    parse_product_code,
)
from tests.test_isbt128_strategies import (
    blood_groups,
    dins,
    expiration_date_times,
    expiration_dates,
    product_codes,
)

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def test_din_worked_example() -> None:
    din = parse_din("=G12341765432100")
    assert din == Din("G1234", 17, 654321, "00")
    assert din.code == "G123417654321"
    assert din.check_character == "A"
    assert din.flag_kind is FlagKind.NOT_USED
    assert din.eye_readable() == "G1234 17 654321 00 A"
    assert din.encode() == str(din) == "=G12341765432100"


@pytest.mark.parametrize(
    ("flags", "kind"),
    [
        ("01", FlagKind.ICCBBA),
        ("14", FlagKind.RESERVED),
        ("19", FlagKind.ICCBBA),
        ("20", FlagKind.LOCAL),
        ("59", FlagKind.LOCAL),
        ("70", FlagKind.CHECK_CHARACTER),
        ("97", FlagKind.RESERVED),
        ("A1", FlagKind.RESERVED),
    ],
)
def test_din_flag_kinds(flags: str, kind: FlagKind) -> None:
    assert parse_din(f"=G123417654321{flags}").flag_kind is kind


def test_keyboard_entry_with_or_without_spaces() -> None:
    assert parse_keyboard_entry("G123417654321A").code == "G123417654321"
    assert parse_keyboard_entry("G1234 17 654321 A") == Din("G1234", 17, 654321)


@pytest.mark.parametrize(
    ("text", "error", "position", "message"),
    [
        ("G1234 17 654321 B", BadCheckCharacter, 16, "expected 'A', found 'B'"),
        ("G1234 17 654321", LabelError, 15, "found 13 characters"),
        ("G1234 17 654321 AA", LabelError, 17, "found 15 characters"),
        ("G12O4 17 654321 A", BadCharacter, 3, "facility code"),
    ],
)
def test_keyboard_entry_errors(
    text: str, error: type[LabelError], position: int, message: str
) -> None:
    with pytest.raises(error, match=message) as raised:
        parse_keyboard_entry(text)
    assert raised.value.position == position


@pytest.mark.parametrize(
    ("text", "error", "position", "message"),
    [
        ("=G123417654321", BadLength, 14, "expected 16 characters, found 14"),
        ("=G12341765432100X", BadLength, 16, "found 'X'"),
        ("-G12341765432100", BadCharacter, 0, "data identifier: expected '='"),
        ("=012341765432100", BadCharacter, 1, "facility code: expected a capital letter A-N"),
        ("=OA2341765432100", BadCharacter, 1, "found 'O'"),
        ("=G-2341765432100", BadCharacter, 2, "facility code"),
        ("=G12A41765432100", BadCharacter, 4, "facility code: expected a digit"),
        ("=G1234X765432100", BadCharacter, 6, "year"),
        ("=G123417654x2100", BadCharacter, 11, "sequence number"),
        ("=G1234176543210I", BadCharacter, 15, "flag characters"),
        ("=G12341765432160", BadCheckCharacter, 14, "expected 70 .check character 'A'., found 60"),
    ],
)
def test_din_errors_name_the_position(
    text: str, error: type[LabelError], position: int, message: str | None
) -> None:
    with pytest.raises(error, match=message) as raised:
        parse_din(text)
    assert raised.value.position == position
    assert raised.value.structure.startswith("DIN")
    assert str(raised.value).endswith(f"at position {position}")


def test_the_briefs_error_message_shape() -> None:
    with pytest.raises(BadCheckCharacter) as raised:
        parse_keyboard_entry("G123417654321B")
    assert str(raised.value) == (
        "DIN keyboard entry check character: expected 'A', found 'B' at position 13"
    )


def test_label_errors_pickle() -> None:
    error = BadCheckCharacter("DIN", 16, "expected 'A', found 'B'")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (type(copy), copy.structure, copy.position, str(copy)) == (
        BadCheckCharacter,
        "DIN",
        16,
        str(error),
    )


def test_din_refuses_impossible_fields() -> None:
    with pytest.raises(ValueError, match="year"):
        Din("G1234", 100, 1)
    with pytest.raises(ValueError, match="sequence"):
        Din("G1234", 17, 1_000_000)
    with pytest.raises(ValueError, match="facility"):
        Din("G123", 17, 1)
    with pytest.raises(ValueError, match="not a valid DIN '=O12341700000100': facility code"):
        Din("O1234", 17, 1)
    with pytest.raises(ValueError, match="flag characters"):
        Din("G1234", 17, 1, "0I")


@pytest.mark.parametrize(
    ("text", "abo", "rhd", "use"),
    [
        ("=%9500", Abo.O, RhD.NEGATIVE, IntendedUse.NOT_SPECIFIED),
        ("=%5100", Abo.O, RhD.POSITIVE, IntendedUse.NOT_SPECIFIED),
        ("=%0600", Abo.A, RhD.NEGATIVE, IntendedUse.NOT_SPECIFIED),
        ("=%6200", Abo.A, RhD.POSITIVE, IntendedUse.NOT_SPECIFIED),
        ("=%1700", Abo.B, RhD.NEGATIVE, IntendedUse.NOT_SPECIFIED),
        ("=%7300", Abo.B, RhD.POSITIVE, IntendedUse.NOT_SPECIFIED),
        ("=%2800", Abo.AB, RhD.NEGATIVE, IntendedUse.NOT_SPECIFIED),
        ("=%8400", Abo.AB, RhD.POSITIVE, IntendedUse.NOT_SPECIFIED),
        ("=%9200", Abo.O, RhD.NEGATIVE, IntendedUse.EMERGENCY),
        ("=%5300", Abo.O, RhD.POSITIVE, IntendedUse.AUTOLOGOUS_ONLY),
        ("=%5500", Abo.O, None, IntendedUse.NOT_SPECIFIED),
        ("=%C900", Abo.AB, None, IntendedUse.AUTOLOGOUS_BIOHAZARDOUS),
        ("=%G600", None, RhD.NEGATIVE, IntendedUse.NOT_SPECIFIED),
        ("=%0000", None, None, IntendedUse.NOT_SPECIFIED),
        ("=%T100", None, RhD.POSITIVE, IntendedUse.NOT_SPECIFIED),
    ],
)
def test_blood_group_codes(text: str, abo: Abo | None, rhd: RhD | None, use: IntendedUse) -> None:
    group = parse_blood_group(text)
    assert (group.abo, group.rhd, group.meaning.intended_use) == (abo, rhd, use)
    assert group.encode() == text


def test_blood_group_keeps_r_and_e_and_special_messages() -> None:
    group = parse_blood_group("=%62E0")
    assert (group.group, group.phenotypes, group.reserved) == ("62", "E", "0")
    discard = parse_blood_group("=%Md00")
    assert discard.meaning.special_message
    assert "discard" in discard.meaning.meaning


@pytest.mark.parametrize(
    ("text", "error", "position"),
    [
        ("=%9900", UnknownCode, 2),
        ("=%mX00", UnknownCode, 2),
        ("=%9-00", BadCharacter, 3),
        ("=%95a0", BadCharacter, 4),
        ("=%950", BadLength, 5),
        ("=%95000", BadLength, 6),
        ("=&9500", BadCharacter, 0),
    ],
)
def test_blood_group_errors(text: str, error: type[LabelError], position: int) -> None:
    with pytest.raises(error) as raised:
        parse_blood_group(text)
    assert raised.value.position == position


def test_product_code_worked_examples() -> None:
    code = parse_product_code("=<E0336V00")
    assert code == ProductCode("E0336", "V", "00")
    assert code.collection_type == "volunteer homologous (allogeneic)"
    assert not code.divided
    assert parse_product_code("=<E0336VAa").divided
    tissue = parse_product_code("=<T1295003")
    assert tissue.three_digit_division
    assert tissue.collection_type is None
    assert tissue.divided
    assert not parse_product_code("=<T1295000").divided
    cellular = parse_product_code("=<S12954A0")
    assert (cellular.collection_type, cellular.division, cellular.divided) == (
        "designated",
        "A0",
        True,
    )


@pytest.mark.parametrize(
    ("text", "error", "position", "message"),
    [
        ("=<10336V00", BadCharacter, 2, "product description code: expected a capital letter"),
        ("=<E03a6V00", BadCharacter, 5, None),
        ("=<E0336Z00", UnknownCode, 7, "type of collection"),
        ("=<E0336Va0", BadCharacter, 8, "division code"),
        ("=<E0336V0A", BadCharacter, 9, "division code: expected a small letter"),
        ("=<E0336V0", BadLength, 9, None),
        ("=>E0336V00", BadCharacter, 0, "data identifier"),
    ],
)
def test_product_code_errors(
    text: str, error: type[LabelError], position: int, message: str | None
) -> None:
    with pytest.raises(error, match=message) as raised:
        parse_product_code(text)
    assert raised.value.position == position


def test_product_code_constructor_refuses_bad_parts() -> None:
    with pytest.raises(ValueError, match="5-character"):
        ProductCode("E033", "V", "00")
    with pytest.raises(ValueError, match="type of collection"):
        ProductCode("E0336", "Z", "00")


def test_expiry_worked_examples() -> None:
    # ICCBBA's published example: &>0183652359 is 31 December 2018, 23:59.
    assert parse_expiration_date_time("&>0183652359").local == dt.datetime(2018, 12, 31, 23, 59)
    assert parse_expiration_date_time("&>0273650805").local == dt.datetime(2027, 12, 31, 8, 5)
    assert parse_expiration_date_time("&>1000010000").local == dt.datetime(2100, 1, 1)
    assert parse_expiration_date_time("&>0243660000").local == dt.datetime(2024, 12, 31)
    assert parse_expiration_date("=>018365").local == dt.datetime(2018, 12, 31, 23, 59)
    moment = dt.datetime(2027, 12, 31, 8, 5, 59, tzinfo=dt.UTC)
    assert ExpirationDateTime.from_datetime(moment).encode() == "&>0273650805"


def test_expiry_reads_the_label_wall_time_in_the_given_zone() -> None:
    assert parse_expiry("&>0261811200", PARIS) == dt.datetime(2026, 6, 30, 12, tzinfo=PARIS)
    assert parse_expiry("=>026181", dt.UTC) == dt.datetime(2026, 6, 30, 23, 59, tzinfo=dt.UTC)
    # 02:30 on 29 March 2026 does not exist in Paris; 25 October 2026 has it twice. Either way
    # the earliest instant it can mean is taken.
    gap = ExpirationDateTime(dt.datetime(2026, 3, 29, 2, 30)).expires_at(PARIS)
    assert gap.astimezone(dt.UTC) == dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)
    twice = ExpirationDateTime(dt.datetime(2026, 10, 25, 2, 30)).expires_at(PARIS)
    assert twice.astimezone(dt.UTC) == dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "error", "position", "message"),
    [
        ("&>0253660000", BadDate, 5, "expected 001-365 for 2025, found 366"),
        ("&>0250000000", BadDate, 5, "found 000"),
        ("&>0251002400", BadDate, 8, "hour: expected 00-23, found 24"),
        ("&>0251002360", BadDate, 10, "minute: expected 00-59, found 60"),
        ("&>02510023x9", BadCharacter, 10, "minute: expected a digit"),
        ("&>A251002359", BadCharacter, 2, "century"),
        ("&>025100235", BadLength, 11, None),
        ("=>025400", BadDate, 5, "found 400"),
    ],
)
def test_expiry_errors(text: str, error: type[LabelError], position: int, message: str) -> None:
    parse = parse_expiration_date if text.startswith("=>") else parse_expiration_date_time
    with pytest.raises(error, match=message) as raised:
        parse(text)
    assert raised.value.position == position


def test_expiry_constructors_refuse_what_a_label_cannot_say() -> None:
    with pytest.raises(ValueError, match="naive"):
        ExpirationDateTime(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(ValueError, match="minute"):
        ExpirationDateTime(dt.datetime(2026, 1, 1, 0, 0, 1))
    with pytest.raises(ValueError, match="2000-2999"):
        ExpirationDate(dt.date(1999, 12, 31))


@given(dins())
def test_every_din_round_trips(din: Din) -> None:
    assert parse_din(din.encode()) == din
    assert parse_keyboard_entry(din.keyboard_entry()).code == din.code


@given(blood_groups)
def test_every_blood_group_round_trips(group: BloodGroup) -> None:
    assert parse_blood_group(group.encode()) == group


@given(product_codes())
def test_every_product_code_round_trips(code: ProductCode) -> None:
    assert parse_product_code(code.encode()) == code


@given(expiration_date_times)
def test_every_expiration_date_time_round_trips(expiry: ExpirationDateTime) -> None:
    assert parse_expiration_date_time(expiry.encode()) == expiry


@given(expiration_dates)
def test_every_expiration_date_round_trips(expiry: ExpirationDate) -> None:
    assert parse_expiration_date(expiry.encode()) == expiry
