"""The receiver's default database: SQLite, WAL, ``synchronous=FULL`` (a commit survives a
power cut before the acknowledgement leaves).

Built for draining a week's backlog fast without weakening that: the records table is
clustered on its primary key (``WITHOUT ROWID``, keyed device, sequence, boot epoch - the same
uniqueness as the identity, and the order the gap check reads), so a record is written into
two B-trees (the table and the time index) instead of four, and a batch is inserted with
multi-row statements that bind the batch's device, ``historical`` flag and time of receipt
once. Files created by earlier versions (a rowid table with separate identity and sequence
indexes) are used as they are: the columns, the identity's uniqueness and every statement are
the same.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from agent.sync.protocol import RecordRow
from hospital_receiver.sql_store import SqlStore

__all__ = ["SqliteStore"]

_COLUMNS = (
    "device, boot_epoch, sequence, type, wall_ns, monotonic_ns, clock_synchronised, payload,"
    " historical, received_at"
)
_GROUP = 64
"""Rows per multi-row statement (7 parameters each, well under SQLite's 32,766)."""


def _insert_rows(count: int) -> str:
    """An upsert of ``count`` rows: ``?1`` the device, ``?2`` historical, ``?3`` the time of
    receipt, then 7 per row."""
    values = ", ".join(
        "(" + ", ".join(f"?{4 + row * 7 + column}" for column in range(7)) + ")"
        for row in range(count)
    )
    # "WHERE true": an upsert's SELECT needs a WHERE before ON CONFLICT (SQLite's parser).
    return (
        f"INSERT INTO records ({_COLUMNS}) SELECT ?1, column1, column2, column3, column4,"  # noqa: S608 - constant
        f" column5, column6, column7, ?2, ?3 FROM (VALUES {values}) WHERE true"
        " ON CONFLICT (device, boot_epoch, sequence) DO NOTHING"
    )


def _received_at() -> str:
    """Now, as the column's default ``CURRENT_TIMESTAMP`` writes it (UTC, to the second).

    Bound once per batch: SQLite would format the default again for every row, a third of a
    backlog's insert time."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


_INSERT_GROUP = _insert_rows(_GROUP)
_INSERT_ONE = _insert_rows(1)


class SqliteStore(SqlStore):
    """Records in one SQLite file."""

    schema = (
        "CREATE TABLE IF NOT EXISTS records ("
        " device TEXT NOT NULL, boot_epoch INTEGER NOT NULL, sequence INTEGER NOT NULL,"
        " type TEXT NOT NULL, wall_ns INTEGER NOT NULL, monotonic_ns INTEGER NOT NULL,"
        " clock_synchronised INTEGER NOT NULL, payload BLOB NOT NULL,"
        " historical INTEGER NOT NULL,"
        " received_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,"
        " PRIMARY KEY (device, sequence, boot_epoch)) WITHOUT ROWID",
        "CREATE INDEX IF NOT EXISTS records_by_time ON records (device, type, wall_ns)",
        "CREATE TABLE IF NOT EXISTS device_progress ("
        " device TEXT PRIMARY KEY, contiguous_through INTEGER NOT NULL,"
        " highest INTEGER NOT NULL)",
    )

    def __init__(self, path: Path) -> None:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        super().__init__(connection)

    def _insert(self, cursor: Any, device: str, historical: bool, rows: Sequence[RecordRow]) -> int:
        """Insert the rows not stored yet, ``_GROUP`` rows per statement; how many."""
        whole = len(rows) - len(rows) % _GROUP
        chain = itertools.chain.from_iterable
        before = self._db.total_changes
        received = _received_at()
        if whole:
            cursor.executemany(
                _INSERT_GROUP,
                [
                    (device, historical, received, *chain(rows[at : at + _GROUP]))
                    for at in range(0, whole, _GROUP)
                ],
            )
        if whole < len(rows):
            cursor.executemany(
                _INSERT_ONE, [(device, historical, received, *row) for row in rows[whole:]]
            )
        return int(self._db.total_changes - before)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        cursor = self._db.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")
