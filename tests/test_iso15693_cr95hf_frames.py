"""CR95HF UART commands and responses (drivers.cr95hf_frames) against the datasheet's examples
and result codes, and how the reader classifies an inventory slot's answer."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.cr95hf_frames import (
    Command,
    DataRate,
    EchoReply,
    Event,
    Garbled,
    Iso15693Reception,
    Protocol,
    Response,
    ResponseDecoder,
    ResultCode,
    encode_command,
    encode_send_eof,
    iso15693_parameters,
    split_iso15693_reception,
)
from drivers.iso15693 import inventory_request, with_crc
from drivers.iso15693_reader import SlotResult, UnusableAnswer, classify_slot

IDN_ANSWER = bytes.fromhex("000F4E4643204653324A41535434002ACE")


def decode(*chunks: bytes, flush: bool = False) -> list[Event]:
    decoder = ResponseDecoder()
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


def test_commands_encode_as_in_the_datasheet() -> None:
    assert encode_command(Command.IDN) == bytes.fromhex("0100")
    assert encode_command(Command.ECHO) == b"\x55"
    params = bytes([Protocol.ISO15693, iso15693_parameters()])
    assert encode_command(Command.PROTOCOL_SELECT, params) == bytes.fromhex("02020105")
    assert encode_command(Command.SEND_RECV, inventory_request(slots=1)) == bytes.fromhex(
        "0403260100"
    )
    assert encode_send_eof() == bytes.fromhex("0400")


def test_iso15693_parameter_bits() -> None:
    assert iso15693_parameters() == 0x05
    assert iso15693_parameters(ten_percent_modulation=False) == 0x01
    assert iso15693_parameters(DataRate.KBPS_52, wait_for_sof=True, dual_subcarrier=True) == 0x1F
    assert iso15693_parameters(DataRate.KBPS_6, append_crc=False) == 0x24


def test_commands_too_long_or_echo_with_data_are_value_errors() -> None:
    with pytest.raises(ValueError, match="255"):
        encode_command(Command.SEND_RECV, bytes(256))
    with pytest.raises(ValueError, match="Echo"):
        encode_command(Command.ECHO, b"\x00")


def test_idn_answer_of_the_datasheet_decodes_whole_and_byte_at_a_time() -> None:
    expected = [Response(0x00, IDN_ANSWER[2:])]
    assert decode(IDN_ANSWER) == expected
    assert decode(*(IDN_ANSWER[i : i + 1] for i in range(len(IDN_ANSWER)))) == expected
    assert IDN_ANSWER[2:-2].rstrip(b"\x00") == b"NFC FS2JAST4"


@pytest.mark.parametrize("code", list(ResultCode))
def test_every_documented_result_code_decodes(code: ResultCode) -> None:
    assert decode(bytes([code, 0x00]) + b"\x55") == [Response(code, b""), EchoReply()]


def test_noise_is_one_garbled_event_then_the_response() -> None:
    wire = b"\x3c\xa7\x01" + bytes.fromhex("8700")
    expected: list[Event] = [
        Garbled("unknown result code 0x3c", b"\x3c\xa7\x01"),
        Response(0x87, b""),
    ]
    assert decode(wire) == expected
    assert decode(*(wire[i : i + 1] for i in range(len(wire)))) == expected


def test_flush_reports_a_response_cut_short() -> None:
    assert decode(b"\x80\x0d\x00\x00", flush=True) == [
        Garbled("unknown result code 0x80", b"\x80\x0d\x00\x00")
    ]
    assert decode(b"", flush=True) == []


def test_iso15693_reception_status_byte() -> None:
    assert split_iso15693_reception(b"\xaa\xbb\x00") == Iso15693Reception(b"\xaa\xbb", False, False)
    assert split_iso15693_reception(b"\xaa\x01").collision
    assert split_iso15693_reception(b"\xaa\x02").crc_error
    with pytest.raises(ValueError, match="status"):
        split_iso15693_reception(b"")


UID_WIRE = bytes.fromhex("78563412000104E0")
TAG_FRAME = with_crc(bytes([0x00, 0x00]) + UID_WIRE)


@pytest.mark.parametrize(
    ("response", "result"),
    [
        (Response(0x87, b""), SlotResult()),
        (Response(0x80, TAG_FRAME + b"\x00"), SlotResult(uid="E004010012345678")),
        (Response(0x80, TAG_FRAME + b"\x01"), SlotResult(collided=True)),
        (Response(0x80, TAG_FRAME + b"\x02"), SlotResult(collided=True)),
        (Response(0x80, TAG_FRAME[:-1] + b"\x00\x00"), SlotResult(collided=True)),
        *(
            (Response(code, b""), SlotResult(collided=True))
            for code in range(0x86, 0x8F)
            if code != 0x87
        ),
    ],
)
def test_classify_slot(response: Response, result: SlotResult) -> None:
    assert classify_slot(response) == result


@pytest.mark.parametrize(
    "response", [Response(0x82, b""), Response(0x00, b""), Response(0x80, b"")]
)
def test_classify_slot_refuses_answers_that_are_no_slot(response: Response) -> None:
    with pytest.raises(UnusableAnswer, match="inventory answered"):
        classify_slot(response)


@st.composite
def chunked(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.sets(st.integers(0, len(data)), max_size=8)))
    return [data[a:b] for a, b in itertools.pairwise([0, *cuts, len(data)])]


@given(data=st.binary(max_size=300), split=st.data())
def test_arbitrary_bytes_never_crash_and_chunking_does_not_matter(
    data: bytes, split: st.DataObject
) -> None:
    whole = decode(data, flush=True)
    assert decode(*split.draw(chunked(data)), flush=True) == whole
    assert all(isinstance(event, Response | EchoReply | Garbled) for event in whole)


@given(
    responses=st.lists(
        st.tuples(st.sampled_from(list(ResultCode)), st.binary(max_size=255)), max_size=5
    ),
    split=st.data(),
)
def test_valid_responses_round_trip(
    responses: list[tuple[ResultCode, bytes]], split: st.DataObject
) -> None:
    wire = b"".join(bytes([code, len(data)]) + data for code, data in responses)
    expected = [Response(code, data) for code, data in responses]
    assert decode(*split.draw(chunked(wire))) == expected
