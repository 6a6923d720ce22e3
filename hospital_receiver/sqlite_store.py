"""The receiver's default database: SQLite, WAL, ``synchronous=FULL`` (a commit survives a
power cut before the acknowledgement leaves)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from hospital_receiver.sql_store import SqlStore

__all__ = ["SqliteStore"]


class SqliteStore(SqlStore):
    """Records in one SQLite file."""

    schema = (
        "CREATE TABLE IF NOT EXISTS records ("
        " device TEXT NOT NULL, boot_epoch INTEGER NOT NULL, sequence INTEGER NOT NULL,"
        " type TEXT NOT NULL, wall_ns INTEGER NOT NULL, monotonic_ns INTEGER NOT NULL,"
        " clock_synchronised INTEGER NOT NULL, payload BLOB NOT NULL,"
        " historical INTEGER NOT NULL,"
        " received_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,"
        " PRIMARY KEY (device, boot_epoch, sequence))",
        "CREATE INDEX IF NOT EXISTS records_by_sequence ON records (device, sequence)",
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
