"""The command nonces the device has used, kept durably so a replay is refused after a restart.

Keeps invariant 5 across restarts and crashes: once :meth:`NonceStore.claim` has returned True
for a nonce, it returns False for that nonce until ``retention_s`` after the command's expiry -
the store is a SQLite file committed with ``synchronous=FULL`` before ``claim`` returns. After
that the command is refused as expired anyway; the margin covers a wall clock that steps
backwards. The link claims a nonce after journaling the command and before acting on it, so a
crash in between means the command is never acted on (refused as replayed if resent): at most
once, never twice.

Why a file of its own rather than a query of the journal: the journal keeps records by sequence
for the outbox and has no index by type, and its retention may delete old records; this store
is tiny (one row per command within its expiry), pruned on every claim.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

__all__ = ["DEFAULT_RETENTION_S", "NonceStore"]

DEFAULT_RETENTION_S = 86_400.0
_NS_PER_S = 1_000_000_000


class NonceStore:
    """A durable set of (nonce, expiry) at ``path``; each call opens and closes the file (on a
    worker thread: commands are rare, and the event loop never waits on an fsync)."""

    def __init__(self, path: Path, *, retention_s: float = DEFAULT_RETENTION_S) -> None:
        self.path = Path(path)
        self.retention_ns = int(retention_s * _NS_PER_S)

    async def claim(self, nonce: bytes, expires_ns: int, now_wall_ns: int) -> bool:
        """Durably remember ``nonce``; False if it was already remembered (a replay)."""
        return await asyncio.to_thread(self._claim, nonce, expires_ns, now_wall_ns)

    def _claim(self, nonce: bytes, expires_ns: int, now_wall_ns: int) -> bool:
        connection = sqlite3.connect(self.path, isolation_level=None)
        try:
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS nonces (nonce BLOB PRIMARY KEY, expires_ns INTEGER)"
            )
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "DELETE FROM nonces WHERE expires_ns < ?", (now_wall_ns - self.retention_ns,)
            )
            cursor = connection.execute(
                "INSERT OR IGNORE INTO nonces (nonce, expires_ns) VALUES (?, ?)",
                (nonce, min(expires_ns, 2**63 - 1)),
            )
            connection.execute("COMMIT")
            return cursor.rowcount == 1
        finally:
            connection.close()
