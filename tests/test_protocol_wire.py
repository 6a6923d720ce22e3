"""Topics, batching limits, and the compact temperature form: exact and small on the wire."""

from __future__ import annotations

from typing import Any

import cbor2
import pytest

from agent.events import DoorChanged, Event, RecordId, TemperatureSample
from agent.payload_codec import encode_payload
from agent.sync.protocol import (
    MAX_MESSAGE_BYTES,
    BatchLimits,
    ImpossibleValue,
    InvalidIdentifier,
    InvalidTopic,
    MissingField,
    RecordBatch,
    RejectReason,
    Topic,
    TopicKind,
    UnexpectedField,
    WrongType,
    decode_message,
    decode_record_rows,
    encode_message,
    fleet_filter,
    pack_batches,
    parse_topic,
    shared_filter,
)
from hal_sim.backlog import WEEK_OF_READINGS, WEEK_OF_RECORDS, week_of_records
from tests.support.columns import two_probe_column

DEVICE = "cab-01"
RECORDS = Topic("site-1", DEVICE, TopicKind.RECORDS)


# --- topics ----------------------------------------------------------------------------------


def test_topics_build_and_parse_back() -> None:
    topic = Topic("site-1", DEVICE, TopicKind.RECORDS)
    assert str(topic) == "hemotrace/v2/site-1/cab-01/records"
    assert parse_topic(str(topic)) == topic
    assert str(topic.sibling(TopicKind.ACKS)) == "hemotrace/v2/site-1/cab-01/acks"
    assert fleet_filter(TopicKind.STATUS) == "hemotrace/v2/+/+/status"
    assert shared_filter(TopicKind.RECORDS) == "$share/receivers/hemotrace/v2/+/+/records"


@pytest.mark.parametrize(
    "bad", ["", "a/b", "+", "#", "a+", "caf\u00e9", " x", "$SYS", "x" * 65, ".x"]
)
def test_unsafe_identifiers_are_refused(bad: str) -> None:
    with pytest.raises(InvalidIdentifier):
        Topic("site-1", bad, TopicKind.RECORDS)
    with pytest.raises(InvalidIdentifier):
        shared_filter(TopicKind.RECORDS, group=bad)


@pytest.mark.parametrize(
    "name",
    [
        "hemotrace/v2/site-1/cab-01",
        "hemotrace/v2/site-1/cab-01/records/x",
        "hemotrace/v1/site-1/cab-01/records",
        "hemotrace/v3/site-1/cab-01/records",
        "hemotrace/v2/site-1/cab-01/telemetry",
        "hemotrace/v2/+/cab-01/records",
        "hemotrace/v2//cab-01/records",
    ],
)
def test_foreign_topics_do_not_parse(name: str) -> None:
    with pytest.raises(InvalidTopic):
        parse_topic(name)


# --- the compact temperature form ----------------------------------------------------------


def _tick(
    seq: int,
    *celsius: float,
    probes: tuple[str, ...] = ("air", "core", "door"),
    synced: bool = True,
    epoch: int = 1,
) -> Event:
    """A tick of ``probes`` (as many as readings given) at ``seq``, ten seconds apart with a
    little jitter."""
    mono = 10_000_000_000 * seq + 1_234 * (seq % 3)
    return Event(
        RecordId(DEVICE, epoch, seq),
        mono + 1_700_000_000_000_000_000,
        mono,
        synced,
        TemperatureSample(probes[: len(celsius)], celsius),
    )


def _round_trip(batch: RecordBatch) -> dict[str, Any]:
    data = encode_message(batch)
    assert decode_message(data, RECORDS) == batch
    rows = decode_record_rows(data, RECORDS)
    assert [r[6] for r in rows.rows] == [encode_payload(e.payload) for e in batch.records]
    value = cbor2.loads(data)
    assert isinstance(value, dict)
    return value


def test_a_column_carries_the_ticks_of_several_probes() -> None:
    readings = [(4.02, 3.91, 5.0), (4.05, 3.91, 4.98), (4.01, 3.87, 5.1), (3.99, 3.9, 5.12)]
    batch = RecordBatch(DEVICE, tuple(_tick(i + 1, *r) for i, r in enumerate(readings)))
    value = _round_trip(batch)
    assert value["records"] == []
    (column,) = value["temperatures"]
    assert column == {
        "probes": ["air", "core", "door"],
        "epoch": 1,
        "synced": True,
        "divisor": 100,
        "seq": [1, 1, 1, 1],
        "mono": [10_000_001_234, 10_000_001_234, -3702, 3702],
        "wall": [1_700_000_000_000_000_000, 0, 0, 0],
        "values": [[402, 3, -4, -2], [391, 0, -4, 3], [500, -2, 12, 2]],
    }
    assert list(column) == ["probes", "epoch", "synced", "divisor", "seq", "mono", "wall", "values"]


def test_a_tick_with_one_reading_the_form_cannot_carry_travels_plain_whole() -> None:
    """The other ticks stay in the column, their values the differences to the ticks around
    the plain one."""
    readings = [(4.0, 3.5), (4.01, 3.5 + 1e-9), (4.02, 3.52), (4.03, -0.0), (4.04, 3.53)]
    batch = RecordBatch(DEVICE, tuple(_tick(i + 1, *r) for i, r in enumerate(readings)))
    value = _round_trip(batch)
    (column,) = value["temperatures"]
    assert column["seq"] == [1, 2, 2]
    assert column["values"] == [[400, 2, 2], [350, 2, 1]]
    assert [record[1] for record in value["records"]] == [2, 4]
    assert [record[6] for record in value["records"]] == [
        {"probes": ["air", "core"], "celsius": [4.01, 3.5 + 1e-9]},
        {"probes": ["air", "core"], "celsius": [4.03, -0.0]},
    ]
    assert str(value["records"][1][6]["celsius"][1]) == "-0.0"


def test_readings_the_compact_form_cannot_carry_exactly_travel_plain() -> None:
    odd = [4.0, 4.01, -0.0, 4.0 + 1e-9, 1e300, 4.02, float(2**70), 5e-324]
    batch = RecordBatch(DEVICE, tuple(_tick(i + 1, c) for i, c in enumerate(odd)))
    value = _round_trip(batch)
    (column,) = value["temperatures"]
    assert column["probes"] == ["air"]
    assert column["divisor"] == 100
    assert column["values"] == [[400, 1, 1]]
    plain = [record[6]["celsius"] for record in value["records"]]
    assert [str(c) for (c,) in plain] == [
        "-0.0",
        "4.000000001",
        "1e+300",
        str(float(2**70)),
        "5e-324",
    ]
    # Every reading is a CBOR double, plain or not.
    assert all(cbor2.dumps(c)[0] == 0xFB for (c,) in plain)


def test_the_divisor_follows_the_probes_resolution() -> None:
    tmp117 = [(k / 128, (k + 3) / 128) for k in range(500, 520)]
    milli = [(4.001, 3.5), (4.013, 3.501), (3.998, 3.499)]
    batch = RecordBatch(
        DEVICE,
        tuple(_tick(i + 1, *r, probes=("tmp-1", "tmp-2")) for i, r in enumerate(tmp117))
        + tuple(_tick(100 + i, *r, probes=("sim", "air")) for i, r in enumerate(milli)),
    )
    value = _round_trip(batch)
    assert [c["divisor"] for c in value["temperatures"]] == [128, 1000]
    assert value["temperatures"][0]["values"][1][:3] == [503, 1, 1]
    assert value["records"] == []


def test_a_column_holds_ticks_of_one_probe_set_epoch_and_clock_state() -> None:
    ticks = [
        _tick(1, 4.0, 3.9, 5.0, synced=False),
        _tick(2, 4.0, 3.9, 5.0),
        _tick(3, 4.1, 3.9, 5.0),
        _tick(4, 4.1, 5.0, probes=("air", "door")),  # the core probe faulted: left out
        _tick(5, 4.1, 3.9, 5.0),
        _tick(6, 4.1, probes=("door",)),
        _tick(1, 4.1, 3.9, 5.0, epoch=2),  # a restart: sequences go on, the epoch is new
        _tick(2, 4.1, 3.8, probes=("core", "air"), epoch=2),  # another order: another set
    ]
    value = _round_trip(
        RecordBatch(DEVICE, tuple(sorted(ticks, key=lambda e: (e.id.boot_epoch, e.id.sequence))))
    )
    keys = [(c["probes"], c["epoch"], c["synced"], c["seq"]) for c in value["temperatures"]]
    assert sorted(keys) == sorted(
        [
            (["air", "core", "door"], 1, False, [1]),
            (["air", "core", "door"], 1, True, [2, 1, 2]),
            (["air", "door"], 1, True, [4]),
            (["door"], 1, True, [6]),
            (["air", "core", "door"], 2, True, [1]),
            (["core", "air"], 2, True, [2]),
        ]
    )
    assert value["records"] == []


def test_a_probe_named_at_any_length_rides_in_a_column() -> None:
    """Probe names are payload text, of any length (only protocol fields stop at 1,024)."""
    probes = ("p" * 2000, "")
    value = _round_trip(RecordBatch(DEVICE, (_tick(1, 4.0, 4.5, probes=probes),)))
    assert value["temperatures"][0]["probes"] == list(probes)


def _column(**changes: Any) -> dict[str, Any]:
    column = two_probe_column()
    column.update(changes)
    return {
        "v": 2,
        "kind": "records",
        "device": DEVICE,
        "historical": True,
        "records": [],
        "temperatures": [column],
    }


def test_a_column_decodes_by_the_rules_of_the_protocol() -> None:
    batch = decode_message(cbor2.dumps(_column()), RECORDS)
    assert isinstance(batch, RecordBatch)
    assert [(e.id.sequence, e.monotonic_ns, e.wall_ns, e.payload) for e in batch.records] == [
        (5, 1000, 10**18 + 1000, TemperatureSample(("air", "core"), (4.0, 3.8))),
        (6, 1010, 10**18 + 1010, TemperatureSample(("air", "core"), (4.01, 3.8))),
        (7, 1020, 10**18 + 1020, TemperatureSample(("air", "core"), (4.0, 3.82))),
    ]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"values": [[400, 1, -1]]}, ImpossibleValue),
        ({"values": [[400, 1, -1], [380, 0, 2], [1, 1, 1]]}, ImpossibleValue),
        ({"values": []}, ImpossibleValue),
        ({"values": [[400, 1, -1], [380, 0]]}, ImpossibleValue),
        ({"values": [[400, 1], [380, 0]]}, ImpossibleValue),
        ({"values": [[400, 1, -1, 2], [380, 0, 2, 0]]}, ImpossibleValue),
        ({"seq": [], "mono": [], "wall": [], "values": [[], []]}, ImpossibleValue),
        ({"values": [400, 380]}, WrongType),
        ({"values": [[400, 1, -1], [380, 0, 2.0]]}, WrongType),
        ({"values": [[400, 1, -1], [380, 0, True]]}, WrongType),
        ({"values": [[400, 1, 2**64], [380, 0, 2]]}, ImpossibleValue),
        ({"values": [[2**64 - 1, 1, 0], [380, 0, 2]]}, ImpossibleValue),
        ({"probes": ["air", "air"]}, ImpossibleValue),
        ({"probes": [], "values": []}, ImpossibleValue),
        ({"probes": ["air", 3]}, WrongType),
        ({"probes": "air"}, WrongType),
        ({"probe": "air"}, UnexpectedField),
        ({"value": [400, 1, -1]}, UnexpectedField),
        ({"seq": [5, 0, 1]}, ImpossibleValue),
        ({"seq": [5, -1, 3]}, ImpossibleValue),
        ({"divisor": 0}, ImpossibleValue),
        ({"divisor": 1_000_001}, ImpossibleValue),
        ({"mono": [1000, -2000, 0]}, ImpossibleValue),
        ({"wall": [2**64 - 1, 0, 0]}, ImpossibleValue),
    ],
    ids=str,
)
def test_a_column_out_of_shape_is_refused(changes: dict[str, Any], error: type[Exception]) -> None:
    data = cbor2.dumps(_column(**changes))
    with pytest.raises(error) as raised:
        decode_message(data, RECORDS)
    assert raised.value.reason is RejectReason.MALFORMED  # type: ignore[attr-defined]
    with pytest.raises(error):
        decode_record_rows(data, RECORDS)


def test_a_column_without_its_values_is_refused() -> None:
    value = _column()
    del value["temperatures"][0]["values"]
    with pytest.raises(MissingField):
        decode_message(cbor2.dumps(value), RECORDS)


# --- batching --------------------------------------------------------------------------------


def test_batches_respect_count_and_byte_limits() -> None:
    records = [
        Event(RecordId(DEVICE, 1, i), 10**18 + i, i, True, DoorChanged("door-" + "x" * 200, True))
        for i in range(1, 101)
    ]
    packed = pack_batches(
        DEVICE, records, historical=True, limits=BatchLimits(max_records=30, max_bytes=2_000)
    )
    assert [e for p in packed for e in p.batch.records] == records
    for p in packed:
        assert len(p.batch.records) <= 30
        assert len(p.data) <= 2_000
        assert p.batch.historical
        assert decode_message(p.data, RECORDS) == p.batch
    # A record larger than max_bytes goes alone (a receiver takes up to MAX_MESSAGE_BYTES);
    # only one larger than any receiver accepts cannot be sent.
    (alone,) = pack_batches(
        DEVICE, records[:1], historical=False, limits=BatchLimits(max_bytes=100)
    )
    assert alone.batch.records == (records[0],)
    huge = Event(
        RecordId(DEVICE, 1, 1), 10**18, 1, True, DoorChanged("x" * MAX_MESSAGE_BYTES, True)
    )
    with pytest.raises(ValueError, match="alone encodes"):
        pack_batches(DEVICE, [huge], historical=False, limits=BatchLimits(max_bytes=100))


# --- bytes per temperature reading over a week of a 72-slot cabinet ---------------------------


def test_a_week_of_backlog_costs_at_most_12_bytes_per_temperature_reading() -> None:
    """Issue 3's target, per temperature sample in its sense: per probe reading."""
    records = list(week_of_records(DEVICE))
    assert len(records) == WEEK_OF_RECORDS
    packed = pack_batches(DEVICE, records, historical=True, limits=BatchLimits())
    total = sum(len(p.data) for p in packed)
    per_reading = total / WEEK_OF_READINGS
    print(  # noqa: T201
        f"\n{WEEK_OF_READINGS} temperature readings in {WEEK_OF_RECORDS} records, "
        f"{len(packed)} batches: {total} bytes, {per_reading:.2f} bytes per reading, "
        f"{total / WEEK_OF_RECORDS:.2f} per record"
    )
    assert per_reading <= 12
    for p in packed[:: len(packed) // 10]:
        assert decode_message(p.data, RECORDS) == p.batch
