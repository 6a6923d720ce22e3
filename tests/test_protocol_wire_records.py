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

from agent.events import Event, RecordId, TemperatureSample
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
from tests.support.columns import two_probe_column
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


def _tick(probes: object, celsius: object, **more: object) -> bytes:
    return cbor2.dumps({"probes": probes, "celsius": celsius, **more})


def _same_map_or_error(data: bytes) -> None:
    """``payload_map`` (with its fast path for samples) gives what the slow path gives: the
    same map with the same types (the same bytes when encoded), or the same error."""
    try:
        expected: object = payload_to_map(decode_payload("temperature_sample", data))
    except PayloadDecodeError as error:
        expected = type(error)
    try:
        found: object = payload_map("temperature_sample", data)
    except PayloadDecodeError as error:
        found = type(error)
    assert found == expected
    if isinstance(expected, dict):
        assert cbor2.dumps(found) == cbor2.dumps(expected)


@pytest.mark.parametrize(
    "data",
    [
        _tick(["air"], [4.02]),
        _tick(["air-1", "air-2", "core"], [4.02, -0.0, 1e300]),
        _tick(["", "é"], [4.0, 5e-324]),
        cbor2.dumps({"celsius": [4.0, 3.5], "probes": ["air", "core"]}),  # keys the other way
        _tick(["air", "core"], [4, 3.5]),  # an integer is taken as a float
        _tick(["air"], [2**70]),
        _tick(["air", "air"], [4.0, 4.5]),
        _tick(["air", 3], [4.0, 4.5]),
        _tick([b"air"], [4.0]),
        _tick(["air"], [float("nan")]),
        _tick(["air", "core"], [4.0, float("-inf")]),
        _tick(["air"], [True]),
        _tick(["air"], [None]),
        _tick(["air"], ["4.0"]),
        _tick(["air", "core"], [4.0]),
        _tick(["air"], [4.0, 5.0]),
        _tick([], []),
        _tick("air", [4.0]),
        _tick(["air"], 4.0),
        _tick(["air"], [4.0], x=1),
        _tick(("air",), [[4.0]]),
        cbor2.dumps({"probes": ["air"], "celsius": [4.0], "probes2": ["x"]}),
        cbor2.dumps({"probes": ["air"], "x": [4.0]}),
        cbor2.dumps({"probes": ["air"]}),
        cbor2.dumps({"probe": "air", "celsius": 4.0}),  # a journal's pre-version-2 record
        cbor2.dumps({"probe": "air", "celsius": 4}),
        cbor2.dumps({"probe": "air", "celsius": float("nan")}),
        cbor2.dumps({"probe": 3, "celsius": 4.0}),
        cbor2.dumps({"probe": "air", "celsius": 4.0, "x": 1}),
        cbor2.dumps([1, 2]),
        b"\xa2",
        b"",
    ],
)
def test_payload_map_refuses_and_converts_like_decode_payload(data: bytes) -> None:
    _same_map_or_error(data)


_items = st.one_of(
    st.text(max_size=3),
    st.sampled_from(["air", "core"]),
    st.floats(),
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.none(),
    st.binary(max_size=2),
)


@settings(max_examples=500)
@given(
    st.dictionaries(
        st.sampled_from(["probes", "celsius", "probe", "x"]),
        st.lists(_items, max_size=4) | _items,
        max_size=3,
    )
)
def test_payload_map_takes_any_map_as_decode_payload_does(value: dict[str, Any]) -> None:
    _same_map_or_error(cbor2.dumps(value))


def test_an_unknown_stored_type_is_refused_like_to_event() -> None:
    with pytest.raises(UnknownRecordType):
        WireBatch("cab-01", ((1, 1, "teleported", 1, 1, 1, cbor2.dumps({})),))


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("temperature_sample", _tick(["air"], [float("nan")])),
        ("temperature_sample", _tick(["air"], ["4"])),
        ("temperature_sample", _tick(["air", "air"], [4.0, 4.0])),
        ("temperature_sample", _tick(["air", "core"], [4.0])),
        ("temperature_sample", _tick(["air"], [4.0], x=1)),
        ("temperature_sample", cbor2.dumps({"probe": "air", "celsius": float("nan")})),
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
    """A tick whose payload is not the codec's own encoding (an integer reading, the keys the
    other way round) decodes to the same tick: it packs exactly as the event would."""
    events = list(itertools.islice(week_of_records("cab-01"), 50))
    rows = [_wire(event) for event in events]
    for at, reading in ((3, 4), (20, None)):
        sample = events[at].payload
        assert isinstance(sample, TemperatureSample)
        readings = list(sample.celsius)
        if reading is not None:
            readings[5] = reading
        payload = cbor2.dumps({"celsius": readings, "probes": list(sample.probes)})
        rows[at] = (*rows[at][:6], payload)
        events[at] = dataclasses.replace(
            events[at], payload=decode_payload("temperature_sample", payload)
        )
    expected = encode_message(RecordBatch("cab-01", tuple(events), historical=True))
    assert encode_message(WireBatch("cab-01", tuple(rows), historical=True)) == expected
    value = cbor2.loads(expected)
    assert {r[2] for r in value["records"]} <= {"presence_changed"}
    (column,) = value["temperatures"]
    ticks = [e for e in events if isinstance(e.payload, TemperatureSample)]
    assert len(column["seq"]) == len(ticks)


def test_a_journal_of_one_record_per_probe_reading_sends_one_probe_ticks() -> None:
    """A device upgraded with records from before version 2 in its journal sends each as the
    tick of that probe alone: the bytes of the same one-probe ticks as events."""
    legacy: list[StoredRow] = []
    ticks: list[Event] = []
    for k in range(12):
        probe = f"probe-{k % 3}"
        celsius = 4.0 + k / 100
        mono = 5_000_000_000 + k * 3_333_333_333
        payload = cbor2.dumps({"probe": probe, "celsius": celsius})
        legacy.append((100 + k, 2, "temperature_sample", 10**18 + mono, mono, 1, payload))
        tick = TemperatureSample((probe,), (celsius,))
        ticks.append(Event(RecordId("cab-01", 2, 100 + k), 10**18 + mono, mono, True, tick))
    data = encode_message(WireBatch("cab-01", tuple(legacy), historical=True))
    assert data == encode_message(RecordBatch("cab-01", tuple(ticks), historical=True))
    value = cbor2.loads(data)
    assert value["records"] == []
    assert [c["probes"] for c in value["temperatures"]] == [["probe-0"], ["probe-1"], ["probe-2"]]
    assert decode_message(data, _topic("cab-01")) == RecordBatch("cab-01", tuple(ticks), True)
    rows = decode_record_rows(data, _topic("cab-01"))
    assert list(rows.rows) == [_row(event) for event in ticks]


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
        WireBatch("cab-01", ((*record[:6], {"probes": ["air"], "celsius": [4.0]}),))  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):
        WireBatch("cab-01", (record, (record[0] + 1, record[1] - 1, *record[2:])))


def _batch_map(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "v": 2,
        "kind": "records",
        "device": "cab-01",
        "historical": True,
        "records": [],
        "temperatures": [two_probe_column()],
    }
    column = value["temperatures"][0]
    for key, change in changes.items():
        (column if key in column else value)[key] = change
    return value


_DOOR = {"door": "d", "open": True}


@pytest.mark.parametrize(
    "message",
    [
        _batch_map(),
        _batch_map(probes=["air"], values=[[400, 1, -1]]),
        _batch_map(divisor=128, values=[[2**63, -(2**64), 2**64 - 1], [-(2**64), 0, 0]]),
        _batch_map(seq=[5, 0, 1]),
        _batch_map(seq=[5, 1]),
        _batch_map(seq=[5, 1, True]),
        _batch_map(seq=[], mono=[], wall=[], values=[[], []]),
        _batch_map(values=[[400, 1, 1.0], [380, 0, 2]]),
        _batch_map(values=[[400, 1, -1]]),
        _batch_map(values=[[400, 1, -1], [380, 0, 2], [1, 1, 1]]),
        _batch_map(values=[[400, 1, -1], [380, 0]]),
        _batch_map(values=[[400, 1, -1], [380, 0, 2, 1]]),
        _batch_map(values=[400, 1, -1]),
        _batch_map(values=[]),
        _batch_map(values=[[400, 1, -1], 380]),
        _batch_map(values=[[2**64 - 1, 1, 0], [380, 0, 2]]),
        _batch_map(values=[[400, 1, -1], [-(2**64), -1, 0]]),
        _batch_map(probes=["air", "air"]),
        _batch_map(probes=[], values=[]),
        _batch_map(probes=["air", 3]),
        _batch_map(probes="air"),
        _batch_map(probe="air"),
        _batch_map(mono=[1000, -2000, 0]),
        _batch_map(wall=[U64, 0, 0]),
        _batch_map(seq=[U64 - 1, 1, 1]),
        _batch_map(divisor=0),
        _batch_map(divisor=1_000_001),
        _batch_map(temperatures=[]),
        _batch_map(device="cab-02"),
        _batch_map(extra=1),
        _batch_map(records=[[1, 6, "door_changed", 1, 1, True, _DOOR]]),
        _batch_map(records=[[1, 7, "teleported", 1, 1, True, {}]]),
        _batch_map(records=[[1, 7, "door_changed", 1, 1, 1, _DOOR]]),
        _batch_map(records=[[1, 7, "door_changed", 1, 1, True, {"door": "d"}]]),
        _batch_map(
            records=[[1, 9, "temperature_sample", 1, 1, True, {"probes": ["a"], "celsius": [4]}]]
        ),
        _batch_map(
            records=[[1, 9, "temperature_sample", 1, 1, True, {"probe": "a", "celsius": 4.0}]]
        ),
        {"v": 2, "kind": "ack", "device": "cab-01", "status": "committed", "ranges": [[1, 2, 3]]},
        _batch_map(v=1),
        {"v": 3, "kind": "records"},
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
        assert list(rows.rows) == [_row(event) for event in expected.records]


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
