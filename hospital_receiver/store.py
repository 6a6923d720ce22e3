"""The receiver's database, behind one interface with a SQLite and a PostgreSQL backend.

The rule the whole protocol rests on: :meth:`RecordStore.commit` returns only after the
records are committed, and a record already stored is left as it was (records are immutable,
so the first copy wins and a resend changes nothing - exactly-once in effect, invariant 3).
The caller acknowledges to the device only after ``commit`` returned.

The store also keeps, per device, the highest sequence below which nothing is missing
(``contiguous_through``), from which the receiver detects gaps and asks for a resync.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from hospital_receiver.records import Identity, StoredRecord

__all__ = ["CommitResult", "DeviceProgress", "Query", "RecordStore"]


@dataclass(frozen=True, slots=True)
class CommitResult:
    """What one commit did: records newly stored and records that were already there."""

    inserted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class DeviceProgress:
    """How complete a device's record is: every sequence up to ``contiguous_through`` is
    stored (-1: not even sequence 0); ``highest`` is the highest stored."""

    device: str
    contiguous_through: int
    highest: int

    @property
    def has_gap(self) -> bool:
        return self.highest > self.contiguous_through


@dataclass(frozen=True, slots=True)
class Query:
    """A search of stored records; every criterion is optional. Times are device wall-clock
    nanoseconds; ``until_ns`` is exclusive."""

    device: str | None = None
    type: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    limit: int = 1000


class RecordStore(Protocol):
    """A database of device records. Methods block (call them from a worker thread)."""

    def commit(self, records: Sequence[StoredRecord]) -> CommitResult:
        """Insert the records that are not stored yet, in one transaction, and commit it."""
        ...

    def progress(self, device: str) -> DeviceProgress:
        """How complete ``device``'s record is."""
        ...

    def find(self, query: Query) -> list[StoredRecord]:
        """Stored records matching ``query``, by device then sequence."""
        ...

    def identities(self, device: str) -> list[Identity]:
        """Every stored identity of ``device``, in sequence order (for audits and tests)."""
        ...

    def close(self) -> None: ...
