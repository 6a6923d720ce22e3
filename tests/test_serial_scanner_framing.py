"""The barcode scanner's framing (drivers.scanner_framing): bytes in, scans out, no I/O."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.hal.parts import BarcodeRead, GarbledInput
from drivers.scanner_framing import CR, CRLF, STX_ETX, Framing, ScanDecoder

Event = BarcodeRead | GarbledInput


def decode(framing: Framing, *chunks: bytes, close: bool = False) -> list[Event]:
    decoder = ScanDecoder(framing)
    events: list[Event] = []
    for chunk in chunks:
        decoder.receive_data(chunk)
        while (event := decoder.next_event()) is not None:
            events.append(event)
    if close:
        decoder.close()
        while (event := decoder.next_event()) is not None:
            events.append(event)
    return events


def byte_at_a_time(framing: Framing, data: bytes, *, close: bool = False) -> list[Event]:
    return decode(framing, *(data[i : i + 1] for i in range(len(data))), close=close)


DIN = "=A99991712345600"


@pytest.mark.parametrize(
    ("framing", "wire"),
    [
        (CR, f"{DIN}\r".encode()),
        (CRLF, f"{DIN}\r\n".encode()),
        (STX_ETX, f"\x02{DIN}\x03".encode()),
    ],
)
def test_one_scan_in_each_framing_whole_and_byte_at_a_time(framing: Framing, wire: bytes) -> None:
    expected = [BarcodeRead(data=DIN)]
    assert decode(framing, wire) == expected
    assert byte_at_a_time(framing, wire) == expected


def test_scans_come_in_order_and_a_partial_line_waits_for_its_suffix() -> None:
    decoder = ScanDecoder(CR)
    decoder.receive_data(b"first\rsec")
    assert decoder.next_event() == BarcodeRead(data="first")
    assert decoder.next_event() is None
    decoder.receive_data(b"ond\r")
    assert decoder.next_event() == BarcodeRead(data="second")


@pytest.mark.parametrize(
    ("wire", "symbology", "data"),
    [
        (b"]C0=A99991712345600\r", "]C0", DIN),
        (b"]d2\x1d0112345678901231\r", "]d2", "\x1d0112345678901231"),
        (b"]Q1hello\r", "]Q1", "hello"),
    ],
)
def test_aim_symbology_identifier_is_split_off(wire: bytes, symbology: str, data: str) -> None:
    framing = Framing(suffix=b"\r", aim=True)
    assert decode(framing, wire) == [BarcodeRead(data=data, symbology=symbology)]


@pytest.mark.parametrize("wire", [b"=A9999\r", b"]C\r", b"]!0abc\r"])
def test_missing_aim_identifier_is_garbled_when_aim_is_configured(wire: bytes) -> None:
    framing = Framing(suffix=b"\r", aim=True)
    (event,) = decode(framing, wire)
    assert isinstance(event, GarbledInput)
    assert event.reason == "missing AIM symbology identifier"
    assert event.raw == wire[:-1]


def test_concatenated_isbt128_scan_is_one_read_with_the_whole_data() -> None:
    """Concatenation mode: DIN and blood group in one transmission; the ISBT parser splits."""
    concatenated = "=A99991712345600=%5100"
    assert decode(CR, concatenated.encode() + b"\r") == [BarcodeRead(data=concatenated)]


def test_non_ascii_and_control_characters_are_garbled_and_the_stream_carries_on() -> None:
    events = decode(CR, b"caf\xc3\xa9\rbell\x07\rok\r")
    assert events == [
        GarbledInput(reason="not printable ASCII", raw=b"caf\xc3\xa9"),
        GarbledInput(reason="not printable ASCII", raw=b"bell\x07"),
        BarcodeRead(data="ok"),
    ]


def test_group_separator_for_gs1_fnc1_is_data() -> None:
    assert decode(CR, b"01\x1d21\r") == [BarcodeRead(data="01\x1d21")]


def test_over_long_line_is_reported_once_and_dropped_to_its_end() -> None:
    framing = Framing(suffix=b"\r", max_length=8)
    wire = b"0123456789ABCDEF\rok\r"
    expected = [GarbledInput(reason="over-long line", raw=b"012345678"), BarcodeRead(data="ok")]
    assert decode(framing, wire) == expected
    assert byte_at_a_time(framing, wire) == expected


def test_over_long_line_without_end_is_reported_before_its_suffix_arrives() -> None:
    decoder = ScanDecoder(Framing(suffix=b"\r", max_length=4))
    decoder.receive_data(b"abcdefgh")
    assert decoder.next_event() == GarbledInput(reason="over-long line", raw=b"abcde")
    decoder.receive_data(b"ijk\rnext\r")
    assert decoder.next_event() == BarcodeRead(data="next")
    assert decoder.next_event() is None


def test_a_line_of_exactly_max_length_is_a_scan() -> None:
    framing = Framing(suffix=b"\r\n", max_length=4)
    assert byte_at_a_time(framing, b"abcd\r\n") == [BarcodeRead(data="abcd")]


def test_bytes_outside_stx_etx_frames_are_garbled() -> None:
    wire = b"noise\x02scan\x03\x00\x02two\x03"
    expected = [
        GarbledInput(reason="bytes outside a frame", raw=b"noise"),
        BarcodeRead(data="scan"),
        GarbledInput(reason="bytes outside a frame", raw=b"\x00"),
        BarcodeRead(data="two"),
    ]
    assert decode(STX_ETX, wire) == expected
    assert byte_at_a_time(STX_ETX, wire) == expected


def test_frame_cut_off_by_a_new_prefix_is_garbled_and_the_new_frame_is_read() -> None:
    wire = b"\x02half\x02whole\x03"
    expected = [
        GarbledInput(reason="frame cut off by a new prefix", raw=b"half"),
        BarcodeRead(data="whole"),
    ]
    assert decode(STX_ETX, wire) == expected
    assert byte_at_a_time(STX_ETX, wire) == expected


def test_end_of_stream_turns_a_partial_frame_into_garbled_input() -> None:
    assert decode(CR, b"ok\rhalf", close=True) == [
        BarcodeRead(data="ok"),
        GarbledInput(reason="frame cut off by end of stream", raw=b"half"),
    ]
    assert decode(STX_ETX, b"junk", close=True) == [
        GarbledInput(reason="bytes outside a frame", raw=b"junk")
    ]
    assert decode(CR, b"", close=True) == []


def test_empty_lines_are_skipped() -> None:
    assert decode(CR, b"\r\rabc\r\r") == [BarcodeRead(data="abc")]
    assert decode(CRLF, b"\r\n\r\nabc\r\n") == [BarcodeRead(data="abc")]


@pytest.mark.parametrize(
    "kwargs",
    [{"suffix": b""}, {"suffix": b"\r", "max_length": 0}, {"prefix": b"\r", "suffix": b"\r\n"}],
)
def test_impossible_framings_are_value_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"."):
        Framing(**kwargs)  # type: ignore[arg-type]


# --- properties -------------------------------------------------------------------------------

FRAMINGS = st.sampled_from(
    [CR, CRLF, STX_ETX, Framing(suffix=b"\r", aim=True), Framing(suffix=b"\n", max_length=16)]
)
scan_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1)


@st.composite
def chunked(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.sets(st.integers(0, len(data)), max_size=8)))
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@given(framing=FRAMINGS, data=st.binary(max_size=300), split=st.data())
def test_arbitrary_bytes_only_yield_scans_or_garbled_input_however_split(
    framing: Framing, data: bytes, split: st.DataObject
) -> None:
    whole = decode(framing, data, close=True)
    assert all(isinstance(event, BarcodeRead | GarbledInput) for event in whole)
    assert decode(framing, *split.draw(chunked(data)), close=True) == whole
    for event in whole:
        if isinstance(event, GarbledInput):
            assert event.raw
            assert len(event.raw) <= framing.max_length + 1


@given(framing=FRAMINGS, scans=st.lists(scan_text, max_size=5), split=st.data())
def test_valid_scans_round_trip(framing: Framing, scans: list[str], split: st.DataObject) -> None:
    identifier = "]C0" if framing.aim else ""
    scans = [s[: framing.max_length - len(identifier)] for s in scans]
    wire = b"".join(framing.prefix + (identifier + s).encode() + framing.suffix for s in scans)
    events = decode(framing, *split.draw(chunked(wire)), close=True)
    assert events == [BarcodeRead(data=s, symbology=identifier or None) for s in scans]


@given(noise=st.binary(max_size=40).filter(lambda b: b"\x02" not in b and b"\x03" not in b))
def test_a_frame_after_noise_is_still_read(noise: bytes) -> None:
    events = decode(STX_ETX, noise + b"\x02=A99991712345600\x03")
    assert events[-1] == BarcodeRead(data=DIN)
    assert all(isinstance(event, GarbledInput) for event in events[:-1])
