"""The SQL shared by the SQLite and PostgreSQL stores.

Both backends hold the same two tables: ``records`` (primary key device, boot epoch, sequence;
first copy wins) and ``device_progress`` (per device, the highest sequence below which nothing
is missing, and the highest stored). A commit inserts the new records and advances the progress
in one transaction. Sequences are stored as signed 64-bit integers: the receiver refuses a
sequence above 2**63 - 1 (a device appending a million records a second reaches it in 292,000
years).
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from agent.sync.protocol import RecordRow
from hospital_receiver.records import Identity, StoredRecord, StoredRecords
from hospital_receiver.store import CommitResult, DeviceProgress, Query

__all__ = ["MAX_STORED_SEQUENCE", "SequenceOutOfRange", "SqlStore"]

MAX_STORED_SEQUENCE = 2**63 - 1


class SequenceOutOfRange(ValueError):
    """A record whose sequence the database cannot hold."""


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


_INSERT_NEW = (
    "INSERT INTO records (device, boot_epoch, sequence, type, wall_ns, monotonic_ns,"
    " clock_synchronised, payload, historical) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (device, boot_epoch, sequence) DO NOTHING"
)
"""Insert a record unless its identity is stored: the first copy wins."""


class SqlStore(abc.ABC):
    """A :class:`~hospital_receiver.store.RecordStore` over a DB-API connection.

    Subclasses give the connection, the placeholder (``?`` or ``%s``), the schema, and a
    transaction context.
    """

    placeholder = "?"
    schema: tuple[str, ...] = ()

    def __init__(self, connection: Any) -> None:
        self._db = connection
        with self._transaction() as cursor:
            for statement in self.schema:
                cursor.execute(self._sql(statement))

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self.placeholder)

    @abc.abstractmethod
    def _transaction(self) -> contextlib.AbstractContextManager[Any]:
        """A cursor inside one transaction, committed on success, rolled back on error."""

    def commit(self, records: Sequence[StoredRecord]) -> CommitResult:
        groups = _groups(records)
        runs: dict[str, tuple[int, int] | None] = {}
        for device, _, rows in groups:
            sequences = [row[1] for row in rows]
            runs[device] = _run(sequences) if device not in runs else None
            if min(sequences) < 0 or max(sequences) > MAX_STORED_SEQUENCE:
                epoch, sequence = next(
                    row[:2] for row in rows if not 0 <= row[1] <= MAX_STORED_SEQUENCE
                )
                raise SequenceOutOfRange(
                    f"{Identity(device, epoch, sequence)}: sequence outside"
                    f" 0..{MAX_STORED_SEQUENCE}"
                )
        with self._transaction() as cursor:
            inserted = sum(
                self._insert(cursor, device, historical, rows)
                for device, historical, rows in groups
            )
            for device in sorted(runs):
                self._advance(cursor, device, runs[device])
        return CommitResult(inserted=inserted, duplicates=len(records) - inserted)

    def _insert(self, cursor: Any, device: str, historical: bool, rows: Sequence[RecordRow]) -> int:
        """Insert the rows of ``device`` not stored yet (one statement, many parameter sets);
        how many."""
        cursor.executemany(self._sql(_INSERT_NEW), [(device, *row, historical) for row in rows])
        return max(int(cursor.rowcount), 0)

    def _advance(self, cursor: Cursor, device: str, run: tuple[int, int] | None) -> None:
        """Move ``device``'s progress past every sequence now stored without a hole. ``run``:
        the first and last sequence of the records just stored if they are consecutive - every
        sequence in it is stored now, so the search for the first hole need not walk it."""
        cursor.execute(
            self._sql("SELECT contiguous_through FROM device_progress WHERE device = ?"),
            (device,),
        )
        row = cursor.fetchone()
        contiguous = -1 if row is None else int(row[0])
        if run is not None and run[0] <= contiguous + 1 <= run[1]:
            contiguous = run[1] - 1
        cursor.execute(
            self._sql("SELECT 1 FROM records WHERE device = ? AND sequence = ? LIMIT 1"),
            (device, contiguous + 1),
        )
        if cursor.fetchone() is not None:
            cursor.execute(
                self._sql(
                    "SELECT r.sequence FROM records r WHERE r.device = ? AND r.sequence > ?"
                    " AND NOT EXISTS (SELECT 1 FROM records n WHERE n.device = r.device"
                    " AND n.sequence = r.sequence + 1) ORDER BY r.sequence LIMIT 1"
                ),
                (device, contiguous),
            )
            contiguous = int(cursor.fetchone()[0])
        cursor.execute(self._sql("SELECT MAX(sequence) FROM records WHERE device = ?"), (device,))
        highest = cursor.fetchone()[0]
        cursor.execute(
            self._sql(
                "INSERT INTO device_progress (device, contiguous_through, highest)"
                " VALUES (?, ?, ?) ON CONFLICT (device) DO UPDATE SET"
                " contiguous_through = excluded.contiguous_through, highest = excluded.highest"
            ),
            (device, contiguous, -1 if highest is None else int(highest)),
        )

    def progress(self, device: str) -> DeviceProgress:
        with self._transaction() as cursor:
            cursor.execute(
                self._sql(
                    "SELECT contiguous_through, highest FROM device_progress WHERE device = ?"
                ),
                (device,),
            )
            row = cursor.fetchone()
        if row is None:
            return DeviceProgress(device, contiguous_through=-1, highest=-1)
        return DeviceProgress(device, contiguous_through=int(row[0]), highest=int(row[1]))

    def find(self, query: Query) -> list[StoredRecord]:
        clauses, params = _where(query)
        # The clauses name fixed columns; every value is a parameter.
        sql = (
            "SELECT device, boot_epoch, sequence, type, wall_ns, monotonic_ns,"  # noqa: S608
            " clock_synchronised, payload, historical FROM records"
            f"{clauses} ORDER BY device, sequence LIMIT ?"
        )
        with self._transaction() as cursor:
            cursor.execute(self._sql(sql), (*params, query.limit))
            rows = cursor.fetchall()
        return [_record(row) for row in rows]

    def identities(self, device: str) -> list[Identity]:
        with self._transaction() as cursor:
            cursor.execute(
                self._sql(
                    "SELECT boot_epoch, sequence FROM records WHERE device = ? ORDER BY sequence"
                ),
                (device,),
            )
            rows = cursor.fetchall()
        return [Identity(device, int(epoch), int(sequence)) for epoch, sequence in rows]

    def close(self) -> None:
        self._db.close()


def _run(sequences: list[int]) -> tuple[int, int] | None:
    """The first and last of ``sequences`` when they are consecutive ascending, else None."""
    first = sequences[0]
    if sequences != list(range(first, first + len(sequences))):
        return None
    return first, sequences[-1]


def _groups(records: Sequence[StoredRecord]) -> list[tuple[str, bool, Sequence[RecordRow]]]:
    """``records`` as runs of one device and one ``historical`` flag, each with its rows
    (a received batch is one run, taken as it was decoded)."""
    if isinstance(records, StoredRecords):
        return [(records.device, records.historical, records.rows)] if records else []
    groups: list[tuple[str, bool, list[RecordRow]]] = []
    for record in records:
        identity = record.identity
        if not groups or groups[-1][:2] != (identity.device, record.historical):
            groups.append((identity.device, record.historical, []))
        groups[-1][2].append(
            (
                identity.boot_epoch,
                identity.sequence,
                record.type,
                record.wall_ns,
                record.monotonic_ns,
                record.clock_synchronised,
                record.payload,
            )
        )
    return list(groups)


def _record(row: Iterable[Any]) -> StoredRecord:
    device, epoch, sequence, kind, wall, mono, synced, payload, historical = row
    return StoredRecord(
        identity=Identity(device, int(epoch), int(sequence)),
        type=kind,
        wall_ns=int(wall),
        monotonic_ns=int(mono),
        clock_synchronised=bool(synced),
        payload=bytes(payload),
        historical=bool(historical),
    )


def _where(query: Query) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    for column, operator, value in (
        ("device", "=", query.device),
        ("type", "=", query.type),
        ("wall_ns", ">=", query.since_ns),
        ("wall_ns", "<", query.until_ns),
    ):
        if value is not None:
            clauses.append(f"{column} {operator} ?")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
