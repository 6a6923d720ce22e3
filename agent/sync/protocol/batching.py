"""Cutting records into batches no larger than the limits both ends agree on.

Keeps every batch decodable by a receiver with the same limits: no batch holds more than
``max_records`` records nor encodes to more than ``max_bytes`` bytes. A batch that encodes too
large is halved until its parts fit, so a burst of large records is split, never truncated; a
single record larger than ``max_bytes`` (a whole badge list) goes alone, up to the largest
message any receiver accepts (``MAX_MESSAGE_BYTES``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from agent.events import Event
from agent.sync.protocol.envelope import MAX_MESSAGE_BYTES, encode_message
from agent.sync.protocol.records import RecordBatch, WireBatch
from agent.sync.protocol.wire import StoredRow

__all__ = ["BatchLimits", "PackedBatch", "PackedWireBatch", "pack_batches", "pack_wire_batches"]

_R = TypeVar("_R", Event, StoredRow)
_B = TypeVar("_B", RecordBatch, WireBatch)


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """Bounds on one batch; ``max_bytes`` may not exceed the decoders' default limit."""

    max_records: int = 1000
    max_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        if self.max_records < 1:
            raise ValueError(f"max_records must be >= 1, got {self.max_records}")
        if not 1 <= self.max_bytes <= MAX_MESSAGE_BYTES:
            raise ValueError(f"max_bytes must be in [1, {MAX_MESSAGE_BYTES}], got {self.max_bytes}")


@dataclass(frozen=True, slots=True)
class PackedBatch:
    """A batch and its encoding, ready to publish."""

    batch: RecordBatch
    data: bytes


def pack_batches(
    device: str,
    records: Sequence[Event],
    *,
    historical: bool,
    limits: BatchLimits,
) -> list[PackedBatch]:
    """``records`` (ascending, of ``device``) as consecutive batches within ``limits``.

    Raises ``ValueError`` if a single record alone encodes to more than ``max_bytes``.
    """
    packed = _cut(RecordBatch, device, records, historical, limits)
    return [PackedBatch(batch, data) for batch, data in packed]


@dataclass(frozen=True, slots=True)
class PackedWireBatch:
    """A batch of stored rows and its encoding, ready to publish."""

    batch: WireBatch
    data: bytes


def pack_wire_batches(
    device: str,
    records: Sequence[StoredRow],
    *,
    historical: bool,
    limits: BatchLimits,
) -> list[PackedWireBatch]:
    """:func:`pack_batches` for the journal's stored rows: the same batches, encoded to the
    same bytes."""
    packed = _cut(WireBatch, device, records, historical, limits)
    return [PackedWireBatch(batch, data) for batch, data in packed]


def _cut(
    make: Callable[..., _B],
    device: str,
    records: Sequence[_R],
    historical: bool,
    limits: BatchLimits,
) -> list[tuple[_B, bytes]]:
    packed: list[tuple[_B, bytes]] = []
    for start in range(0, len(records), limits.max_records):
        chunk = records[start : start + limits.max_records]
        _pack(make, device, chunk, limits, historical=historical, into=packed)
    return packed


def _pack(
    make: Callable[..., _B],
    device: str,
    records: Sequence[_R],
    limits: BatchLimits,
    *,
    historical: bool,
    into: list[tuple[_B, bytes]],
) -> None:
    batch = make(device=device, records=tuple(records), historical=historical)
    data = encode_message(batch)
    if len(data) <= limits.max_bytes:
        into.append((batch, data))
        return
    if len(records) == 1:
        if len(data) <= MAX_MESSAGE_BYTES:
            into.append((batch, data))  # a large record (a badge list) goes alone
            return
        raise ValueError(
            f"record {_describe(device, records[0])} alone encodes to {len(data)} bytes, "
            f"more than any receiver accepts ({MAX_MESSAGE_BYTES})"
        )
    half = len(records) // 2
    _pack(make, device, records[:half], limits, historical=historical, into=into)
    _pack(make, device, records[half:], limits, historical=historical, into=into)


def _describe(device: str, record: Event | StoredRow) -> str:
    if isinstance(record, Event):
        return str(record.id)
    return f"{device}/{record[1]}/{record[0]}"
