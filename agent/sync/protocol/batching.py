"""Cutting records into batches no larger than the limits both ends agree on.

Keeps every batch decodable by a receiver with the same limits: no batch holds more than
``max_records`` records nor encodes to more than ``max_bytes`` bytes. A batch that encodes too
large is halved until its parts fit, so a burst of large records is split, never truncated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.events import Event
from agent.sync.protocol.envelope import MAX_MESSAGE_BYTES, encode_message
from agent.sync.protocol.records import RecordBatch

__all__ = ["BatchLimits", "PackedBatch", "pack_batches"]


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
    packed: list[PackedBatch] = []
    for start in range(0, len(records), limits.max_records):
        _pack(device, records[start : start + limits.max_records], historical, limits, packed)
    return packed


def _pack(
    device: str,
    records: Sequence[Event],
    historical: bool,
    limits: BatchLimits,
    into: list[PackedBatch],
) -> None:
    batch = RecordBatch(device=device, records=tuple(records), historical=historical)
    data = encode_message(batch)
    if len(data) <= limits.max_bytes:
        into.append(PackedBatch(batch, data))
        return
    if len(records) == 1:
        raise ValueError(
            f"record {records[0].id} alone encodes to {len(data)} bytes, "
            f"more than max_bytes {limits.max_bytes}"
        )
    half = len(records) // 2
    _pack(device, records[:half], historical, limits, into)
    _pack(device, records[half:], historical, limits, into)
