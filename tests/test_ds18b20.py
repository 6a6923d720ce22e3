"""The DS18B20's pure core: the 1-Wire CRC-8, the temperature register and the w1_slave parser,
checked against Maxim AN27's and the DS18B20 datasheet's worked examples and with Hypothesis."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.ds18b20 import BadReading, decode_temperature, parse_w1_slave
from drivers.onewire_crc import crc8
from hal_sim.fakes.w1 import w1_slave_text

# --- CRC-8 ----------------------------------------------------------------------------------------


def test_crc8_of_the_an27_rom_code_example() -> None:
    # AN27 example: family code 02, serial 00 00 00 01 B8 1C, CRC A2 (sent LSB first).
    assert crc8(bytes([0x02, 0x1C, 0xB8, 0x01, 0x00, 0x00, 0x00])) == 0xA2


def test_crc8_of_the_power_on_scratchpad() -> None:
    # DS18B20 datasheet, power-up scratchpad: 50 05 4B 46 7F FF 0C 10, CRC 1C.
    assert crc8(bytes.fromhex("50054b467fff0c10")) == 0x1C


def test_crc8_of_empty_data_is_zero() -> None:
    assert crc8(b"") == 0


@given(st.binary(max_size=64))
def test_crc8_over_data_and_its_crc_is_zero(data: bytes) -> None:
    assert crc8(data + bytes([crc8(data)])) == 0


@given(st.binary(min_size=1, max_size=16), st.data())
def test_crc8_detects_every_single_bit_error(data: bytes, draw: st.DataObject) -> None:
    bit = draw.draw(st.integers(0, len(data) * 8 - 1))
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    assert crc8(flipped) != crc8(data)


def test_crc8_refuses_a_non_byte() -> None:
    with pytest.raises(ValueError, match="not a byte"):
        crc8([0x100])


# --- the temperature register (datasheet table "Temperature/Data Relationship") ----------------

DATASHEET_TABLE = [
    (125.0, 0x07D0),
    (85.0, 0x0550),
    (25.0625, 0x0191),
    (10.125, 0x00A2),
    (0.5, 0x0008),
    (0.0, 0x0000),
    (-0.5, 0xFFF8),
    (-10.125, 0xFF5E),
    (-25.0625, 0xFE6F),
    (-55.0, 0xFC90),
]


@pytest.mark.parametrize(("celsius", "register"), DATASHEET_TABLE)
def test_decode_temperature_matches_the_datasheet_table(celsius: float, register: int) -> None:
    assert decode_temperature(register) == celsius


def test_lower_resolutions_mask_the_undefined_bits() -> None:
    # 25.0625 °C is 0x0191; at 9 bits the low three bits are undefined: 0x0190 = 25.0 °C.
    assert decode_temperature(0x0191, 9) == 25.0
    assert decode_temperature(0x0195, 10) == 25.25
    assert decode_temperature(0x0193, 11) == 25.125
    assert decode_temperature(0xFF5F, 11) == -10.125


def test_decode_temperature_refuses_out_of_range_arguments() -> None:
    with pytest.raises(ValueError, match="16-bit"):
        decode_temperature(0x10000)
    with pytest.raises(ValueError, match="9-12"):
        decode_temperature(0, 8)


# --- parsing w1_slave ------------------------------------------------------------------------


def _text(scratchpad_hex: str, *, verdict: str = "YES", t: int | None = None) -> str:
    pad = bytes.fromhex(scratchpad_hex)
    hexes = " ".join(f"{b:02x}" for b in pad) + " "
    if t is None:
        t = int(int.from_bytes(pad[:2], "little", signed=True) * 1000 / 16)
    return f"{hexes}: crc={pad[8]:02x} {verdict}\n{hexes}t={t}\n"


def _with_crc(eight_hex: str) -> str:
    pad = bytes.fromhex(eight_hex)
    return (pad + bytes([crc8(pad)])).hex()


def test_parses_a_kernel_reading() -> None:
    reading = parse_w1_slave(
        "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
    )
    assert reading.celsius == 23.125
    assert reading.raw == 0x0172
    assert reading.resolution_bits == 12
    assert reading.scratchpad == bytes.fromhex("72014b467fff0e1057")


def test_parses_without_the_final_newline_and_with_upper_case_hex() -> None:
    text = "72 01 4B 46 7F FF 0E 10 57 : crc=57 YES\n72 01 4B 46 7F FF 0E 10 57 t=23125"
    assert parse_w1_slave(text).celsius == 23.125


@pytest.mark.parametrize(("celsius", "register"), [r for r in DATASHEET_TABLE if r[1] != 0x0550])
def test_parses_every_datasheet_temperature(celsius: float, register: int) -> None:
    pad = _with_crc(f"{register & 0xFF:02x}{register >> 8:02x}4b467fff0c10")
    assert parse_w1_slave(_text(pad)).celsius == celsius


def test_negative_temperatures_carry_the_kernels_truncated_millidegrees() -> None:
    # -0.0625 °C (0xFFFF): the kernel prints t=-62 (C division truncates toward zero).
    pad = _with_crc("ffff4b467fff0f10")
    assert parse_w1_slave(_text(pad, t=-62)).celsius == -0.0625
    with pytest.raises(BadReading, match="does not match"):
        parse_w1_slave(_text(pad, t=-63))


def test_resolution_comes_from_the_configuration_register() -> None:
    pad = _with_crc("91014b461fff0f10")  # 0x0191 at 9 bits
    reading = parse_w1_slave(_text(pad))
    assert reading.resolution_bits == 9
    assert reading.celsius == 25.0


def test_the_85_degree_power_on_value_is_refused() -> None:
    with pytest.raises(BadReading, match="power-on reset"):
        parse_w1_slave(_text("50054b467fff0c101c"))


def test_a_crc_mismatch_is_refused_even_if_the_kernel_says_yes() -> None:
    with pytest.raises(BadReading, match="CRC mismatch"):
        parse_w1_slave(_text("72014b467fff0e1058"))


def test_a_kernel_no_is_refused_even_if_the_crc_matches() -> None:
    with pytest.raises(BadReading, match="kernel reports a CRC failure"):
        parse_w1_slave(_text("72014b467fff0e1057", verdict="NO"))


def test_an_all_zero_scratchpad_passes_the_crc_but_is_refused() -> None:
    assert crc8(bytes(8)) == 0
    with pytest.raises(BadReading, match="all zeros"):
        parse_w1_slave(_text("00" * 9))


def test_an_all_ones_scratchpad_is_refused() -> None:
    with pytest.raises(BadReading):
        parse_w1_slave(_text("ff" * 9))


@pytest.mark.parametrize(
    "register",
    [0xF810, 0x07FF, 0x07D1, 0xFC8F],  # -127 °C, 127.9375 °C, just above +125, just below -55
)
def test_values_outside_the_datasheet_range_are_refused(register: int) -> None:
    pad = _with_crc(f"{register & 0xFF:02x}{register >> 8:02x}4b467fff0c10")
    with pytest.raises(BadReading, match="outside"):
        parse_w1_slave(_text(pad))


def test_a_configuration_register_that_is_not_a_ds18b20s_is_refused() -> None:
    pad = _with_crc("72014b46ffff0e10")  # bit 7 set
    with pytest.raises(BadReading, match="configuration register"):
        parse_w1_slave(_text(pad))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n",
        "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 t=23125\n",
        "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 58 t=23125\n",
        "72 01 4b 46 7f ff 0e 10 57 : crc=56 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n",
        "72 01 4b 46 7f ff 0e 10 57 : crc=57 MAYBE\n72 01 4b 46 7f ff 0e 10 57 t=23125\n",
        "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=\n",
        "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=٢٣١٢٥\n",
        "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\nextra\n",
        "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\r\n72 01 4b 46 7f ff 0e 10 57 t=23125\r\n",
    ],
)
def test_malformed_text_is_a_bad_reading(text: str) -> None:
    with pytest.raises(BadReading):
        parse_w1_slave(text)


@given(st.text(max_size=200))
def test_parser_raises_only_bad_reading_on_arbitrary_text(text: str) -> None:
    with contextlib.suppress(BadReading):
        parse_w1_slave(text)


_VALID = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"


@given(st.integers(0, len(_VALID) - 1), st.characters())
def test_one_changed_character_never_yields_a_wrong_temperature(at: int, char: str) -> None:
    text = _VALID[:at] + char + _VALID[at + 1 :]
    try:
        reading = parse_w1_slave(text)
    except BadReading:
        return
    assert reading.celsius == 23.125


def _hex_line_text(pad: bytes, verdict: str, t: str) -> str:
    hexes = "".join(f"{b:02x} " for b in pad)
    return f"{hexes}: crc={pad[8]:02x} {verdict}\n{hexes}t={t}\n"


@given(
    st.binary(min_size=9, max_size=9),
    st.sampled_from(["YES", "NO"]),
    st.one_of(st.integers(-(10**7), 10**7).map(str), st.text(max_size=12)),
)
def test_parser_raises_only_bad_reading_on_well_shaped_nonsense(
    pad: bytes, verdict: str, t: str
) -> None:
    try:
        reading = parse_w1_slave(_hex_line_text(pad, verdict, t))
    except BadReading:
        return
    assert -55.0 <= reading.celsius <= 125.0
    assert crc8(pad) == 0


@given(
    st.integers(-55 * 16, 125 * 16).filter(lambda r: r != 0x0550),
    st.integers(9, 12),
)
def test_valid_readings_round_trip_through_the_kernels_format(register: int, bits: int) -> None:
    step = 1 << (12 - bits)
    register = register // step * step
    config = 0x1F | (bits - 9) << 5
    eight = register.to_bytes(2, "little", signed=True) + bytes([0x4B, 0x46, config, 0xFF, 0x0C])
    eight += b"\x10"
    pad = eight + bytes([crc8(eight)])
    reading = parse_w1_slave(w1_slave_text(pad))
    assert reading.celsius == register / 16
    assert reading.raw == register
    assert reading.resolution_bits == bits
    assert reading.scratchpad == pad
