"""Journal failures as one typed error with a reason a person understands.

Keeps invariants 1 and 8 of the brief: whatever goes wrong underneath (an unwritable directory,
a corrupt file, a full disk, an I/O error) reaches the caller as :class:`JournalUnavailable`,
never as a raw ``sqlite3`` error or a crash, so the runtime can fail safe (no unlock) and raise
an alarm. The ``kind`` says what happened; ``sticky`` says whether the journal stays unusable
until an operator acts and the agent restarts.
"""

from __future__ import annotations

import enum
import sqlite3
from pathlib import Path

from agent.sink import SinkUnavailable

__all__ = ["JournalUnavailable", "UnavailableKind", "from_database_error"]


class UnavailableKind(enum.StrEnum):
    """Why the journal cannot take records."""

    UNWRITABLE = "unwritable"
    """The file or its directory cannot be created or written (permissions, read-only mount)."""
    CORRUPT = "corrupt"
    """The file is not a database or is damaged; it is left untouched for an operator."""
    FULL = "full"
    """The hard size limit or the disk is reached; maintenance may free room."""
    IO_ERROR = "io_error"
    """The storage reported an I/O error."""
    LOCKED = "locked"
    """Another process holds the database locked for longer than the busy timeout."""
    WRONG_DEVICE = "wrong_device"
    """The file is the journal of another device."""
    INCOMPATIBLE = "incompatible"
    """The file was written by a newer schema version than this agent knows."""
    CLOSED = "closed"
    """The journal was closed (or its writer stopped); nothing more is accepted."""


_TRANSIENT = frozenset({UnavailableKind.FULL, UnavailableKind.LOCKED})


class JournalUnavailable(SinkUnavailable):
    """The journal cannot make records durable; ``reason`` says why in plain words."""

    def __init__(self, kind: UnavailableKind, reason: str) -> None:
        super().__init__(f"journal unavailable ({kind}): {reason}")
        self.kind = kind
        self.reason = reason

    @property
    def sticky(self) -> bool:
        """True when retrying cannot help: the journal stays unavailable until a restart."""
        return self.kind not in _TRANSIENT


# Primary result codes (https://sqlite.org/rescode.html); extended codes keep them in the low byte.
_SQLITE_PERM = 3
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26


def from_database_error(error: sqlite3.Error | OSError, path: Path) -> JournalUnavailable:
    """The :class:`JournalUnavailable` that explains ``error`` met on the journal at ``path``."""
    if isinstance(error, OSError):
        return JournalUnavailable(
            UnavailableKind.UNWRITABLE, f"cannot use {path}: {error.strerror or error}"
        )
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    detail = f"{path}: {error}"
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return JournalUnavailable(
            UnavailableKind.CORRUPT,
            f"{detail} - the file is damaged or not a journal; it has been left untouched: "
            "move it aside (keep it for investigation) and restart to begin a new journal",
        )
    if code == _SQLITE_FULL:
        return JournalUnavailable(
            UnavailableKind.FULL, f"{detail} - the journal's hard size limit or the disk is full"
        )
    if code in (_SQLITE_CANTOPEN, _SQLITE_READONLY, _SQLITE_PERM):
        return JournalUnavailable(
            UnavailableKind.UNWRITABLE,
            f"{detail} - check that the directory exists and the agent may write to it",
        )
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return JournalUnavailable(
            UnavailableKind.LOCKED, f"{detail} - another process holds the journal locked"
        )
    return JournalUnavailable(UnavailableKind.IO_ERROR, f"{detail} - the storage failed")
