"""The write-ahead log grown to its working size when the journal opens.

What a lone append waits for is its commit's sync of the WAL. While the WAL file is still
growing - from empty after every open, until it reaches the size its checkpoints keep it at -
each commit appends new blocks to the file, and its sync must also journal the filesystem's
metadata (the new size, the new extents): on the VMs we measure on, a lone dispense record's
commit then costs up to twice what it costs once the WAL is reused. :func:`grow_wal` writes the
WAL out to that size once, at open, through SQLite itself (one transaction that stores and
deletes a zero-filled value in ``meta``), then checkpoints it, so that from the first append
on a commit overwrites blocks the file already has.

Nothing of the journal changes: the transaction's net effect on the database is nil (the pages
it used go to SQLite's free list and are reused by later records), and when it cannot be made
(the hard limit, a full disk) the journal opens without it - the next write reports whatever
is wrong, as it would have anyway.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

__all__ = ["grow_wal"]

_FRAME_HEADER = 24
"""Bytes SQLite writes before each page in the WAL."""

_SLACK_FRAMES = 8
"""How many frames short of the size the WAL is grown to."""
_KEY = "wal_warm_up"


def grow_wal(connection: sqlite3.Connection, database: Path, size: int, page_size: int) -> bool:
    """Make the WAL of ``database`` nearly ``size`` bytes long (a few frames short: the size
    is the journal's WAL size limit, and a WAL over it is truncated when it next starts over)
    and fully checkpointed; whether it had to be grown.

    Runs on the connection's thread, outside a transaction. SQLite errors are not raised: the
    transaction is rolled back and the WAL left as it was (see the module's docstring).
    """
    frames = size // (page_size + _FRAME_HEADER) - _SLACK_FRAMES
    wal = database.with_name(database.name + "-wal")
    try:
        have = wal.stat().st_size
    except OSError:  # not there yet (or not readable: SQLite's own attempt below says)
        have = 0
    if have >= frames * (page_size + _FRAME_HEADER):
        return False
    # Each of the value's overflow pages holds a page less its 4-byte link; the rest of the
    # slack is the WAL header and the pages of ``meta`` itself.
    value = frames * (page_size - 4)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO meta (key, value) VALUES (?, zeroblob(?))", (_KEY, value))
        connection.execute("DELETE FROM meta WHERE key = ?", (_KEY,))
        connection.execute("COMMIT")
        # Every frame copied into the database: the next commit starts the WAL over from its
        # first block instead of appending after these (and no append pays this checkpoint).
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    except sqlite3.Error:
        if connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
        return False
    return True
