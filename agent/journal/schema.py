"""The journal file: its durability settings, its tables, and whose journal it is.

Keeps invariants 1 and 3 of the brief at the storage level:

* WAL mode with ``synchronous=FULL``: a transaction is on stable storage when ``COMMIT``
  returns (one fsync of the WAL per commit);
* the file belongs to one device: opening the journal of another device is refused, and the
  sequence continues across restarts from ``max(sequence) + 1`` - or from the high-water mark
  kept in ``meta`` when maintenance has deleted the newest records - so an identity is never
  reused;
* a file that is not a database, or a damaged one, is reported and never written to.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from agent.journal.errors import JournalUnavailable, UnavailableKind, from_database_error
from agent.journal.wal import grow_wal

__all__ = ["SCHEMA_VERSION", "OpenedFile", "open_file"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS records (
    sequence             INTEGER PRIMARY KEY,  -- 0 .. 2**63-1, never reused on this device
    boot_epoch           INTEGER NOT NULL,
    type                 TEXT    NOT NULL,     -- EventType wire name
    class                INTEGER NOT NULL,     -- RecordClass: 0 routine, 1 kept, 2 excursion
    wall_ns              INTEGER NOT NULL,
    monotonic_ns         INTEGER NOT NULL,
    clock_synchronised   INTEGER NOT NULL,     -- 0 / 1
    series               TEXT,                 -- thinning group (the probes of a sample)
    payload              BLOB    NOT NULL,     -- CBOR map of the payload's fields
    acknowledged_wall_ns INTEGER               -- NULL while pending in the outbox
);

CREATE INDEX IF NOT EXISTS records_pending
    ON records (sequence) WHERE acknowledged_wall_ns IS NULL;

CREATE INDEX IF NOT EXISTS records_acknowledged
    ON records (acknowledged_wall_ns) WHERE acknowledged_wall_ns IS NOT NULL;
"""

_BUSY_TIMEOUT_MS = 5000
_WAL_SIZE_LIMIT = 4 * 1024 * 1024
"""What a checkpoint truncates the WAL to; about the size SQLite's automatic checkpoints (every
1,000 pages) keep it at, and the size it is grown to at open (:mod:`agent.journal.wal`)."""
_WARM_WAL_MIN_LIMIT = 16 * _WAL_SIZE_LIMIT
"""Journals allowed less than this (tests, tiny devices) skip growing the WAL at open."""


@dataclass(frozen=True, slots=True)
class OpenedFile:
    """An open, checked journal file and what was read from it."""

    connection: sqlite3.Connection
    page_size: int
    next_sequence: int
    last_acknowledged: int | None
    pending: int


def open_file(path: Path, device_id: str, hard_limit_bytes: int) -> OpenedFile:
    """Open (or create) the journal at ``path`` for ``device_id``; runs on the database thread.

    Raises :class:`JournalUnavailable` for every way this can fail; the connection is closed
    again in that case.
    """
    try:
        connection = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as error:
        raise JournalUnavailable(
            UnavailableKind.UNWRITABLE,
            f"cannot open {path}: {error} - check that the directory exists and is writable",
        ) from None
    try:
        return _prepare(connection, path, device_id, hard_limit_bytes)
    except BaseException:
        connection.close()
        raise


def _prepare(
    connection: sqlite3.Connection, path: Path, device_id: str, hard_limit_bytes: int
) -> OpenedFile:
    try:
        # Reading the header first: a file that is not a database fails here, before any write.
        connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA schema_version").fetchone()
        (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode != "wal":
            raise JournalUnavailable(
                UnavailableKind.UNWRITABLE, f"{path}: cannot switch to WAL mode (got {mode!r})"
            )
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute(f"PRAGMA journal_size_limit = {_WAL_SIZE_LIMIT}")
        connection.execute("PRAGMA temp_store = MEMORY")
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
        connection.execute(f"PRAGMA max_page_count = {max(1, hard_limit_bytes // page_size)}")
        (check,) = connection.execute("PRAGMA quick_check(1)").fetchone()
        if check != "ok":
            raise JournalUnavailable(
                UnavailableKind.CORRUPT,
                f"{path}: integrity check failed ({check}) - the file has been left untouched: "
                "move it aside (keep it for investigation) and restart to begin a new journal",
            )
        meta = _create_or_read(connection, device_id)
        _check_identity(meta, path, device_id)
        if hard_limit_bytes >= _WARM_WAL_MIN_LIMIT:
            grow_wal(connection, path, _WAL_SIZE_LIMIT, int(page_size))
        (high,) = connection.execute("SELECT max(sequence) FROM records").fetchone()
        (pending,) = connection.execute(
            "SELECT count(*) FROM records WHERE acknowledged_wall_ns IS NULL"
        ).fetchone()
    except sqlite3.Error as error:
        raise from_database_error(error, path) from None
    next_sequence = max(-1 if high is None else int(high), int(meta["high_water"])) + 1
    last_ack = meta.get("last_acknowledged")
    return OpenedFile(
        connection,
        int(page_size),
        next_sequence,
        None if last_ack is None else int(last_ack),
        int(pending),
    )


def _create_or_read(connection: sqlite3.Connection, device_id: str) -> dict[str, str]:
    """Create the tables and the meta rows of a new journal; return the meta rows."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)
        connection.executemany(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
            [
                ("schema_version", str(SCHEMA_VERSION)),
                ("device_id", device_id),
                ("high_water", "-1"),
            ],
        )
        meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return meta


def _check_identity(meta: dict[str, str], path: Path, device_id: str) -> None:
    version = int(meta["schema_version"])
    if version > SCHEMA_VERSION:
        raise JournalUnavailable(
            UnavailableKind.INCOMPATIBLE,
            f"{path} has schema version {version}; this agent knows up to {SCHEMA_VERSION} - "
            "run the agent version that wrote it, or move the file aside",
        )
    if meta["device_id"] != device_id:
        raise JournalUnavailable(
            UnavailableKind.WRONG_DEVICE,
            f"{path} is the journal of device {meta['device_id']!r}, not {device_id!r} - "
            "a journal moved between devices is never appended to; move it aside",
        )
