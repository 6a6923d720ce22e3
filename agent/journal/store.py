"""The journal's database operations, run only on the journal's own thread.

Keeps invariant 2 of the brief: every change is one explicit transaction that is either
committed (``synchronous=FULL``: on stable storage) or rolled back; a failure is raised as
:class:`JournalUnavailable` only after the rollback, so a caller is never told that something
is committed that is not. A record leaves the outbox only through :meth:`JournalStore.acknowledge`.

Nothing here may be called from the event loop: :class:`~agent.journal.journal.Journal` sends
every call to the single worker thread that owns the connection.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

from agent.journal.errors import from_database_error
from agent.journal.records import PendingRow, RecordClass, Row, StoredRecord
from agent.journal.schema import open_file

__all__ = ["JournalStore"]

T = TypeVar("T")

_INSERT_INTO = (
    "INSERT INTO records (sequence, boot_epoch, type, class, wall_ns, monotonic_ns,"
    " clock_synchronised, series, payload) VALUES "
)
_INSERT = _INSERT_INTO + "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
_GROUPS = tuple(
    (size, _INSERT_INTO + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * size)) for size in (64, 8)
)
"""Multi-row INSERT statements: a batch goes in as groups of 64 rows, then 8, then single rows.
One statement per group binds all its rows and steps once, so the database thread gives the
interpreter lock back and takes it again once per group instead of once per row (the event
loop runs meanwhile), and SQLite parses nothing new (three statements, always cached)."""
_COLUMNS = (
    "sequence, boot_epoch, type, class, wall_ns, monotonic_ns, clock_synchronised, payload,"
    " acknowledged_wall_ns"
)
_OUTBOX_COLUMNS = "sequence, boot_epoch, type, wall_ns, monotonic_ns, clock_synchronised, payload"
"""The columns of a :data:`~agent.journal.records.PendingRow`, in its order."""


def _insert(connection: sqlite3.Connection, rows: Sequence[Row]) -> None:
    """Insert ``rows`` in order, in groups (see ``_GROUPS``)."""
    start = 0
    for size, statement in _GROUPS:
        groups = (len(rows) - start) // size
        if groups:
            connection.executemany(
                statement,
                [
                    tuple(chain.from_iterable(rows[at : at + size]))
                    for at in range(start, start + groups * size, size)
                ],
            )
            start += groups * size
    if start < len(rows):
        connection.executemany(_INSERT, rows[start:])


def _spans(sequences: Sequence[int]) -> list[tuple[int, int]]:
    """Ascending distinct ``sequences`` as the fewest (first, last) runs of consecutive ones:
    a drained batch is one run, so acknowledging it is one ``UPDATE`` that SQLite carries out
    without going back to the interpreter for each row."""
    spans: list[tuple[int, int]] = []
    first = last = sequences[0]
    for sequence in sequences[1:]:
        if sequence != last + 1:
            spans.append((first, last))
            first = sequence
        last = sequence
    spans.append((first, last))
    return spans


class JournalStore:
    """One open journal file and the operations on it (not thread-safe: one thread only)."""

    def __init__(self, path: Path, device_id: str, hard_limit_bytes: int) -> None:
        opened = open_file(path, device_id, hard_limit_bytes)
        self.path = path
        self.device_id = device_id
        self.connection = opened.connection
        self.page_size = opened.page_size
        self.next_sequence = opened.next_sequence
        self.last_acknowledged = opened.last_acknowledged
        self.pending_count = opened.pending

    def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one write transaction; commit, or roll back and raise typed."""
        connection = self.connection
        try:
            connection.execute("BEGIN IMMEDIATE")
            result = work(connection)
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            self._roll_back()
            raise from_database_error(error, self.path) from None
        except BaseException:
            self._roll_back()
            raise
        return result

    def _roll_back(self) -> None:
        if self.connection.in_transaction:
            # SQLite may already have rolled back (SQLITE_FULL, SQLITE_IOERR); the original
            # error is the one that is reported.
            with contextlib.suppress(sqlite3.Error):
                self.connection.execute("ROLLBACK")

    def insert(self, rows: Sequence[Row]) -> None:
        """Commit ``rows`` (in sequence order) in one transaction."""
        self.transaction(lambda connection: _insert(connection, rows))
        self.next_sequence = rows[-1][0] + 1
        self.pending_count += len(rows)

    def pending_rows(
        self, after_sequence: int, before_sequence: int | None, limit: int, max_bytes: int
    ) -> list[PendingRow]:
        """Pending records after ``after_sequence`` (and before ``before_sequence``), in
        sequence order, as plain rows: at most ``limit`` of them and ``max_bytes`` of payload,
        but at least one when there is one."""
        return self._pending(
            _OUTBOX_COLUMNS, 6, after_sequence, before_sequence, limit=limit, max_bytes=max_bytes
        )

    def pending(
        self, after_sequence: int, before_sequence: int | None, limit: int, max_bytes: int
    ) -> list[StoredRecord]:
        """As :meth:`pending_rows`, each record a :class:`StoredRecord`."""
        rows = self._pending(
            _COLUMNS, 7, after_sequence, before_sequence, limit=limit, max_bytes=max_bytes
        )
        return [self._record(row) for row in rows]

    def _pending(
        self,
        columns: str,
        payload_at: int,
        after_sequence: int,
        before_sequence: int | None,
        *,
        limit: int,
        max_bytes: int,
    ) -> list[Any]:
        upper = self.next_sequence if before_sequence is None else before_sequence
        try:
            rows = self.connection.execute(
                f"SELECT {columns} FROM records WHERE acknowledged_wall_ns IS NULL"  # noqa: S608 - constant
                " AND sequence > ? AND sequence < ? ORDER BY sequence LIMIT ?",
                (after_sequence, upper, limit),
            ).fetchall()
        except sqlite3.Error as error:
            raise from_database_error(error, self.path) from None
        total = 0
        for index, row in enumerate(rows):
            total += len(row[payload_at])
            if total > max_bytes and index:
                return rows[:index]
        return rows

    def of_types(self, types: Sequence[str]) -> list[StoredRecord]:
        """Every record the journal holds of one of ``types``, acknowledged or not, in
        sequence order."""
        marks = ", ".join("?" * len(types))
        try:
            rows = self.connection.execute(
                f"SELECT {_COLUMNS} FROM records WHERE type IN ({marks}) ORDER BY sequence",  # noqa: S608 - constant columns, placeholders
                tuple(types),
            ).fetchall()
        except sqlite3.Error as error:
            raise from_database_error(error, self.path) from None
        return [self._record(row) for row in rows]

    def _record(
        self, row: tuple[int, int, str, int, int, int, int, bytes, int | None]
    ) -> StoredRecord:
        sequence, epoch, kind, klass, wall, mono, synced, payload, acked = row
        return StoredRecord(
            self.device_id,
            sequence,
            epoch,
            kind,
            RecordClass(klass),
            wall,
            mono,
            bool(synced),
            payload,
            acked,
        )

    def acknowledge(self, sequences: Iterable[int], now_wall_ns: int) -> int:
        """Mark ``sequences`` acknowledged at ``now_wall_ns``; return how many were pending.

        Idempotent: an acknowledged record keeps its first acknowledgement time, and sequences
        that are unknown (thinned, expired, never written) are ignored.
        """
        known = sorted({s for s in sequences if 0 <= s < self.next_sequence})
        if not known:
            return 0
        highest = max(known[-1], -1 if self.last_acknowledged is None else self.last_acknowledged)
        spans = _spans(known)

        def work(connection: sqlite3.Connection) -> int:
            before = connection.total_changes
            connection.executemany(
                "UPDATE records SET acknowledged_wall_ns = ?"
                " WHERE sequence BETWEEN ? AND ? AND acknowledged_wall_ns IS NULL",
                [(now_wall_ns, first, last) for first, last in spans],
            )
            changed = connection.total_changes - before
            connection.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_acknowledged', ?)",
                (str(highest),),
            )
            return changed

        changed = self.transaction(work)
        self.pending_count -= changed
        self.last_acknowledged = highest
        return changed

    def resend_from(self, sequence: int) -> int:
        """Make every acknowledged record from ``sequence`` on pending again; return how many."""

        def work(connection: sqlite3.Connection) -> int:
            cursor = connection.execute(
                "UPDATE records SET acknowledged_wall_ns = NULL"
                " WHERE sequence >= ? AND acknowledged_wall_ns IS NOT NULL",
                (sequence,),
            )
            return cursor.rowcount

        changed = self.transaction(work)
        self.pending_count += changed
        return changed

    def used_bytes(self) -> int:
        """Bytes of the database file in use (free pages, which SQLite reuses, excluded)."""
        try:
            (pages,) = self.connection.execute("PRAGMA page_count").fetchone()
            (free,) = self.connection.execute("PRAGMA freelist_count").fetchone()
        except sqlite3.Error as error:
            raise from_database_error(error, self.path) from None
        return int(pages - free) * self.page_size

    def close(self) -> None:
        """Checkpoint the WAL into the database file and close the connection."""
        try:
            self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as error:
            raise from_database_error(error, self.path) from None
        finally:
            self.connection.close()
