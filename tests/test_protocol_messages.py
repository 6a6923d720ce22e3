"""The wire protocol's messages: exact round trips, CDDL conformance, strict and safe decoding."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import cbor2
import pycddl  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.events import DoorChanged, Event, RecordId, TemperatureSample
from agent.sync.protocol import (
    CONTENT_TYPE,
    Allocate,
    BadgeEntry,
    BadgeList,
    BadPayload,
    BatchAck,
    Birth,
    Cancel,
    Command,
    CommandReply,
    Death,
    ElectronicIssue,
    ImpossibleValue,
    Inventory,
    Message,
    MessageTooLarge,
    MissingField,
    NotCbor,
    Outcome,
    Ping,
    ProtocolError,
    RecordBatch,
    RefusalReason,
    RejectReason,
    Resync,
    Topic,
    TopicKind,
    UnexpectedField,
    UnitHistory,
    UnknownCommand,
    UnknownKind,
    UnknownRecordType,
    UnsupportedVersion,
    WrongDevice,
    WrongTopic,
    WrongType,
    decode_message,
    encode_message,
    refusal_for,
)
from tests.test_protocol_strategies import messages, topic_of

SCHEMA = pycddl.Schema((Path(__file__).parent.parent / "docs" / "protocol.cddl").read_text())
NONCE = bytes(range(16))


def _event(seq: int, payload: Any = None, device: str = "cab-01") -> Event:
    return Event(
        RecordId(device, 3, seq),
        1_700_000_000_000_000_000 + seq,
        5_000_000_000 + seq,
        True,
        payload or DoorChanged("main", open=True),
    )


EXAMPLES: list[Message] = [
    Birth("site-1", "cab-01", 3, 1, "0.1.0", None, 1_700_000_000_000_000_000, 5, True),
    Birth("site-1", "cab-01", 3, 2, "0.1.0", 41, 1_700_000_000_000_000_000, 5, False),
    Death("site-1", "cab-01", 3, 1),
    RecordBatch("cab-01", (_event(1), _event(2, TemperatureSample("air", 4.01))), True),
    BatchAck.rejected("cab-01", RejectReason.WRONG_DEVICE, "device cab-02 on cab-01's topic"),
    Command("cab-01", "req-1", 10, 20, NONCE, Resync(from_sequence=42)),
    Command("cab-01", "req-2", 10, 20, NONCE, Ping()),
    Command("cab-01", "req-3", 10, 20, NONCE, Allocate("A999926123456", "P-1", "O-1", 99)),
    Command(
        "cab-01",
        "req-4",
        10,
        20,
        NONCE,
        ElectronicIssue("P-1", "O-2", ("O-", "O+"), "red_cells", 2, 99),
    ),
    Command("cab-01", "req-5", 10, 20, NONCE, Cancel("O-1", "A999926123456")),
    Command(
        "cab-01",
        "req-6",
        10,
        20,
        NONCE,
        BadgeList(5, (BadgeEntry("04A1B2C3", "nurse-1", "A. Nurse", ("clinician",)),)),
    ),
    Command("cab-01", "req-7", 10, 20, NONCE, Inventory()),
    Command("cab-01", "req-8", 10, 20, NONCE, UnitHistory("A999926000001", 3.5, 7, 1, 2)),
    CommandReply("cab-01", "req-1", Outcome.DONE),
    CommandReply("cab-01", "req-2", Outcome.REFUSED, RefusalReason.REPLAYED, "nonce seen"),
    CommandReply("cab-01", "req-3", Outcome.REFUSED, RefusalReason.REJECTED, "unit not here"),
]
EXAMPLES.append(BatchAck.committed(EXAMPLES[3]))  # type: ignore[arg-type]


def _map(message: Message) -> dict[str, Any]:
    value = cbor2.loads(encode_message(message))
    assert isinstance(value, dict)
    return value


def _decode(value: object, topic: Topic | None = None) -> Message:
    return decode_message(cbor2.dumps(value), topic or Topic("site-1", "cab-01", TopicKind.RECORDS))


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).__name__)
def test_every_kind_round_trips_and_matches_the_cddl(message: Message) -> None:
    data = encode_message(message)
    SCHEMA.validate_cbor(data)
    assert decode_message(data, topic_of(message)) == message
    assert _map(message)["v"] == 1


def test_content_type_names_the_schema() -> None:
    assert CONTENT_TYPE == "application/cbor; schema=hemotrace-1"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(messages)
def test_every_valid_message_round_trips_exactly_and_matches_the_cddl(message: Message) -> None:
    data = encode_message(message)
    SCHEMA.validate_cbor(data)
    assert decode_message(data, topic_of(message)) == message


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"kind": "births"},
        {"device": "cab/01"},
        {"epoch": -1},
        {"epoch": 2**64},
        {"synced": 1},
        {"extra": True},
        {"firmware": None},
    ],
    ids=str,
)
def test_the_cddl_rejects_invalid_messages(change: dict[str, Any]) -> None:
    value = _map(EXAMPLES[0]) | change
    with pytest.raises(pycddl.ValidationError):
        SCHEMA.validate_cbor(cbor2.dumps(value))


def test_the_cddl_rejects_a_column_of_unequal_shape_and_a_command_with_stray_args() -> None:
    batch = _map(EXAMPLES[3])
    batch["temperatures"][0]["seq"] = []
    command = _map(EXAMPLES[6]) | {"args": {"from_sequence": 1}}
    for value in (batch, command):
        with pytest.raises(pycddl.ValidationError):
            SCHEMA.validate_cbor(cbor2.dumps(value))


# --- strict decoding: one typed error per way of being wrong ---------------------------------

_RECORDS = Topic("site-1", "cab-01", TopicKind.RECORDS)
_BATCH = _map(EXAMPLES[3])


def _without(value: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k != key}


def _plain(**changes: Any) -> dict[str, Any]:
    record = list(_BATCH["records"][0])
    for index, value in changes.items():
        record[int(index[1:])] = value
    return _BATCH | {"records": [record]}


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (_BATCH | {"v": 2}, UnsupportedVersion),
        (_BATCH | {"v": "1"}, UnsupportedVersion),
        (_without(_BATCH, "v"), MissingField),
        (_BATCH | {"kind": "telemetry"}, UnknownKind),
        (_without(_BATCH, "historical"), MissingField),
        (_BATCH | {"priority": 1}, UnexpectedField),
        (_BATCH | {"historical": 1}, WrongType),
        (_BATCH | {"records": {}}, WrongType),
        (_BATCH | {"device": "cab-02"}, WrongDevice),
        (_BATCH | {"device": "cab/01"}, ProtocolError),
        (_BATCH | {"records": [], "temperatures": []}, ImpossibleValue),
        (_plain(i1=-1), ImpossibleValue),
        (_plain(i1=2**64), ImpossibleValue),
        (_plain(i1=True), WrongType),
        (_plain(i3=1.5), WrongType),
        (_plain(i2="unlock_everything"), UnknownRecordType),
        (_plain(i6={"door": "main"}), BadPayload),
        (_plain(i6={"door": "main", "open": 1}), BadPayload),
        (_BATCH | {"records": [[3, 1]]}, ImpossibleValue),
        (_BATCH | {"records": [_BATCH["records"][0]] * 2}, ImpossibleValue),
        ([1, "records"], WrongType),
        ("hello", WrongType),
    ],
)
def test_each_way_of_being_wrong_has_its_own_error(value: object, error: type[Exception]) -> None:
    with pytest.raises(error) as raised:
        _decode(value, _RECORDS)
    assert str(raised.value)


def test_size_is_checked_before_decoding() -> None:
    with pytest.raises(MessageTooLarge) as raised:
        decode_message(b"\xff" * 101, _RECORDS, max_bytes=100)
    assert raised.value.reason is RejectReason.TOO_LARGE


@pytest.mark.parametrize(
    "data", [b"", b"\xff", b"\x9b\xff\xff\xff\xff\xff\xff\xff\xff", b"\x81" * 10_000, b"\xa0\x00"]
)
def test_bytes_that_are_not_one_cbor_item_are_refused(data: bytes) -> None:
    with pytest.raises(NotCbor):
        decode_message(data, _RECORDS)


def test_a_message_on_the_wrong_topic_or_of_another_device_is_refused() -> None:
    data = encode_message(EXAMPLES[5])
    with pytest.raises(WrongTopic):
        decode_message(data, Topic("site-1", "cab-01", TopicKind.REPLIES))
    with pytest.raises(WrongDevice) as raised:
        decode_message(data, Topic("site-1", "cab-02", TopicKind.COMMANDS))
    assert raised.value.reason is RejectReason.WRONG_DEVICE
    with pytest.raises(WrongDevice):
        decode_message(encode_message(EXAMPLES[0]), Topic("site-2", "cab-01", TopicKind.STATUS))


def test_a_batch_cannot_hold_another_devices_record_or_be_out_of_order() -> None:
    with pytest.raises(WrongDevice):
        RecordBatch("cab-01", (_event(1, device="cab-02"),))
    with pytest.raises(ImpossibleValue):
        RecordBatch("cab-01", (_event(2), _event(1)))


def test_a_bad_command_error_carries_its_request_id_and_refusal() -> None:
    topic = Topic("site-1", "cab-01", TopicKind.COMMANDS)
    command = _map(EXAMPLES[5])
    cases = [
        (command | {"command": "self_destruct"}, UnknownCommand, RefusalReason.UNKNOWN),
        (command | {"args": {"from_sequence": -5}}, ImpossibleValue, RefusalReason.MALFORMED),
        (command | {"args": {}}, MissingField, RefusalReason.MALFORMED),
        (
            command | {"args": {"from_sequence": 1, "to": 2}},
            UnexpectedField,
            RefusalReason.MALFORMED,
        ),
        (command | {"nonce": b"short"}, ImpossibleValue, RefusalReason.MALFORMED),
        (command | {"expires_ns": 10}, ImpossibleValue, RefusalReason.MALFORMED),
        (command | {"sudo": True}, UnexpectedField, RefusalReason.MALFORMED),
    ]
    for value, error, refusal in cases:
        with pytest.raises(error) as raised:
            _decode(value, topic)
        assert raised.value.request_id == "req-1"
        assert refusal_for(raised.value) is refusal


def test_command_expiry_and_mqtt_message_expiry() -> None:
    command = Command("cab-01", "req-9", 0, 30_000_000_000, NONCE, Ping())
    assert not command.expired(29_999_999_999)
    assert command.expired(30_000_000_000)
    assert command.expiry_interval_s(0) == 30
    assert command.expiry_interval_s(29_500_000_000) == 1
    assert command.expiry_interval_s(40_000_000_000) == 1


def test_acks_name_exactly_what_was_committed() -> None:
    batch = RecordBatch("cab-01", (_event(1), _event(2), _event(3), _event(7)))
    ack = BatchAck.committed(batch)
    assert [(r.epoch, r.first, r.last) for r in ack.ranges] == [(3, 1, 3), (3, 7, 7)]
    assert ack.covers(3, 2)
    assert ack.covers(3, 7)
    assert not ack.covers(3, 4)
    assert not ack.covers(2, 2)
    overlapping = _map(ack) | {"ranges": [[3, 1, 5], [3, 4, 9]]}
    with pytest.raises(ImpossibleValue):
        _decode(overlapping, Topic("site-1", "cab-01", TopicKind.ACKS))
    both = _map(ack) | {"reason": "malformed"}
    with pytest.raises(UnexpectedField):
        _decode(both, Topic("site-1", "cab-01", TopicKind.ACKS))


# --- no input crashes the decoder ------------------------------------------------------------

_cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4)
    ),
    max_leaves=20,
)


def _decodes_or_refuses(data: bytes, topic: Topic) -> None:
    with contextlib.suppress(ProtocolError):
        decode_message(data, topic)


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_random_bytes_only_ever_raise_protocol_errors(data: bytes) -> None:
    _decodes_or_refuses(data, _RECORDS)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(messages, st.data())
def test_mutated_messages_only_ever_raise_protocol_errors(
    message: Message, data: st.DataObject
) -> None:
    encoded = bytearray(encode_message(message))
    for _ in range(data.draw(st.integers(1, 4))):
        encoded[data.draw(st.integers(0, len(encoded) - 1))] = data.draw(st.integers(0, 255))
    _decodes_or_refuses(bytes(encoded), topic_of(message))


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(messages, st.data())
def test_messages_with_a_field_replaced_only_ever_raise_protocol_errors(
    message: Message, data: st.DataObject
) -> None:
    value = _map(message)
    key = data.draw(st.sampled_from(sorted(value)))
    value[key] = data.draw(_cbor_values)
    _decodes_or_refuses(cbor2.dumps(value), topic_of(message))
