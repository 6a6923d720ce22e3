"""ISO/IEC 15693-3 frames (drivers.iso15693): the CRC against Annex C's example, requests as
bytes, responses parsed, and no input crashing a parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.iso15693 import (
    MAX_MASK_BITS,
    Iso15693Error,
    RequestFlag,
    TagError,
    TagInventory,
    check_crc,
    child_mask,
    crc16,
    inventory_request,
    parse_inventory_response,
    parse_read_multiple_blocks_response,
    read_multiple_blocks_request,
    uid_from_wire,
    uid_to_wire,
    with_crc,
)

UID = "E004010012345678"
UID_WIRE = bytes.fromhex("78563412000104E0")


def test_crc_of_annex_c_example() -> None:
    """ISO/IEC 15693-3 Annex C: 01 02 03 04 gives 0x3991, sent 91 39."""
    assert crc16(bytes([1, 2, 3, 4])) == 0x3991
    assert with_crc(bytes([1, 2, 3, 4])) == bytes([1, 2, 3, 4, 0x91, 0x39])


def test_crc_is_iso13239_as_catalogued() -> None:
    """The same CRC (reflected 0x1021, preset and final XOR 0xFFFF) checks "123456789" as
    0x906E."""
    assert crc16(b"123456789") == 0x906E


def test_check_crc_accepts_good_frames_and_rejects_bad_ones() -> None:
    assert check_crc(bytes([1, 2, 3, 4, 0x91, 0x39]))
    assert not check_crc(bytes([1, 2, 3, 4, 0x39, 0x91]))
    assert not check_crc(b"\x91")
    assert check_crc(with_crc(b""))


def test_uid_goes_lsb_first_on_the_wire_and_msb_first_in_reports() -> None:
    assert uid_to_wire(UID) == UID_WIRE
    assert uid_from_wire(UID_WIRE) == UID
    assert uid_to_wire(UID.lower()) == UID_WIRE
    with pytest.raises(ValueError, match="8 bytes"):
        uid_to_wire("E004")
    with pytest.raises(ValueError, match="hexadecimal"):
        uid_to_wire("not hex at all!")
    with pytest.raises(Iso15693Error):
        uid_from_wire(b"\x01")


def test_inventory_requests() -> None:
    assert inventory_request(slots=1) == bytes.fromhex("260100")
    assert inventory_request() == bytes.fromhex("060100")
    assert inventory_request(mask_length=4, mask=0x5) == bytes.fromhex("06010405")
    assert inventory_request(mask_length=12, mask=0xABC) == bytes.fromhex("06010CBC0A")
    assert inventory_request(slots=1, high_data_rate=False) == bytes.fromhex("240100")
    assert RequestFlag.NB_SLOTS_1 == RequestFlag.ADDRESS == 0x20


@pytest.mark.parametrize(
    "kwargs",
    [
        {"slots": 4},
        {"mask_length": 4, "mask": 0x10},
        {"mask_length": MAX_MASK_BITS + 4},
        {"mask_length": -1},
    ],
)
def test_impossible_inventory_requests_are_value_errors(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"."):
        inventory_request(**kwargs)


def test_child_mask_adds_the_slot_above_the_mask() -> None:
    assert child_mask(0, 0, 0xA) == (4, 0xA)
    assert child_mask(4, 0xA, 0x3) == (8, 0x3A)
    with pytest.raises(ValueError, match="slot"):
        child_mask(0, 0, 16)
    with pytest.raises(ValueError, match="extended"):
        child_mask(MAX_MASK_BITS, 0, 1)


def test_inventory_response_parses() -> None:
    frame = with_crc(bytes([0x00, 0x07]) + UID_WIRE)
    assert parse_inventory_response(frame) == TagInventory(uid=UID, dsfid=0x07)


@pytest.mark.parametrize(
    "frame",
    [
        bytes([0x00, 0x07]) + UID_WIRE + b"\x00\x00",
        with_crc(bytes([0x00, 0x07]) + UID_WIRE[:7]),
        with_crc(b""),
        b"",
    ],
)
def test_bad_inventory_responses_are_iso15693_errors(frame: bytes) -> None:
    with pytest.raises(Iso15693Error):
        parse_inventory_response(frame)


def test_read_multiple_blocks_request_is_addressed() -> None:
    assert read_multiple_blocks_request(UID, 0, 4) == bytes.fromhex("2223") + UID_WIRE + b"\x00\x03"
    with pytest.raises(ValueError, match="range"):
        read_multiple_blocks_request(UID, 0, 0)
    with pytest.raises(ValueError, match="range"):
        read_multiple_blocks_request(UID, 0xFF, 2)


def test_read_multiple_blocks_response_and_tag_errors() -> None:
    data = b"A99991712345600\x00"
    assert parse_read_multiple_blocks_response(with_crc(b"\x00" + data), length=16) == data
    with pytest.raises(Iso15693Error, match="expected 16"):
        parse_read_multiple_blocks_response(with_crc(b"\x00" + data[:8]), length=16)
    with pytest.raises(TagError, match="BLOCK_NOT_AVAILABLE") as caught:
        parse_read_multiple_blocks_response(with_crc(b"\x01\x10"), length=16)
    assert caught.value.code == 0x10
    with pytest.raises(TagError, match="custom"):
        parse_read_multiple_blocks_response(with_crc(b"\x01\xa5"), length=16)
    with pytest.raises(Iso15693Error, match="error response"):
        parse_read_multiple_blocks_response(with_crc(b"\x01"), length=16)


@given(st.binary(max_size=64))
def test_crc_round_trips_and_any_single_bit_flip_is_caught(data: bytes) -> None:
    frame = with_crc(data)
    assert check_crc(frame)
    for bit in range(len(frame) * 8):
        flipped = bytearray(frame)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert not check_crc(bytes(flipped))


@given(st.binary(max_size=40))
def test_parsers_only_return_or_raise_iso15693_errors(frame: bytes) -> None:
    for parse in (
        parse_inventory_response,
        lambda f: parse_read_multiple_blocks_response(f, length=16),
    ):
        try:
            parse(frame)
        except Iso15693Error:
            continue


@given(uid=st.binary(min_size=8, max_size=8), dsfid=st.integers(0, 255))
def test_inventory_responses_round_trip(uid: bytes, dsfid: int) -> None:
    parsed = parse_inventory_response(with_crc(bytes([0, dsfid]) + uid))
    assert uid_to_wire(parsed.uid) == uid
    assert parsed.dsfid == dsfid
