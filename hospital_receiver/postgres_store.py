"""The receiver's database when given a PostgreSQL URL (psycopg 3)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from hospital_receiver.sql_store import SqlStore

__all__ = ["PostgresStore"]


class PostgresStore(SqlStore):
    """Records in a PostgreSQL database; the tables are created if missing."""

    placeholder = "%s"
    schema = (
        "CREATE TABLE IF NOT EXISTS records ("
        " device TEXT NOT NULL, boot_epoch BIGINT NOT NULL, sequence BIGINT NOT NULL,"
        " type TEXT NOT NULL, wall_ns BIGINT NOT NULL, monotonic_ns BIGINT NOT NULL,"
        " clock_synchronised BOOLEAN NOT NULL, payload BYTEA NOT NULL,"
        " historical BOOLEAN NOT NULL,"
        " received_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
        " PRIMARY KEY (device, boot_epoch, sequence))",
        "CREATE INDEX IF NOT EXISTS records_by_sequence ON records (device, sequence)",
        "CREATE INDEX IF NOT EXISTS records_by_time ON records (device, type, wall_ns)",
        "CREATE TABLE IF NOT EXISTS device_progress ("
        " device TEXT PRIMARY KEY, contiguous_through BIGINT NOT NULL,"
        " highest BIGINT NOT NULL)",
    )

    def __init__(self, url: str) -> None:
        import psycopg  # noqa: PLC0415 - only a receiver given a PostgreSQL URL needs it

        super().__init__(psycopg.connect(url, autocommit=True))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        """BEGIN … COMMIT (autocommit connection: each block is exactly one transaction)."""
        with self._db.transaction(), self._db.cursor() as cursor:
            yield cursor
