"""Durable append through the journal vs. the raw costs underneath, measured side by side.

(a) Throughput: ``--events`` temperature-sample events (each the sampling tick of 8 probes)
    appended by ``--producers`` concurrent producers (each awaiting its own appends, as
    ``EventStream.record`` does) through group commit, vs. a plain ``sqlite3`` loop storing
    the same events with WAL, ``synchronous=FULL``, the same schema and the same batch size per
    transaction. Both start from the same ``Event`` objects and end with committed rows: the
    plain loop's timing includes turning each event into its row (the CBOR payload), as the
    journal's does.
    Target (issue 3): the journal at >= 0.5x the plain loop.
(b) Latency: one KEPT record appended alone, ``--singles`` times, vs. ``os.write`` +
    ``os.fsync`` of a small file in the same directory, in turn (one raw fsync, one append,
    ...) so that both see the same load. Target: journal p99 <= 2x raw p99. A third series,
    in the same turns, appends to a journal whose WAL was not grown at open (allowed less
    than 64 MiB): what growing it buys.

``--repeat N`` runs it all N times and prints the medians (do that on a shared machine).

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
_SMALL = JournalPolicy(budget_bytes=32 << 20, hard_limit_bytes=48 << 20)
"""Below the 64 MiB a journal needs to grow its WAL at open."""


PROBES = tuple(f"probe-{p}" for p in range(8))


def sample_events(count: int, first: int = 0) -> list[Event]:
    """``count`` temperature samples, each the tick of 8 probes read together, 10 s apart."""
    return [
        Event(
            RecordId(DEVICE, 1, first + i),
            1_700_000_000_000_000_000 + i * 10_000_000_000,
            i * 10_000_000_000,
            True,
            TemperatureSample(PROBES, tuple(4.0 + ((i + p) % 17) / 10 for p in range(8))),
        )
        for i in range(count)
    ]


async def journal_throughput(
    path: Path, events: list[Event], producers: int, batch: int, burst: int
) -> tuple[float, int]:
    """Rows/s of ``producers`` concurrent producers, each appending ``burst`` events at a time
    (``append`` when 1, ``append_many`` otherwise), and the rows per transaction achieved."""
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
    return rows / elapsed, round(rows / transactions)


def plain_throughput(path: Path, events: list[Event], batch: int) -> float:
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
    rows = [to_row(event, default_classify(event)) for event in events]
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


async def latencies(directory: Path, count: int) -> tuple[list[float], list[float], list[float]]:
    """``count`` lone KEPT appends to a journal as it opens by default (its WAL grown to its
    working size, :mod:`agent.journal.wal`), as many to one allowed too little room to grow it
    (so its WAL grows with the commits, as every journal's did before), and as many
    ``os.write`` + ``os.fsync`` of a small file, in turn, so that all three see the same load
    on the machine: (raw, journal, journal with a growing WAL) seconds."""
    journal = await Journal.open(directory / "latency.db", device_id=DEVICE, policy=_BIG)
    growing = await Journal.open(directory / "growing.db", device_id=DEVICE, policy=_SMALL)
    fd = os.open(directory / "raw.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    record = b"x" * 64
    raw: list[float] = []
    alone: list[float] = []
    unwarmed: list[float] = []
    try:
        for i in range(count):
            started = time.perf_counter()
            os.write(fd, record)
            os.fsync(fd)
            raw.append(time.perf_counter() - started)
            for target, times in ((journal, alone), (growing, unwarmed)):
                event = Event(RecordId(DEVICE, 1, i), i, i, True, DoorChanged("door", i % 2 == 0))
                started = time.perf_counter()
                await target.append(event)
                times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        await journal.close()
        await growing.close()
    return raw, alone, unwarmed


def percentile(values: list[float], fraction: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(fraction * 1000) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--producers", type=int, default=100)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--singles", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1, help="runs; medians are reported")
    parser.add_argument("--dir", type=Path, default=None, help="where the files go (storage!)")
    arguments = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (on {os.cpu_count()} CPUs)")
    shapes = (
        (arguments.producers, 1),
        (2 * arguments.batch, 1),
        (2 * arguments.batch // 8, 8),  # as a tick with 7 probe faults and its sample
        (2 * arguments.batch // 100, 100),
    )
    throughput: dict[tuple[int, int], list[tuple[float, float, float]]] = {s: [] for s in shapes}
    p50s: list[tuple[float, float]] = []
    p99s: list[tuple[float, float]] = []
    growing_p99s: list[float] = []
    events = sample_events(arguments.events)
    for run in range(arguments.repeat):
        with tempfile.TemporaryDirectory(dir=arguments.dir) as directory:
            base = Path(directory)
            print(f"run {run + 1}/{arguments.repeat}")
            print(f"(a) {arguments.events} temperature samples, batch {arguments.batch}")
            plain = plain_throughput(base / "plain.db", events, arguments.batch)
            print(
                f"    plain sqlite3 loop, {arguments.batch} rows per transaction:"
                f" {plain:10,.0f} rows/s"
            )
            for producers, burst in shapes:
                path = base / f"journal-{producers}-{burst}.db"
                rate, per_transaction = asyncio.run(
                    journal_throughput(path, events, producers, arguments.batch, burst)
                )
                # The same batch size as the journal achieved (fewer producers than
                # --batch cannot fill a transaction of --batch rows).
                same = plain
                if per_transaction < arguments.batch:
                    same = plain_throughput(base / f"plain-{producers}.db", events, per_transaction)
                    print(
                        f"      plain loop at {per_transaction} rows per transaction:"
                        f" {same:10,.0f} rows/s"
                    )
                print(
                    f"      = {rate / same:.2f}x the plain loop at the same batch size,"
                    f" {rate / plain:.2f}x at {arguments.batch} (target >= 0.5x)"
                )
                throughput[(producers, burst)].append((rate / same, rate / plain, rate))
            print(
                f"(b) {arguments.singles} lone KEPT appends vs. os.write + os.fsync, in turn"
                " (and to a journal whose WAL grows with its commits)"
            )
            raw, alone, unwarmed = asyncio.run(latencies(base, arguments.singles))
            for name, values in (
                ("raw write+fsync", raw),
                ("journal append", alone),
                ("  WAL not grown", unwarmed),
            ):
                print(
                    f"    {name:16} p50 {percentile(values, 0.5) * 1e3:7.3f} ms"
                    f"   p99 {percentile(values, 0.99) * 1e3:7.3f} ms"
                )
            ratio = percentile(alone, 0.99) / percentile(raw, 0.99)
            print(f"    p99 ratio journal/raw: {ratio:.2f}x (target <= 2x)")
            ratio = percentile(unwarmed, 0.99) / percentile(raw, 0.99)
            print(f"    (with its WAL not grown at open: {ratio:.2f}x)")
            growing_p99s.append(ratio)
            p50s.append((percentile(raw, 0.5), percentile(alone, 0.5)))
            p99s.append((percentile(raw, 0.99), percentile(alone, 0.99)))
    if arguments.repeat > 1:
        median = statistics.median
        print(f"medians of {arguments.repeat} runs:")
        for (producers, burst), results in throughput.items():
            print(
                f"    {producers:4} producers x bursts of {burst:3}:"
                f" {median(r[2] for r in results):10,.0f} rows/s,"
                f" {median(r[0] for r in results):.2f}x the plain loop at the same batch size"
                f" ({min(r[0] for r in results):.2f}-{max(r[0] for r in results):.2f}),"
                f" {median(r[1] for r in results):.2f}x at {arguments.batch}"
            )
        ratios = [journal / raw for raw, journal in p99s]
        print(
            f"    lone append p50 {median(j for _, j in p50s) * 1e3:.3f} ms"
            f" vs raw {median(r for r, _ in p50s) * 1e3:.3f} ms;"
            f" p99 {median(j for _, j in p99s) * 1e3:.3f} ms"
            f" vs raw {median(r for r, _ in p99s) * 1e3:.3f} ms;"
            f" p99 ratio median {median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f});"
            f" WAL not grown: {median(growing_p99s):.2f}x"
            f" ({min(growing_p99s):.2f}-{max(growing_p99s):.2f})"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
