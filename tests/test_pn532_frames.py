"""PN532 host-link frames (drivers.pn532_frames) against UM0701-02's frame formats and the
byte sequences published for them; the decoder fed byte by byte and with arbitrary bytes."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.pn532_frames import (
    ACK,
    ERROR_FRAME,
    NACK,
    Ack,
    Command,
    ErrorFrame,
    Event,
    FrameDecoder,
    Garbled,
    InformationFrame,
    Nack,
    PassiveTarget,
    Tfi,
    checksum,
    encode_command,
    encode_information_frame,
    parse_in_list_passive_target,
)


def decode(*chunks: bytes, flush: bool = False) -> list[Event]:
    decoder = FrameDecoder()
    events: list[Event] = []
    for chunk in chunks:
        decoder.receive_data(chunk)
        while (event := decoder.next_event()) is not None:
            events.append(event)
    if flush:
        decoder.flush()
        while (event := decoder.next_event()) is not None:
            events.append(event)
    return events


def byte_at_a_time(data: bytes, *, flush: bool = False) -> list[Event]:
    return decode(*(data[i : i + 1] for i in range(len(data))), flush=flush)


# Published byte sequences: UM0701-02 (GetFirmwareVersion exchange, ACK, NACK, error frame);
# InListPassiveTarget as logged by a host on NXP's community forum.
GET_FIRMWARE_VERSION = bytes.fromhex("0000FF02FED4022A00")
FIRMWARE_VERSION_RESPONSE = bytes.fromhex("0000FF06FAD50332010607E800")
IN_LIST_PASSIVE_TARGET = bytes.fromhex("0000FF04FCD44A0100E100")
SAM_CONFIGURATION_NORMAL = bytes.fromhex("0000FF05FBD414011401" + "0200")


def test_checksums_make_the_low_byte_zero() -> None:
    assert checksum(b"\x02") == 0xFE
    assert checksum(bytes.fromhex("D4022A")[:-1]) == 0x2A
    assert checksum(bytes.fromhex("D50332010607")) == 0xE8
    assert checksum(b"") == 0


@pytest.mark.parametrize(
    ("command", "params", "wire"),
    [
        (Command.GET_FIRMWARE_VERSION, b"", GET_FIRMWARE_VERSION),
        (Command.IN_LIST_PASSIVE_TARGET, b"\x01\x00", IN_LIST_PASSIVE_TARGET),
        (Command.SAM_CONFIGURATION, b"\x01\x14\x01", SAM_CONFIGURATION_NORMAL),
    ],
)
def test_commands_encode_as_published(command: Command, params: bytes, wire: bytes) -> None:
    assert encode_command(command, params) == wire


def test_documented_frames_decode_whole_and_byte_at_a_time() -> None:
    wire = ACK + FIRMWARE_VERSION_RESPONSE + NACK + ERROR_FRAME
    expected: list[Event] = [
        Ack(),
        InformationFrame(Tfi.PN532_TO_HOST, bytes.fromhex("0332010607")),
        Nack(),
        ErrorFrame(),
    ]
    assert decode(wire) == expected
    assert byte_at_a_time(wire) == expected


def test_host_frames_decode_too() -> None:
    assert decode(IN_LIST_PASSIVE_TARGET) == [
        InformationFrame(Tfi.HOST_TO_PN532, bytes.fromhex("4A0100"))
    ]


def test_long_preambles_and_the_hsu_wake_up_zeros_are_skipped() -> None:
    assert decode(bytes(10) + ACK + bytes(5) + ACK) == [Ack(), Ack()]


def test_extended_information_frame_round_trips() -> None:
    data = bytes([0x41]) + bytes(range(256)) + b"\x01\x02"
    wire = encode_information_frame(Tfi.PN532_TO_HOST, data)
    length = (len(data) + 1).to_bytes(2, "big")
    assert wire[:8] == b"\x00\x00\xff\xff\xff" + length + bytes([checksum(length)])
    assert byte_at_a_time(wire) == [InformationFrame(Tfi.PN532_TO_HOST, data)]


def test_a_255_byte_frame_is_normal_and_265_is_the_limit() -> None:
    assert encode_information_frame(Tfi.HOST_TO_PN532, bytes(254))[3] == 0xFF
    assert encode_information_frame(Tfi.HOST_TO_PN532, bytes(254))[4] == 0x01
    encode_information_frame(Tfi.HOST_TO_PN532, bytes(264))
    with pytest.raises(ValueError, match="265"):
        encode_information_frame(Tfi.HOST_TO_PN532, bytes(265))


def test_bad_data_checksum_is_garbled_and_the_next_frame_is_read() -> None:
    broken = bytearray(FIRMWARE_VERSION_RESPONSE)
    broken[-2] ^= 0x01
    wire = bytes(broken) + ACK
    expected: list[Event] = [Garbled("bad data checksum", bytes(broken[1:-1])), Ack()]
    assert decode(wire) == expected
    assert byte_at_a_time(wire) == expected


def test_bad_length_checksum_is_garbled_and_the_rest_reported_before_the_next_frame() -> None:
    broken = bytearray(FIRMWARE_VERSION_RESPONSE)
    broken[4] ^= 0x10
    events = byte_at_a_time(bytes(broken) + ACK)
    assert events[0] == Garbled("bad length checksum", bytes(broken[1:5]))
    assert isinstance(events[1], Garbled)
    assert events[1].reason == "bytes outside a frame"
    assert events[2:] == [Ack()]


def test_unknown_tfi_and_empty_frames_are_garbled() -> None:
    unknown_tfi = bytes.fromhex("0000FF02FEAA01") + bytes([checksum(b"\xaa\x01")]) + b"\x00"
    (event,) = decode(unknown_tfi)
    assert isinstance(event, Garbled)
    assert event.reason == "unknown frame identifier 0xaa"
    (event, *_) = decode(bytes.fromhex("0000FF0000") + ACK)
    assert event == Garbled("information frame without TFI", bytes.fromhex("00FF0000"))


def test_bytes_outside_frames_are_garbled_once_per_run() -> None:
    assert byte_at_a_time(b"\x12\x34\x00\x56" + ACK) == [
        Garbled("bytes outside a frame", b"\x12\x34\x00\x56"),
        Ack(),
    ]
    assert decode(b"\x55\x55", flush=True) == [Garbled("bytes outside a frame", b"\x55\x55")]


def test_flush_reports_a_frame_cut_short() -> None:
    assert decode(FIRMWARE_VERSION_RESPONSE[:7], flush=True) == [
        Garbled("bytes outside a frame", FIRMWARE_VERSION_RESPONSE[2:7])
    ]


def test_in_list_passive_target_with_one_mifare_target() -> None:
    (target,) = parse_in_list_passive_target(bytes.fromhex("4B0101000408" + "04" + "04A1B2C3"))
    assert target == PassiveTarget(1, b"\x00\x04", 0x08, bytes.fromhex("04A1B2C3"))
    assert target.uid_hex == "04A1B2C3"


def test_in_list_passive_target_with_seven_byte_uid_and_ats() -> None:
    data = bytes.fromhex("4B0101004420" + "07" + "04112233445566" + "0575778002")
    (target,) = parse_in_list_passive_target(data)
    assert target.uid_hex == "04112233445566"


def test_in_list_passive_target_without_target() -> None:
    assert parse_in_list_passive_target(bytes.fromhex("4B00")) == ()


@pytest.mark.parametrize(
    "data",
    [
        "",
        "4A00",
        "4B01",
        "4B0101000408",
        "4B010100040804A1B2",
        "4B0101000408030102",
        "4B01010044200404A1B2C3",
    ],
)
def test_malformed_in_list_passive_target_is_a_value_error(data: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_in_list_passive_target(bytes.fromhex(data))


# --- properties -------------------------------------------------------------------------------


@st.composite
def chunked(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.sets(st.integers(0, len(data)), max_size=8)))
    return [data[a:b] for a, b in itertools.pairwise([0, *cuts, len(data)])]


@given(data=st.binary(max_size=400), split=st.data())
def test_arbitrary_bytes_never_crash_and_chunking_does_not_matter(
    data: bytes, split: st.DataObject
) -> None:
    whole = decode(data, flush=True)
    assert decode(*split.draw(chunked(data)), flush=True) == whole
    for event in whole:
        assert isinstance(event, Ack | Nack | ErrorFrame | InformationFrame | Garbled)
        if isinstance(event, Garbled):
            assert event.raw


@given(
    frames=st.lists(
        st.tuples(st.sampled_from(list(Tfi)), st.binary(min_size=1, max_size=300)), max_size=4
    ),
    split=st.data(),
)
def test_valid_frames_round_trip(frames: list[tuple[Tfi, bytes]], split: st.DataObject) -> None:
    wire = b"".join(encode_information_frame(tfi, data) for tfi, data in frames)
    expected = [InformationFrame(tfi, data) for tfi, data in frames]
    assert decode(*split.draw(chunked(wire))) == expected


@given(noise=st.binary(max_size=30).filter(lambda b: b"\x00" not in b), data=st.binary(max_size=20))
def test_a_frame_after_noise_is_still_found(noise: bytes, data: bytes) -> None:
    wire = noise + encode_information_frame(Tfi.PN532_TO_HOST, b"\x4b" + data)
    events = decode(wire)
    assert events[-1] == InformationFrame(Tfi.PN532_TO_HOST, b"\x4b" + data)


@given(st.binary(max_size=60))
def test_in_list_passive_target_parser_returns_targets_or_value_error(data: bytes) -> None:
    try:
        targets = parse_in_list_passive_target(data)
    except ValueError:
        return
    assert all(len(target.uid) in (4, 7, 10) for target in targets)


@given(
    uids=st.lists(
        st.sampled_from([4, 7, 10]).flatmap(lambda n: st.binary(min_size=n, max_size=n)), max_size=2
    )
)
def test_in_list_passive_target_round_trips_type_a_targets(uids: list[bytes]) -> None:
    data = bytes([0x4B, len(uids)]) + b"".join(
        bytes([number, 0x00, 0x44, 0x00, len(uid)]) + uid for number, uid in enumerate(uids, 1)
    )
    assert [target.uid for target in parse_in_list_passive_target(data)] == uids
