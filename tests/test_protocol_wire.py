"""Topics, batching limits, and the compact temperature form: exact and small on the wire."""

from __future__ import annotations

from typing import Any

import cbor2
import pytest

from agent.events import DoorChanged, Event, RecordId, TemperatureSample
from agent.sync.protocol import (
    MAX_MESSAGE_BYTES,
    BatchLimits,
    InvalidIdentifier,
    InvalidTopic,
    RecordBatch,
    Topic,
    TopicKind,
    decode_message,
    encode_message,
    fleet_filter,
    pack_batches,
    parse_topic,
    shared_filter,
)
from hal_sim.backlog import WEEK_OF_READINGS, week_of_records

DEVICE = "cab-01"
RECORDS = Topic("site-1", DEVICE, TopicKind.RECORDS)


# --- topics ----------------------------------------------------------------------------------


def test_topics_build_and_parse_back() -> None:
    topic = Topic("site-1", DEVICE, TopicKind.RECORDS)
    assert str(topic) == "hemotrace/v1/site-1/cab-01/records"
    assert parse_topic(str(topic)) == topic
    assert str(topic.sibling(TopicKind.ACKS)) == "hemotrace/v1/site-1/cab-01/acks"
    assert fleet_filter(TopicKind.STATUS) == "hemotrace/v1/+/+/status"
    assert shared_filter(TopicKind.RECORDS) == "$share/receivers/hemotrace/v1/+/+/records"


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
        "hemotrace/v1/site-1/cab-01",
        "hemotrace/v1/site-1/cab-01/records/x",
        "hemotrace/v2/site-1/cab-01/records",
        "hemotrace/v1/site-1/cab-01/telemetry",
        "hemotrace/v1/+/cab-01/records",
        "hemotrace/v1//cab-01/records",
    ],
)
def test_foreign_topics_do_not_parse(name: str) -> None:
    with pytest.raises(InvalidTopic):
        parse_topic(name)


# --- the compact temperature form ----------------------------------------------------------


def _sample(seq: int, celsius: float, *, probe: str = "air", synced: bool = True) -> Event:
    mono = 10_000_000_000 * seq + 1_234 * (seq % 3)
    return Event(
        RecordId(DEVICE, 1, seq),
        mono + 1_700_000_000_000_000_000,
        mono,
        synced,
        TemperatureSample(probe, celsius),
    )


def _round_trip(batch: RecordBatch) -> dict[str, Any]:
    data = encode_message(batch)
    assert decode_message(data, RECORDS) == batch
    value = cbor2.loads(data)
    assert isinstance(value, dict)
    return value


def test_samples_the_compact_form_cannot_carry_exactly_travel_plain() -> None:
    odd = [4.0, 4.01, -0.0, 4.0 + 1e-9, 1e300, 4.02, float(2**70)]
    batch = RecordBatch(DEVICE, tuple(_sample(i + 1, c) for i, c in enumerate(odd)))
    value = _round_trip(batch)
    (column,) = value["temperatures"]
    assert column["divisor"] == 100
    assert column["value"] == [400, 1, 1]
    plain = [record[6]["celsius"] for record in value["records"]]
    assert [str(c) for c in plain] == ["-0.0", "4.000000001", "1e+300", str(float(2**70))]


def test_the_divisor_follows_the_probes_resolution() -> None:
    tmp117 = [k / 128 for k in range(500, 520)]
    milli = [4.001, 4.013, 3.998]
    batch = RecordBatch(
        DEVICE,
        tuple(_sample(i + 1, c, probe="tmp117") for i, c in enumerate(tmp117))
        + tuple(_sample(100 + i, c, probe="sim") for i, c in enumerate(milli)),
    )
    value = _round_trip(batch)
    assert [c["divisor"] for c in value["temperatures"]] == [128, 1000]
    assert value["records"] == []


def test_a_change_of_clock_state_starts_a_new_column() -> None:
    samples = [_sample(1, 4.0, synced=False), _sample(2, 4.0), _sample(3, 4.1)]
    value = _round_trip(RecordBatch(DEVICE, tuple(samples)))
    assert [c["synced"] for c in value["temperatures"]] == [False, True]


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


# --- bytes per temperature sample over a week of a 72-slot cabinet ----------------------------


def test_a_week_of_backlog_costs_at_most_12_bytes_per_temperature_sample() -> None:
    records = list(week_of_records(DEVICE))
    samples = WEEK_OF_READINGS
    packed = pack_batches(DEVICE, records, historical=True, limits=BatchLimits())
    total = sum(len(p.data) for p in packed)
    per_sample = total / samples
    print(  # noqa: T201
        f"\n{samples} temperature samples + {len(records) - samples} events in {len(packed)} "
        f"batches: {total} bytes, {per_sample:.2f} bytes per temperature sample"
    )
    assert per_sample <= 12
    for p in packed[:: len(packed) // 10]:
        assert decode_message(p.data, RECORDS) == p.batch
