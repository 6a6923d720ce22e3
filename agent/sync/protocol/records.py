"""Record batches: the device's journal records going up to the hospital (invariants 3 and 7).

Every record keeps its full identity - the batch's device, the record's boot epoch and 64-bit
sequence - and its three facts about time, so the hospital can upsert it exactly once and
judge its timestamps. Records are held in ascending identity order, one of each, all of the
batch's device: a batch that breaks this cannot be built, sent or decoded.

On the wire, temperature samples travel in the compact columns of
:mod:`agent.sync.protocol.compact`; every other record (and any sample the compact form cannot
carry exactly) is a plain array ``[epoch, seq, type, wall_ns, mono_ns, synced, payload]``.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, ClassVar

from agent.events import Event, EventType, RecordId
from agent.payload_codec import PayloadDecodeError, decode_payload, encode_payload, payload_to_map
from agent.sync.protocol.compact import (
    decode_column,
    decode_column_rows,
    pack_stored_temperatures,
    pack_temperatures,
)
from agent.sync.protocol.errors import (
    BadPayload,
    ImpossibleValue,
    UnknownRecordType,
    WrongDevice,
    WrongType,
)
from agent.sync.protocol.fields import MAX_U64, Fields, as_array, as_text, as_uint
from agent.sync.protocol.topics import TopicKind, check_identifier
from agent.sync.protocol.wire import RecordRow, StoredRow, stored_payload_map

__all__ = ["RecordBatch", "RecordRows", "WireBatch"]

_EVENT_TYPES = frozenset(EventType)
_PLAIN_LENGTH = 7


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """Records of one device, in ascending (boot epoch, sequence) order, at least one.

    ``historical`` marks a batch of backlog (records that waited in the journal) as opposed to
    live records sent as they happen.
    """

    KIND: ClassVar[str] = "records"
    TOPIC: ClassVar[TopicKind] = TopicKind.RECORDS

    device: str
    records: tuple[Event, ...]
    historical: bool = False

    def __post_init__(self) -> None:
        check_identifier(self.device, "device")
        object.__setattr__(self, "records", tuple(self.records))
        if not self.records:
            raise ImpossibleValue("a batch holds at least one record")
        _check_keys(
            [
                (e.id.boot_epoch, e.id.sequence, e.wall_ns, e.monotonic_ns, e.id.device_id)
                for e in self.records
            ],
            self.device,
        )

    def to_fields(self) -> dict[str, Any]:
        """The message's fields (besides version and kind), ready for CBOR."""
        columns, plain = pack_temperatures(self.records)
        plain.sort(key=lambda event: (event.id.boot_epoch, event.id.sequence))
        return {
            "device": self.device,
            "historical": self.historical,
            "records": [_plain(event) for event in plain],
            "temperatures": columns,
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> RecordBatch:
        """The batch the fields describe; its records come out in ascending order."""
        device = check_identifier(fields.text("device"), "device")
        historical = fields.boolean("historical")
        plain = fields.array("records")
        columns = fields.array("temperatures")
        events = [
            _from_plain(item, device, f"{fields.where}.records[{i}]")
            for i, item in enumerate(plain)
        ]
        for i, column in enumerate(columns):
            events.extend(decode_column(column, device, f"{fields.where}.temperatures[{i}]"))
        events.sort(key=lambda event: (event.id.boot_epoch, event.id.sequence))
        return cls(device=device, records=tuple(events), historical=historical)


@dataclass(frozen=True, slots=True)
class WireBatch:
    """A :class:`RecordBatch` of :data:`~agent.sync.protocol.wire.StoredRow` s (the journal's
    outbox rows), for sending only: the same checks, and it encodes to exactly the bytes the
    same records as events would. The checks run over whole columns at once; a batch that
    fails them is looked at record by record for the error to raise."""

    KIND: ClassVar[str] = RecordBatch.KIND
    TOPIC: ClassVar[TopicKind] = RecordBatch.TOPIC

    device: str
    records: tuple[StoredRow, ...]
    historical: bool = False

    def __post_init__(self) -> None:
        check_identifier(self.device, "device")
        object.__setattr__(self, "records", tuple(self.records))
        if not self.records:
            raise ImpossibleValue("a batch holds at least one record")
        _check_stored(self.records, self.device)

    def to_fields(self) -> dict[str, Any]:
        """The message's fields (besides version and kind), ready for CBOR; a payload that
        :func:`~agent.payload_codec.decode_payload` refuses raises :class:`BadPayload`."""
        columns, plain = pack_stored_temperatures(self.records)
        plain.sort(key=_STORED_KEY)
        return {
            "device": self.device,
            "historical": self.historical,
            "records": list(map(_stored_plain, plain)),
            "temperatures": columns,
        }


@dataclass(frozen=True, slots=True)
class RecordRows:
    """A received batch as rows, for storing: what :meth:`RecordBatch.from_fields` checks,
    checked the same way (the same typed errors), without building events for the samples."""

    KIND: ClassVar[str] = RecordBatch.KIND
    TOPIC: ClassVar[TopicKind] = RecordBatch.TOPIC

    device: str
    rows: tuple[RecordRow, ...]
    historical: bool

    @classmethod
    def from_fields(cls, fields: Fields) -> RecordRows:
        """The batch the fields describe; its rows come out in ascending order."""
        device = check_identifier(fields.text("device"), "device")
        historical = fields.boolean("historical")
        plain = fields.array("records")
        columns = fields.array("temperatures")
        rows: list[RecordRow] = []
        for i, item in enumerate(plain):
            event = _from_plain(item, device, f"{fields.where}.records[{i}]")
            rows.append(
                (
                    event.id.boot_epoch,
                    event.id.sequence,
                    event.type.value,
                    event.wall_ns,
                    event.monotonic_ns,
                    event.clock_synchronised,
                    encode_payload(event.payload),
                )
            )
        for i, column in enumerate(columns):
            rows.extend(decode_column_rows(column, f"{fields.where}.temperatures[{i}]"))
        if not rows:
            raise ImpossibleValue("a batch holds at least one record")
        # Every number was checked by its decoder; left to check: one of each identity.
        rows.sort(key=_ROW_KEY)
        keys = list(map(_ROW_KEY, rows))
        if not all(map(operator.lt, keys, keys[1:])):
            _check_keys([(r[0], r[1], r[3], r[4], device) for r in rows], device)
        return cls(device=device, rows=tuple(rows), historical=historical)

    def keys(self) -> list[tuple[int, int]]:
        """The rows' (epoch, sequence), ascending."""
        return list(map(_ROW_KEY, self.rows))


_ROW_KEY = operator.itemgetter(0, 1)
"""A :data:`RecordRow`'s (epoch, sequence)."""
_STORED_KEY = operator.itemgetter(1, 0)
"""A :data:`StoredRow`'s (epoch, sequence)."""


def _check_stored(rows: tuple[StoredRow, ...], device: str) -> None:
    """What :class:`RecordBatch` checks of its events, for stored rows: seven items each, a
    known type, ``synced`` a boolean (or 0/1), the payload bytes, and :func:`_check_keys`."""
    if {*map(len, rows)} != {_PLAIN_LENGTH}:
        raise WrongType(f"a stored row has {_PLAIN_LENGTH} items")
    sequences, epochs, kinds, walls, monos, synced, payloads = zip(*rows, strict=True)
    if {*map(type, kinds)} != {str} or not _EVENT_TYPES.issuperset(kinds):
        bad = next(r for r in rows if type(r[2]) is not str or r[2] not in _EVENT_TYPES)
        raise UnknownRecordType(f"record {bad[1]}/{bad[0]}: unknown type {bad[2]!r}")
    if not ({*map(type, synced)} <= {bool, int} and {*synced} <= {0, 1}) or (
        {*map(type, payloads)} != {bytes}
    ):
        raise WrongType("a stored row's synced is a boolean (or 0/1), its payload bytes")
    if not (
        all(map(_u64s, (epochs, sequences, walls, monos)))
        and all(map(operator.lt, sequences, sequences[1:]))
        and all(map(operator.le, epochs, epochs[1:]))
    ):
        devices = [device] * len(rows)
        _check_keys(list(zip(epochs, sequences, walls, monos, devices, strict=True)), device)


def _u64s(numbers: tuple[int, ...]) -> bool:
    """Whether every item is an integer (not a boolean) in 0 … 2^64-1."""
    return {*map(type, numbers)} == {int} and min(numbers) >= 0 and max(numbers) <= MAX_U64


def _check_keys(records: list[tuple[int, int, int, int, str]], device: str) -> None:
    """Every record (epoch, sequence, wall, mono, device) of ``device``, its numbers u64 (the
    sequence's is the identity's own check), in ascending (epoch, sequence) order, one of each."""
    previous: tuple[int, int] | None = None
    for epoch, sequence, wall, mono, record_device in records:
        if record_device != device:
            raise WrongDevice(f"record {record_device}/{epoch}/{sequence} is not of {device!r}")
        if not (
            type(epoch) is int
            and type(wall) is int
            and type(mono) is int
            and type(sequence) is int
            and 0 <= epoch <= MAX_U64
            and 0 <= wall <= MAX_U64
            and 0 <= mono <= MAX_U64
            and 0 <= sequence <= MAX_U64
        ):
            where = f"record {device}/{epoch}/{sequence}"
            as_uint(sequence, f"{where} sequence")
            as_uint(epoch, f"{where} boot epoch")
            as_uint(wall, f"{where} wall_ns")
            as_uint(mono, f"{where} mono_ns")
        key = (epoch, sequence)
        if previous is not None and key <= previous:
            raise ImpossibleValue(
                f"records must be in ascending (epoch, sequence) order, one of each: "
                f"{previous} then {key}"
            )
        previous = key


def _stored_plain(row: StoredRow) -> list[Any]:
    sequence, epoch, kind, wall, mono, synced, _ = row
    return [epoch, sequence, kind, wall, mono, bool(synced), stored_payload_map(row)]


def _plain(event: Event) -> list[Any]:
    return [
        event.id.boot_epoch,
        event.id.sequence,
        str(event.type),
        event.wall_ns,
        event.monotonic_ns,
        event.clock_synchronised,
        payload_to_map(event.payload),
    ]


def _from_plain(value: object, device: str, where: str) -> Event:
    item = as_array(value, where)
    if len(item) != _PLAIN_LENGTH:
        raise ImpossibleValue(f"{where}: a record has {_PLAIN_LENGTH} items, found {len(item)}")
    epoch, sequence, kind, wall, mono, synchronised, payload = item
    event_type = as_text(kind, f"{where} type")
    if event_type not in _EVENT_TYPES:
        raise UnknownRecordType(f"{where}: unknown record type {event_type!r}")
    if type(synchronised) is not bool:
        raise WrongType(f"{where}: synced must be a boolean")
    if type(payload) is not dict:
        raise WrongType(f"{where}: the payload must be a map")
    try:
        decoded = decode_payload(event_type, payload)
    except PayloadDecodeError as error:
        raise BadPayload(f"{where}: {error}") from None
    return Event(
        id=RecordId(
            device,
            as_uint(epoch, f"{where} epoch"),
            as_uint(sequence, f"{where} seq"),
        ),
        wall_ns=as_uint(wall, f"{where} wall_ns"),
        monotonic_ns=as_uint(mono, f"{where} mono_ns"),
        clock_synchronised=synchronised,
        payload=decoded,
    )
