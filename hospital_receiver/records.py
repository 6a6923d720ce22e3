"""What the receiver stores: one device record, as it arrived (and a batch of them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

from agent.sync.protocol import RecordRow

__all__ = ["Identity", "StoredRecord", "StoredRecords"]


@dataclass(frozen=True, slots=True, order=True)
class Identity:
    """A record's identity across the fleet; the database's primary key."""

    device: str
    boot_epoch: int
    sequence: int


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One record of one device: identity, type, the device's time facts, the payload as the
    device encoded it (CBOR), and whether it came from the device's backlog."""

    identity: Identity
    type: str
    wall_ns: int
    monotonic_ns: int
    clock_synchronised: bool
    payload: bytes
    historical: bool


class StoredRecords(Sequence[StoredRecord]):
    """The records of one received batch to store, kept as the decoded rows: a store that
    knows them takes :attr:`rows` as they are, any other reads them as :class:`StoredRecord` s
    (built when read)."""

    __slots__ = ("_rows", "device", "historical")

    def __init__(self, device: str, historical: bool, rows: Sequence[RecordRow]) -> None:
        self.device = device
        self.historical = historical
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> StoredRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[StoredRecord]: ...

    def __getitem__(self, index: int | slice) -> StoredRecord | list[StoredRecord]:
        if isinstance(index, slice):
            return [self._record(row) for row in self._rows[index]]
        return self._record(self._rows[index])

    def _record(self, row: RecordRow) -> StoredRecord:
        epoch, sequence, kind, wall_ns, mono_ns, synced, payload = row
        return StoredRecord(
            identity=Identity(self.device, epoch, sequence),
            type=kind,
            wall_ns=wall_ns,
            monotonic_ns=mono_ns,
            clock_synchronised=synced,
            payload=payload,
            historical=self.historical,
        )

    @property
    def rows(self) -> Sequence[RecordRow]:
        """The decoded rows, ascending: (boot epoch, sequence, type, wall ns, monotonic ns,
        clock synchronised, payload); the batch gives ``device`` and ``historical``."""
        return self._rows
