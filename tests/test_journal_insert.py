"""The journal's multi-row inserts keep every row, in order, whatever the batch size; close
leaves no WAL behind."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from agent.events import Event, RecordId, TemperatureSample
from agent.journal import Journal

DEVICE = "cab-7"


def sample(sequence: int) -> Event:
    """A tick of one to eight probes (fewer while some are faulted), readings varying."""
    width = sequence % 8 + 1
    return Event(
        RecordId(DEVICE, 1, sequence),
        sequence,
        sequence,
        True,
        TemperatureSample(
            tuple(f"p{p}" for p in range(width)),
            tuple(4.0 + (sequence + p) % 7 / 10 for p in range(width)),
        ),
    )


def wal_size(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


@pytest.mark.parametrize("count", [1, 7, 8, 9, 63, 64, 65, 100, 1000])
def test_every_batch_size_inserts_every_row_in_order(tmp_path: Path, count: int) -> None:
    path = tmp_path / "j.db"

    async def scenario() -> None:
        async with await Journal.open(path, device_id=DEVICE) as journal:
            await journal.append_many([sample(s) for s in range(count)])
            records = await journal.pending(limit=count + 1, max_bytes=1 << 30)
            assert [r.sequence for r in records] == list(range(count))
            assert [r.to_event() for r in records] == [sample(s) for s in range(count)]

    asyncio.run(scenario())


def test_close_checkpoints_and_truncates_the_wal_after_a_long_burst(tmp_path: Path) -> None:
    path = tmp_path / "j.db"

    async def scenario() -> None:
        journal = await Journal.open(path, device_id=DEVICE)
        for start in range(0, 30_000, 1000):
            await journal.append_many([sample(s) for s in range(start, start + 1000)])
        assert wal_size(path) > 0
        await journal.close()

    asyncio.run(scenario())
    assert wal_size(path) == 0
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM records").fetchone()[0] == 30_000
