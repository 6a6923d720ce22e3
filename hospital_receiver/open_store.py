"""Open the record store a ``--db`` option names: a SQLite file path (the default) or a
``postgresql://`` URL."""

from __future__ import annotations

from pathlib import Path

from hospital_receiver.store import RecordStore

__all__ = ["open_store"]


def open_store(target: str) -> RecordStore:
    """The store at ``target``: PostgreSQL for ``postgresql://``/``postgres://`` URLs, else a
    SQLite file (created if missing)."""
    if target.startswith(("postgresql://", "postgres://")):
        from hospital_receiver.postgres_store import PostgresStore  # noqa: PLC0415

        return PostgresStore(target)
    from hospital_receiver.sqlite_store import SqliteStore  # noqa: PLC0415

    return SqliteStore(Path(target))
