"""The wire protocol's messages: exact round trips, CDDL conformance, strict and safe decoding."""

from __future__ import annotations

import contextlib
import functools
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
    decode_record_rows,
    encode_message,
    refusal_for,
)
from agent.sync.protocol.envelope import VERSION
from tests.test_protocol_strategies import messages, topic_of

CDDL = (Path(__file__).parent.parent / "docs" / "protocol.cddl").read_text()
SCHEMA = pycddl.Schema(CDDL)
"""The rule ``message``: every message."""
_NUMERATORS = pycddl.Schema("root = [+ int]")


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
    RecordBatch(
        "cab-01",
        (
            _event(1),
            _event(2, TemperatureSample(("air-1", "air-2"), (4.01, 3.875))),
            _event(3, TemperatureSample(("air-1", "air-2"), (4.02, 3.9 + 1e-9))),  # plain
            _event(4, TemperatureSample(("air-1",), (4.03,))),
        ),
        True,
    ),
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


@functools.cache
def cddl_rule(name: str) -> pycddl.Schema:
    """The CDDL with ``name`` as its root rule."""
    return pycddl.Schema(f"root = {name}\n{CDDL}")


def validate_cddl(data: bytes) -> None:
    """Validate ``data`` against the CDDL's ``message``, then every item that pycddl (the
    ``cddl`` crate before anweiss/cddl#246) does not check inside it, on its own: of an array
    whose items are arrays it checks only the first (a batch's first plain record, an ack's
    first range, a column's first values array), and in a map inside an array it takes keys
    the rule does not have (a plain record's payload, a column)."""
    SCHEMA.validate_cbor(data)
    value = cbor2.loads(data)
    items: list[tuple[pycddl.Schema, object]] = []
    if value["kind"] == "records":
        for record in value["records"]:
            items.append((cddl_rule("plain-record"), record))
            if isinstance(record, list) and len(record) == 7 and isinstance(record[2], str):
                items.append((cddl_rule(record[2].replace("_", "-")), record[6]))
        for column in value["temperatures"]:
            items.append((cddl_rule("temperature-column"), column))
            items += [(_NUMERATORS, numerators) for numerators in column["values"]]
    elif value["kind"] == "ack" and "ranges" in value:
        items += [(cddl_rule("sequence-range"), item) for item in value["ranges"]]
    for schema, item in items:
        schema.validate_cbor(cbor2.dumps(item))


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).__name__)
def test_every_kind_round_trips_and_matches_the_cddl(message: Message) -> None:
    data = encode_message(message)
    validate_cddl(data)
    assert decode_message(data, topic_of(message)) == message
    assert _map(message)["v"] == 2


def test_the_example_batch_has_a_column_and_a_plain_tick() -> None:
    value = _map(EXAMPLES[3])
    assert [record[2] for record in value["records"]] == ["door_changed", "temperature_sample"]
    assert [c["probes"] for c in value["temperatures"]] == [["air-1", "air-2"], ["air-1"]]


def test_content_type_names_the_schema() -> None:
    assert VERSION == 2
    assert CONTENT_TYPE == "application/cbor; schema=hemotrace-2"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(messages)
def test_every_valid_message_round_trips_exactly_and_matches_the_cddl(message: Message) -> None:
    data = encode_message(message)
    validate_cddl(data)
    assert decode_message(data, topic_of(message)) == message


@pytest.mark.parametrize(
    "change",
    [
        {"v": 1},
        {"v": 3},
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
        validate_cddl(cbor2.dumps(value))


def _batch_with(column: dict[str, Any] | None = None, **plain: Any) -> dict[str, Any]:
    """The example batch with its first column's fields or its tick's plain record's payload
    changed."""
    batch = _map(EXAMPLES[3])
    if column is not None:
        batch["temperatures"][0] = {
            k: v for k, v in batch["temperatures"][0].items() if k not in column
        } | {k: v for k, v in column.items() if v is not None}
    if plain:
        batch["records"][1][6] = plain
    return batch


@pytest.mark.parametrize(
    "value",
    [
        _batch_with({"seq": []}),
        _batch_with({"probes": []}),
        _batch_with({"probes": ["air-1", 2]}),
        _batch_with({"values": []}),
        _batch_with({"values": [[], []]}),
        _batch_with({"values": [401, 387]}),
        _batch_with({"values": [[401], [3.875]]}),
        _batch_with({"divisor": 0}),
        _batch_with({"values": None, "value": [401]}),
        _batch_with({"probes": None, "probe": "air-1"}),
        _batch_with(probe="air-1", celsius=4.02),
        _batch_with(probes=["air-1"], celsius=4.02),
        _batch_with(probes=[], celsius=[]),
        _batch_with(probes=["air-1"], celsius=["4.02"]),
        _batch_with(probes=["air-1"], celsius=[4.02], x=1),
        _map(EXAMPLES[6]) | {"args": {"from_sequence": 1}},  # ping takes no args
    ],
)
def test_the_cddl_rejects_columns_and_ticks_out_of_shape(value: dict[str, Any]) -> None:
    with pytest.raises(pycddl.ValidationError):
        validate_cddl(cbor2.dumps(value))


def test_the_cddl_checks_every_record_column_and_range_not_only_the_first() -> None:
    batch = _map(EXAMPLES[3])
    assert batch["records"][1][2] == "temperature_sample"
    batch["records"][1][6] = {"probe": "air-1", "celsius": 4.02}
    ack = _map(EXAMPLES[-1]) | {"ranges": [[3, 1, 2], [3, "x", 4]]}
    for value in (batch, ack):
        with pytest.raises(pycddl.ValidationError):
            validate_cddl(cbor2.dumps(value))


def test_the_cddl_takes_a_tick_of_integer_readings() -> None:
    """A "number" is an integer or a float: what the decoder accepts, the CDDL does."""
    value = _batch_with(probes=["air-1", "air-2"], celsius=[4, 3.5])
    validate_cddl(cbor2.dumps(value))
    decoded = _decode(value)
    assert isinstance(decoded, RecordBatch)
    assert decoded.records[2].payload == TemperatureSample(("air-1", "air-2"), (4.0, 3.5))


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
        (_BATCH | {"v": 1}, UnsupportedVersion),
        (_BATCH | {"v": 3}, UnsupportedVersion),
        (_BATCH | {"v": "2"}, UnsupportedVersion),
        (_BATCH | {"v": 2.0}, UnsupportedVersion),
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
        (_plain(i2="temperature_sample", i6={"probe": "air", "celsius": 4.0}), BadPayload),
        (_plain(i2="temperature_sample", i6={"probes": ["air"], "celsius": 4.0}), BadPayload),
        (_plain(i2="temperature_sample", i6={"probes": ["a", "a"], "celsius": [4, 5]}), BadPayload),
        (_plain(i2="temperature_sample", i6={"probes": ["air"], "celsius": [4, 5]}), BadPayload),
        (_plain(i2="temperature_sample", i6={"probes": [], "celsius": []}), BadPayload),
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


_VERSION_1_BATCH = {
    "v": 1,
    "kind": "records",
    "device": "cab-01",
    "historical": True,
    "records": [[3, 1042, "door_changed", 1, 1, True, {"door": "main", "open": True}]],
    "temperatures": [
        {
            "probe": "air-1",
            "epoch": 3,
            "synced": True,
            "divisor": 100,
            "seq": [1041, 2, 1],
            "mono": [86400000000000, 10000512000, -707000],
            "wall": [1714000000000000000, 0, 0],
            "value": [402, 3, -4],
        }
    ],
}
"""A batch of protocol version 1: one record per probe reading, a column per probe."""


def test_a_version_1_message_is_refused_as_unsupported() -> None:
    with pytest.raises(UnsupportedVersion) as raised:
        _decode(_VERSION_1_BATCH, _RECORDS)
    assert raised.value.reason is RejectReason.UNSUPPORTED
    with pytest.raises(UnsupportedVersion):
        decode_record_rows(cbor2.dumps(_VERSION_1_BATCH), _RECORDS)
    plain_v1 = _VERSION_1_BATCH | {
        "temperatures": [],
        "records": [[3, 1041, "temperature_sample", 1, 1, True, {"probe": "air", "celsius": 4.0}]],
    }
    with pytest.raises(UnsupportedVersion):
        _decode(plain_v1, _RECORDS)
    ack = _map(EXAMPLES[-1]) | {"v": 1}
    with pytest.raises(UnsupportedVersion):
        _decode(ack, Topic("site-1", "cab-01", TopicKind.ACKS))
    with pytest.raises(pycddl.ValidationError):
        validate_cddl(cbor2.dumps(_VERSION_1_BATCH))


def test_a_version_1_sample_or_column_in_a_version_2_batch_is_refused() -> None:
    """Only a device's own journal is read in the old shape; on the wire it is malformed."""
    legacy = _plain(i2="temperature_sample", i6={"probe": "air", "celsius": 4.0})
    with pytest.raises(BadPayload) as raised:
        _decode(legacy, _RECORDS)
    assert raised.value.reason is RejectReason.MALFORMED
    with pytest.raises(BadPayload):
        decode_record_rows(cbor2.dumps(legacy), _RECORDS)
    column = _BATCH | {"temperatures": _VERSION_1_BATCH["temperatures"]}
    with pytest.raises(ProtocolError) as error:
        _decode(column, _RECORDS)
    assert error.value.reason is RejectReason.MALFORMED


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
