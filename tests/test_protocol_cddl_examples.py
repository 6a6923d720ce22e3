"""The examples of docs/protocol.md are true: each message is valid by the CDDL and decodes to
what the text says, and the worked records example is what the device sends, byte for byte.

An integrator writes a receiver from the document alone; these tests keep its examples, its
table of the example's records and its byte-by-byte column in step with the implementation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings

from agent.events import Event, RecordId, TemperatureSample
from agent.payload_codec import decode_payload, payload_to_map
from agent.sync.protocol import (
    CONTENT_TYPE,
    TOPIC_ROOT,
    BadPayload,
    RecordBatch,
    Topic,
    TopicKind,
    UnsupportedVersion,
    decode_message,
    decode_record_rows,
    encode_message,
    fleet_filter,
    shared_filter,
)
from tests.test_protocol_messages import cddl_rule, validate_cddl
from tests.test_protocol_strategies import batches

DOC = (Path(__file__).parent.parent / "docs" / "protocol.md").read_text()
_TOPIC_KINDS = {
    "birth": TopicKind.STATUS,
    "death": TopicKind.STATUS,
    "records": TopicKind.RECORDS,
    "ack": TopicKind.ACKS,
    "command": TopicKind.COMMANDS,
    "reply": TopicKind.REPLIES,
}


def _code_blocks() -> list[str]:
    """The document's indented code blocks (runs of lines indented by 4), unindented."""
    blocks: list[list[str]] = [[]]
    for line in DOC.splitlines():
        if line.startswith("    "):
            blocks[-1].append(line[4:])
        elif blocks[-1]:
            blocks.append([])
    return ["\n".join(block) for block in blocks if block]


def _values(block: str) -> list[Any]:
    """The diagnostic-notation items of ``block`` (JSON, with ``h'...'`` byte strings)."""
    text = re.sub(r"h'([0-9a-f]*)'", r'{"__hex__": "\1"}', block)
    decoder = json.JSONDecoder(
        object_hook=lambda o: bytes.fromhex(o["__hex__"]) if set(o) == {"__hex__"} else o
    )
    values, at = [], 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        value, at = decoder.raw_decode(text, at)
        values.append(value)
    return values


def _messages() -> list[dict[str, Any]]:
    return [
        value for block in _code_blocks() if block.startswith('{"v": ') for value in _values(block)
    ]


MESSAGES = _messages()


def test_the_document_has_an_example_of_every_kind_in_version_2() -> None:
    assert {m["kind"] for m in MESSAGES} == set(_TOPIC_KINDS)
    assert {m["v"] for m in MESSAGES} == {2}


@pytest.mark.parametrize("value", MESSAGES, ids=lambda m: f"{m['kind']}")
def test_every_example_message_is_valid_and_decodes_to_itself(value: dict[str, Any]) -> None:
    data = cbor2.dumps(value)
    validate_cddl(data)
    site = value.get("site", "stmary")
    message = decode_message(data, Topic(site, value["device"], _TOPIC_KINDS[value["kind"]]))
    assert cbor2.loads(encode_message(message)) == value


def _worked_example() -> dict[str, Any]:
    (batch,) = [m for m in MESSAGES if m["kind"] == "records"]
    return batch


def _table_after(marker: str) -> list[list[str]]:
    """The rows of the first Markdown table after ``marker``, as cells."""
    lines = DOC[DOC.index(marker) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_worked_example_stands_for_the_records_of_its_table() -> None:
    value = _worked_example()
    data = cbor2.dumps(value)
    topic = Topic("stmary", value["device"], TopicKind.RECORDS)
    batch = decode_message(data, topic)
    assert isinstance(batch, RecordBatch)
    table = [
        (int(epoch), int(seq), kind, int(mono), int(wall), json.loads(payload.strip("`")))
        for epoch, seq, kind, mono, wall, payload in _table_after("it stands for the records")
    ]
    assert table == [
        (
            e.id.boot_epoch,
            e.id.sequence,
            e.type.value,
            e.monotonic_ns,
            e.wall_ns,
            payload_to_map(e.payload),
        )
        for e in batch.records
    ]
    # What the device sends for these records is the example, byte for byte.
    assert encode_message(batch) == data
    (size,) = re.findall(r"This batch is ([0-9,]+) bytes", DOC)
    assert len(data) == int(size.replace(",", ""))
    assert [row[0:2] for row in decode_record_rows(data, topic).rows] == [
        (3, 1041),
        (3, 1042),
        (3, 1043),
        (3, 1044),
    ]


def test_the_column_byte_by_byte_is_the_examples() -> None:
    column = _worked_example()["temperatures"][0]
    (block,) = [b for b in _code_blocks() if b.startswith("probes ")]
    fields: dict[str, str] = {}
    name = ""
    for line in block.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if not line.startswith(" "):
            name, _, hex_bytes = cells[0].partition(" ")
            cells = [hex_bytes.strip() or cells[1], *cells[1:]]
        assert re.fullmatch(r"[0-9a-f]{2}( [0-9a-f]{2})*", cells[0]), line
        fields[name] = fields.get(name, "") + cells[0].replace(" ", "")
    assert list(fields) == list(column)
    for key, hex_bytes in fields.items():
        assert cbor2.dumps(column[key]).hex() == hex_bytes, key


def test_the_example_tick_and_plain_tick_are_valid_and_the_plain_one_cannot_be_a_column() -> None:
    (payload,) = [v for b in _code_blocks() if b.startswith('{"probes"') for v in _values(b)]
    cddl_rule("temperature-sample").validate_cbor(cbor2.dumps(payload))
    tick = decode_payload("temperature_sample", payload)
    assert isinstance(tick, TemperatureSample)
    assert len(tick.probes) == 3
    (record,) = [v for b in _code_blocks() if b.startswith("[3, ") for v in _values(b)]
    cddl_rule("plain-record").validate_cbor(cbor2.dumps(record))
    epoch, seq, kind, wall, mono, synced, fields = record
    event = Event(RecordId("cab-01", epoch, seq), wall, mono, synced, decode_payload(kind, fields))
    sent = cbor2.loads(encode_message(RecordBatch("cab-01", (event,))))
    assert sent["temperatures"] == []
    assert sent["records"] == [record]


def test_what_the_document_says_of_version_1_holds() -> None:
    """A version 1 message is refused as unsupported; a version 1 sample in a version 2 batch
    is malformed; an old journal record goes up as that probe's tick."""
    assert "hemotrace/v1" not in DOC.replace("`hemotrace/v1/...`", "")
    version_1 = _worked_example() | {"v": 1}
    topic = Topic("stmary", "cab-01", TopicKind.RECORDS)
    with pytest.raises(UnsupportedVersion):
        decode_message(cbor2.dumps(version_1), topic)
    old, new = re.findall(r"`(\{\"probe[^`]*\})`", DOC[DOC.index("## 8. Changes") :])[-2:]
    legacy = _worked_example() | {
        "records": [[3, 1045, "temperature_sample", 1, 1, True, json.loads(old)]]
    }
    with pytest.raises(BadPayload):
        decode_message(cbor2.dumps(legacy), topic)
    tick = decode_payload("temperature_sample", cbor2.dumps(json.loads(old)))
    assert payload_to_map(tick) == json.loads(new)


def test_the_documents_topics_and_content_type_are_the_implementations() -> None:
    (filters,) = [b for b in _code_blocks() if b.startswith("$share/")]
    assert filters.splitlines() == [
        shared_filter(TopicKind.RECORDS),
        shared_filter(TopicKind.REPLIES),
    ]
    assert f"`{fleet_filter(TopicKind.STATUS)}`" in DOC
    assert f"| Content Type | `{CONTENT_TYPE}` |" in DOC
    assert f"All topics are `{TOPIC_ROOT}/{{site}}/{{device}}/{{kind}}`" in DOC


def _rebuild(column: dict[str, Any]) -> list[tuple[int, int, int, int, bool, dict[str, Any]]]:
    """A column's records by the document's algorithm (5.1), written from its text alone:
    (epoch, sequence, wall_ns, mono_ns, synced, payload)."""
    probes, divisor = column["probes"], column["divisor"]
    sequence = mono_ns = step = offset = 0
    numerator = [0] * len(probes)
    records = []
    for i in range(len(column["seq"])):
        sequence += column["seq"][i]
        if i == 0:
            mono_ns = column["mono"][0]
        elif i == 1:
            step = column["mono"][1]
            mono_ns += step
        else:
            step += column["mono"][i]
            mono_ns += step
        offset += column["wall"][i]
        for j in range(len(probes)):
            numerator[j] += column["values"][j][i]
        payload = {"probes": probes, "celsius": [n / divisor for n in numerator]}
        records.append(
            (column["epoch"], sequence, mono_ns + offset, mono_ns, column["synced"], payload)
        )
    return records


@settings(max_examples=200, deadline=None)
@given(batches())
def test_a_receiver_written_from_the_document_reads_what_the_device_sends(
    batch: RecordBatch,
) -> None:
    value = cbor2.loads(encode_message(batch))
    records = [
        (epoch, seq, wall, mono, synced, payload)
        for epoch, seq, _, wall, mono, synced, payload in value["records"]
    ]
    for column in value["temperatures"]:
        records += _rebuild(column)
    records.sort(key=lambda r: (r[0], r[1]))
    assert records == [
        (
            e.id.boot_epoch,
            e.id.sequence,
            e.wall_ns,
            e.monotonic_ns,
            e.clock_synchronised,
            payload_to_map(e.payload),
        )
        for e in batch.records
    ]
