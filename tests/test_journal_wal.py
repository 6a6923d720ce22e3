"""The journal's WAL is grown to its working size at open, so commits overwrite it instead of
extending it - and growing it never costs a record."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.events import DoorChanged, Event, RecordId
from agent.journal import Journal, JournalPolicy
from agent.journal.wal import grow_wal

DEVICE = "cab-7"
WAL_SIZE = 4 * 1024 * 1024
SMALL = JournalPolicy(budget_bytes=1 << 20, hard_limit_bytes=2 << 20)


def door(sequence: int) -> Event:
    return Event(RecordId(DEVICE, 1, sequence), sequence, sequence, True, DoorChanged("door", True))


def wal_size(database: Path) -> int:
    return database.with_name(database.name + "-wal").stat().st_size


def sequences(database: Path) -> list[int]:
    connection = sqlite3.connect(database)
    try:
        return [row[0] for row in connection.execute("SELECT sequence FROM records ORDER BY 1")]
    finally:
        connection.close()


def test_the_wal_is_grown_at_open_and_lone_commits_overwrite_it(tmp_path: Path) -> None:
    database = tmp_path / "j.db"

    async def scenario() -> tuple[int, int]:
        async with await Journal.open(database, device_id=DEVICE) as journal:
            grown = wal_size(database)
            for sequence in range(200):
                await journal.append(door(sequence))
            return grown, wal_size(database)

    grown, after = asyncio.run(scenario())
    assert WAL_SIZE - 8 * 4120 < grown <= WAL_SIZE
    assert after == grown  # 200 commits, not one byte added to the file
    assert sequences(database) == list(range(200))


def test_growing_the_wal_leaves_no_trace_in_the_journal(tmp_path: Path) -> None:
    database = tmp_path / "j.db"

    async def scenario() -> None:
        async with await Journal.open(database, device_id=DEVICE) as journal:
            await journal.append(door(0))

    asyncio.run(scenario())
    connection = sqlite3.connect(database)
    try:
        keys = {key for (key,) in connection.execute("SELECT key FROM meta")}
        (pages,) = connection.execute("PRAGMA page_count").fetchone()
        (free,) = connection.execute("PRAGMA freelist_count").fetchone()
    finally:
        connection.close()
    assert keys == {"schema_version", "device_id", "high_water"}
    assert (pages - free) * 4096 < 64 * 1024  # the grown pages are free, reused by records


def test_records_a_crash_left_in_the_wal_survive_the_reopen_that_grows_it(tmp_path: Path) -> None:
    database = tmp_path / "j.db"
    crashed = tmp_path / "crashed.db"

    async def write_then_copy_while_open() -> None:
        async with await Journal.open(database, device_id=DEVICE, policy=SMALL) as journal:
            for sequence in range(50):
                await journal.append(door(sequence))
            # A copy of the files as a power cut would leave them: records only in the WAL.
            shutil.copy(database, crashed)
            shutil.copy(database.with_name("j.db-wal"), crashed.with_name("crashed.db-wal"))

    async def reopen() -> int:
        async with await Journal.open(crashed, device_id=DEVICE) as journal:
            grown = wal_size(crashed)
            assert journal.next_sequence == 50
            await journal.append(door(50))
            return grown

    asyncio.run(write_then_copy_while_open())
    assert wal_size(crashed) < WAL_SIZE // 4  # the small journal did not grow its WAL
    assert wal_size(crashed) > 0  # ... and the copy's records are in it
    grown = asyncio.run(reopen())
    assert grown > WAL_SIZE // 2
    assert sequences(crashed) == list(range(51))


def test_a_journal_allowed_little_space_does_not_grow_its_wal(tmp_path: Path) -> None:
    database = tmp_path / "j.db"

    async def scenario() -> int:
        async with await Journal.open(database, device_id=DEVICE, policy=SMALL) as journal:
            await journal.append(door(0))
            return wal_size(database)

    assert asyncio.run(scenario()) < 64 * 1024


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[tuple[Path, sqlite3.Connection]]:
    """A WAL-mode database holding only a ``meta`` table, and its open connection."""
    database = tmp_path / "j.db"
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    try:
        yield database, connection
    finally:
        connection.close()


def test_when_the_wal_cannot_grow_the_connection_is_left_as_it_was(
    bare: tuple[Path, sqlite3.Connection],
) -> None:
    database, connection = bare
    connection.execute("INSERT INTO meta VALUES ('device_id', ?)", (DEVICE,))
    (pages,) = connection.execute("PRAGMA page_count").fetchone()
    connection.execute(f"PRAGMA max_page_count = {pages + 8}")  # no room for 4 MiB

    assert not grow_wal(connection, database, WAL_SIZE, 4096)

    assert not connection.in_transaction
    assert connection.execute("SELECT key, value FROM meta").fetchall() == [("device_id", DEVICE)]
    connection.execute("INSERT INTO meta VALUES ('after', 'still writable')")
    assert wal_size(database) < WAL_SIZE // 4


def test_a_wal_already_at_its_size_is_left_alone(bare: tuple[Path, sqlite3.Connection]) -> None:
    database, connection = bare
    assert grow_wal(connection, database, WAL_SIZE, 4096)
    grown = wal_size(database)
    assert not grow_wal(connection, database, WAL_SIZE, 4096)
    assert wal_size(database) == grown
