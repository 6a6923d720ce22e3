"""Durable append through the journal vs. the raw costs underneath, measured side by side.

(a) Throughput: ``--events`` temperature-sample events appended by ``--producers`` concurrent
    producers (each awaiting its own appends, as ``EventStream.record`` does) through group
    commit, vs. a plain ``sqlite3`` loop inserting the same rows (payloads already encoded) with
    WAL, ``synchronous=FULL`` and the same batch size per transaction.
    Target (issue 3): the journal at >= 0.5x the plain loop.
(b) Latency: one KEPT record appended alone, ``--singles`` times, vs. ``os.write`` +
    ``os.fsync`` of a small file in the same directory. Target: journal p99 <= 2x raw p99.

    .venv/bin/python benchmarks/journal_append.py
    .venv/bin/python benchmarks/journal_append.py --dir /mnt/sdcard   # on the device's storage
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from agent.events import DoorChanged, Event, RecordId, TemperatureSample
from agent.journal import Journal, JournalPolicy
from agent.journal.records import default_classify, to_row

DEVICE = "bench-device"
_BIG = JournalPolicy(budget_bytes=8 << 30, hard_limit_bytes=9 << 30)


def sample_events(count: int, first: int = 0) -> list[Event]:
    """``count`` temperature samples of 8 probes, 10 s apart per probe."""
    return [
        Event(
            RecordId(DEVICE, 1, first + i),
            1_700_000_000_000_000_000 + i * 1_250_000_000,
            i * 1_250_000_000,
            True,
            TemperatureSample(f"probe-{i % 8}", 4.0 + (i % 17) / 10),
        )
        for i in range(count)
    ]


async def journal_throughput(
    path: Path, events: list[Event], producers: int, batch: int, burst: int
) -> float:
    """Rows/s of ``producers`` concurrent producers, each appending ``burst`` events at a time
    (``append`` when 1, ``append_many`` otherwise)."""
    journal = await Journal.open(path, device_id=DEVICE, policy=_BIG, max_batch_rows=batch)
    share = len(events) // producers // burst
    next_index = 0

    async def produce() -> None:
        nonlocal next_index
        for _ in range(share):
            # Sequences are handed out in call order, as EventStream does.
            chunk = events[next_index : next_index + burst]
            next_index += burst
            if burst == 1:
                await journal.append(chunk[0])
            else:
                await journal.append_many(chunk)

    started = time.perf_counter()
    await asyncio.gather(*(produce() for _ in range(producers)))
    elapsed = time.perf_counter() - started
    transactions = journal.transactions
    await journal.close()
    rows = share * producers * burst
    print(
        f"    journal, {producers:4} producers x bursts of {burst:3}:"
        f" {rows / elapsed:10,.0f} rows/s"
        f"  ({transactions} transactions, {rows / transactions:.0f} rows each)"
    )
    return rows / elapsed


def plain_throughput(path: Path, events: list[Event], batch: int) -> float:
    rows = [to_row(event, default_classify(event)) for event in events]
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute(
        "CREATE TABLE records (sequence INTEGER PRIMARY KEY, boot_epoch INTEGER NOT NULL,"
        " type TEXT NOT NULL, class INTEGER NOT NULL, wall_ns INTEGER NOT NULL,"
        " monotonic_ns INTEGER NOT NULL, clock_synchronised INTEGER NOT NULL, series TEXT,"
        " payload BLOB NOT NULL, acknowledged_wall_ns INTEGER)"
    )
    connection.execute(
        "CREATE INDEX records_pending ON records (sequence) WHERE acknowledged_wall_ns IS NULL"
    )
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            "INSERT INTO records (sequence, boot_epoch, type, class, wall_ns, monotonic_ns,"
            " clock_synchronised, series, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows[start : start + batch],
        )
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return len(rows) / elapsed


async def journal_latencies(path: Path, count: int) -> list[float]:
    journal = await Journal.open(path, device_id=DEVICE, policy=_BIG)
    latencies = []
    for i in range(count):
        event = Event(RecordId(DEVICE, 1, i), i, i, True, DoorChanged("door", i % 2 == 0))
        started = time.perf_counter()
        await journal.append(event)
        latencies.append(time.perf_counter() - started)
    await journal.close()
    return latencies


def raw_fsync_latencies(path: Path, count: int) -> list[float]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    record = b"x" * 64
    latencies = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            os.write(fd, record)
            os.fsync(fd)
            latencies.append(time.perf_counter() - started)
    finally:
        os.close(fd)
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(fraction * 1000) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--producers", type=int, default=100)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--singles", type=int, default=1000)
    parser.add_argument("--dir", type=Path, default=None, help="where the files go (storage!)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=arguments.dir) as directory:
        base = Path(directory)
        events = sample_events(arguments.events)
        print(f"(a) {arguments.events} temperature samples, batch {arguments.batch}")
        plain = plain_throughput(base / "plain.db", events, arguments.batch)
        print(
            f"    plain sqlite3 loop, {arguments.batch} rows per transaction: {plain:10,.0f} rows/s"
        )
        shapes = (
            (arguments.producers, 1),
            (2 * arguments.batch, 1),
            (2 * arguments.batch // 8, 8),  # one tick of 8 probes per burst
            (2 * arguments.batch // 100, 100),
        )
        for producers, burst in shapes:
            path = base / f"journal-{producers}-{burst}.db"
            rate = asyncio.run(journal_throughput(path, events, producers, arguments.batch, burst))
            print(f"      = {rate / plain:.2f}x the plain loop (target >= 0.5x)")
        print(f"(b) {arguments.singles} lone KEPT appends vs. os.write + os.fsync")
        raw = raw_fsync_latencies(base / "raw.bin", arguments.singles)
        alone = asyncio.run(journal_latencies(base / "latency.db", arguments.singles))
        for name, values in (("raw write+fsync", raw), ("journal append", alone)):
            print(
                f"    {name:16} p50 {percentile(values, 0.5) * 1e3:7.3f} ms"
                f"   p99 {percentile(values, 0.99) * 1e3:7.3f} ms"
            )
        ratio = percentile(alone, 0.99) / percentile(raw, 0.99)
        print(f"    p99 ratio journal/raw: {ratio:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
