"""Stored rows and received rows: the fast paths give exactly what the event paths give.

The sync link sends the journal's outbox rows (:data:`StoredRow` s) and the receiver stores
batches decoded as :data:`RecordRow` s; both must be indistinguishable on the wire and in the
database from the typed-event paths (the same bytes out, the same records in, the same typed
errors).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.events import Event, TemperatureSample
from agent.payload_codec import (
    PayloadDecodeError,
    decode_payload,
    encode_payload,
    payload_map,
    payload_to_map,
)
from agent.sync.protocol import (
    BadPayload,
    BatchAck,
    BatchLimits,
    ProtocolError,
    RecordBatch,
    RecordRow,
    RecordRows,
    StoredRow,
    Topic,
    TopicKind,
    UnknownRecordType,
    WireBatch,
    decode_message,
    decode_record_rows,
    encode_message,
    pack_batches,
    pack_wire_batches,
    ranges_of,
)
from hal_sim.backlog import week_of_records
from hospital_receiver.ingest import stored_records
from hospital_receiver.records import StoredRecords
from tests.test_protocol_strategies import batches, payloads

U64 = 2**64 - 1


def _wire(event: Event) -> StoredRow:
    """The event as the journal's outbox returns it (``synced`` as SQLite's 0/1)."""
    return (
        event.id.sequence,
        event.id.boot_epoch,
        event.type.value,
        event.wall_ns,
        event.monotonic_ns,
        int(event.clock_synchronised),
        encode_payload(event.payload),
    )


def _row(event: Event) -> RecordRow:
    return (
        event.id.boot_epoch,
        event.id.sequence,
        event.type.value,
        event.wall_ns,
        event.monotonic_ns,
        event.clock_synchronised,
        encode_payload(event.payload),
    )


def _topic(device: str) -> Topic:
    return Topic("site-1", device, TopicKind.RECORDS)


@settings(max_examples=300, deadline=None)
@given(batches())
def test_wire_records_encode_to_the_bytes_of_the_events(batch: RecordBatch) -> None:
    wire = WireBatch(batch.device, tuple(map(_wire, batch.records)), batch.historical)
    assert encode_message(wire) == encode_message(batch)


@settings(max_examples=300, deadline=None)
@given(batches())
def test_rows_decode_to_the_records_of_the_events(batch: RecordBatch) -> None:
    data = encode_message(batch)
    rows = decode_record_rows(data, _topic(batch.device))
    decoded = decode_message(data, _topic(batch.device))
    assert isinstance(decoded, RecordBatch)
    assert rows.device == decoded.device
    assert rows.historical == decoded.historical
    assert list(rows.rows) == [_row(event) for event in decoded.records]
    stored = StoredRecords(rows.device, rows.historical, rows.rows)
    assert list(stored) == stored_records(decoded)
    assert stored[:] == stored_records(decoded)
    keys = [(e.id.boot_epoch, e.id.sequence) for e in decoded.records]
    assert BatchAck.committed_keys(rows.device, rows.keys()) == BatchAck.committed(decoded)
    assert rows.keys() == keys


@settings(max_examples=300, deadline=None)
@given(payloads)
def test_payload_map_is_the_decoded_payloads_map(payload: Any) -> None:
    data = encode_payload(payload)
    kind = payload.TYPE.value
    assert payload_map(kind, data) == payload_to_map(decode_payload(kind, data))
    assert cbor2.dumps(payload_map(kind, data)) == encode_payload(decode_payload(kind, data))


@pytest.mark.parametrize(
    "data",
    [
        cbor2.dumps({"probe": "air", "celsius": 4}),  # an integer is taken as a float
        cbor2.dumps({"probe": "air", "celsius": float("nan")}),
        cbor2.dumps({"probe": "air", "celsius": True}),
        cbor2.dumps({"probe": 3, "celsius": 4.0}),
        cbor2.dumps({"probe": "air", "celsius": 4.0, "x": 1}),
        cbor2.dumps({"probe": "air"}),
        cbor2.dumps([1, 2]),
        b"\xa2",
        b"",
    ],
)
def test_payload_map_refuses_and_converts_like_decode_payload(data: bytes) -> None:
    try:
        expected: object = payload_to_map(decode_payload("temperature_sample", data))
    except PayloadDecodeError as error:
        expected = type(error)
    try:
        found: object = payload_map("temperature_sample", data)
    except PayloadDecodeError as error:
        found = type(error)
    assert found == expected


def test_an_unknown_stored_type_is_refused_like_to_event() -> None:
    with pytest.raises(UnknownRecordType):
        WireBatch("cab-01", ((1, 1, "teleported", 1, 1, 1, cbor2.dumps({})),))


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("temperature_sample", cbor2.dumps({"probe": "air", "celsius": float("nan")})),
        ("temperature_sample", cbor2.dumps({"probe": "air", "celsius": "4"})),
        ("temperature_sample", cbor2.dumps({"probe": "air", "celsius": 4.0, "x": 1})),
        ("temperature_sample", b"\xa2"),
        ("door_changed", cbor2.dumps({"door": "main"})),
    ],
)
def test_a_stored_payload_is_refused_like_to_event(kind: str, payload: bytes) -> None:
    with pytest.raises(PayloadDecodeError):
        decode_payload(kind, payload)
    good = _wire(next(week_of_records("cab-01")))
    batch = WireBatch("cab-01", (good, (good[0] + 1, good[1], kind, 1, 1, 1, payload)))
    with pytest.raises(BadPayload):
        encode_message(batch)


def test_stored_samples_encoded_otherwise_join_their_probes_column() -> None:
    """A sample whose payload is not the codec's own encoding (an integer reading, the keys the
    other way round) decodes to the same sample: it packs exactly as the event would."""
    events = list(itertools.islice(week_of_records("cab-01"), 50))
    rows = [_wire(event) for event in events]
    for at, celsius in ((3, 4), (20, None)):
        sample = events[at].payload
        assert isinstance(sample, TemperatureSample)
        reading = sample.celsius if celsius is None else celsius
        payload = cbor2.dumps({"celsius": reading, "probe": sample.probe})
        rows[at] = (*rows[at][:6], payload)
        events[at] = dataclasses.replace(
            events[at], payload=decode_payload("temperature_sample", payload)
        )
    expected = encode_message(RecordBatch("cab-01", tuple(events), historical=True))
    assert encode_message(WireBatch("cab-01", tuple(rows), historical=True)) == expected


def test_a_week_packs_to_the_same_batches_either_way() -> None:
    events = list(itertools.islice(week_of_records("cab-01"), 30_000))
    limits = BatchLimits()
    by_events = pack_batches("cab-01", events, historical=True, limits=limits)
    by_wire = pack_wire_batches(
        "cab-01", [_wire(e) for e in events], historical=True, limits=limits
    )
    assert [p.data for p in by_wire] == [p.data for p in by_events]
    assert [(r[1], r[0]) for p in by_wire for r in p.batch.records] == [
        (e.id.boot_epoch, e.id.sequence) for e in events
    ]


def test_a_wire_batch_checks_what_a_record_batch_checks() -> None:
    record = _wire(next(week_of_records("cab-01")))
    with pytest.raises(ProtocolError):
        WireBatch("cab-01", ())
    with pytest.raises(ProtocolError):
        WireBatch("cab-01", (record, record))
    with pytest.raises(ProtocolError):
        WireBatch("cab-01", ((*record[:3], U64 + 1, *record[4:]),))
    with pytest.raises(ProtocolError):
        WireBatch("cab-01", ((record[0], -1, *record[2:]),))
    with pytest.raises(ProtocolError):
        WireBatch("cab-01", ((*record[:2], "teleported", *record[3:]),))
    with pytest.raises(ProtocolError):
        WireBatch("cab-01", ((*record[:5], 2, record[6]),))
    with pytest.raises(ProtocolError):
        WireBatch("cab-01", ((*record[:6], {"probe": "air", "celsius": 4.0}),))  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):
        WireBatch("cab-01", (record, (record[0] + 1, record[1] - 1, *record[2:])))


def _batch_map(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "v": 1,
        "kind": "records",
        "device": "cab-01",
        "historical": True,
        "records": [],
        "temperatures": [
            {
                "probe": "air",
                "epoch": 1,
                "synced": True,
                "divisor": 100,
                "seq": [5, 1, 1],
                "mono": [1000, 10, 0],
                "wall": [10**18, 0, 0],
                "value": [400, 1, -1],
            }
        ],
    }
    column = value["temperatures"][0]
    for key, change in changes.items():
        (column if key in column else value)[key] = change
    return value


@pytest.mark.parametrize(
    "message",
    [
        _batch_map(),
        _batch_map(seq=[5, 0, 1]),
        _batch_map(seq=[5, 1]),
        _batch_map(seq=[5, 1, True]),
        _batch_map(value=[400, 1, 1.0]),
        _batch_map(mono=[1000, -2000, 0]),
        _batch_map(wall=[U64, 0, 0]),
        _batch_map(value=[2**64 - 1, 1, 0]),
        _batch_map(seq=[U64 - 1, 1, 1]),
        _batch_map(divisor=0),
        _batch_map(temperatures=[]),
        _batch_map(device="cab-02"),
        _batch_map(extra=1),
        _batch_map(records=[[1, 6, "door_changed", 1, 1, True, {"door": "d", "open": True}]]),
        _batch_map(records=[[1, 7, "teleported", 1, 1, True, {}]]),
        _batch_map(records=[[1, 7, "door_changed", 1, 1, 1, {"door": "d", "open": True}]]),
        _batch_map(records=[[1, 7, "door_changed", 1, 1, True, {"door": "d"}]]),
        {"v": 1, "kind": "ack", "device": "cab-01", "status": "committed", "ranges": [[1, 2, 3]]},
        {"v": 2, "kind": "records"},
    ],
)
def test_rows_refuse_what_events_refuse_with_the_same_error(message: dict[str, Any]) -> None:
    data = cbor2.dumps(message)
    topic = _topic("cab-01")
    try:
        expected: object = decode_message(data, topic)
    except ProtocolError as error:
        expected = type(error)
    try:
        rows: object = decode_record_rows(data, topic)
    except ProtocolError as error:
        rows = type(error)
    if isinstance(expected, type):
        assert rows == expected
    else:
        assert isinstance(expected, RecordBatch)
        assert isinstance(rows, RecordRows)


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 60)), max_size=40))
def test_ranges_and_split_cover_exactly_the_keys(keys: list[tuple[int, int]]) -> None:
    ranges = ranges_of(keys)
    covered = {(r.epoch, s) for r in ranges for s in range(r.first, r.last + 1)}
    assert covered == set(keys)
    if ranges:
        ack = BatchAck.committed_keys("cab-01", keys)
        probe = [(e, s) for e in range(4) for s in range(62)]
        inside, outside = ack.split(probe)
        assert inside == [k for k in probe if ack.covers(*k)]
        assert outside == [k for k in probe if not ack.covers(*k)]
