"""A week's backlog drained end to end, vs. a raw aiomqtt QoS 1 loop, measured side by side.

The backlog is :func:`hal_sim.backlog.week_of_records`: a 72-slot cabinet offline for 7 days
(8 probes read together every 10 s - 60,480 ticks, 483,840 readings - plus 5,000 other events:
65,480 records).

(a) **End to end**: the records are appended to a fresh journal (not timed), then the agent's
    :class:`~agent.sync.link.SyncLink` (default settings: 1,000 records / 64 KiB per batch, 32
    batches awaiting acks) sends them through a Mosquitto this benchmark starts to a real
    receiver (``hemotrace-receiver run``, SQLite, WAL, ``synchronous=FULL``), which commits each
    batch and then acknowledges it; the link marks the acknowledged records in the journal.
    Timed from the link's start until ``journal.pending_count() == 0`` (polled every 20 ms).
(b) **Raw loop**: one aiomqtt client publishing the same records, pre-encoded with
    ``pack_batches`` (the same batches), at QoS 1 with a sliding window (a semaphore of 100 in
    flight), waiting for every PUBACK: no journal, no receiver, no acknowledgement. Its topic
    has no subscriber, so the broker only receives and acknowledges.

(c) **Raw loop with a committing subscriber** (a second baseline, no target): the same batches
    published to a minimal subscriber process that stores each as one BLOB row (WAL,
    ``synchronous=FULL``), commits and publishes its correlation data back; at most 32 batches
    await their ack. The floor of "commit, then acknowledge" without any per-record work.

Targets (issue 3): (a) under 5 s on a 2-core machine, and at least 0.1x the raw loop's rate.
The CPU seconds each side used during (a) are printed too: on a shared machine they say more
than the wall time.

The receiver runs as a **separate process**, as in production (it is a service of its own on
the hospital's side): on a 2-core machine the agent's event loop and the receiver's each get a
core (Mosquitto shares them), and neither's GIL slows the other. In-process on a thread, the
two would share one GIL and the figure would say less about either side.

    .venv/bin/python benchmarks/sync_drain.py
    .venv/bin/python benchmarks/sync_drain.py --runs 3 --raw-runs 5
    .venv/bin/python benchmarks/sync_drain.py --profile     # cProfile of both sides, top 25

Also printed: the receiver's blocking core alone (``Ingest.handle`` over the same batches on one
thread, SQLite, no MQTT) - the ceiling of one receiver whatever the link does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import logging
import os
import pstats
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support.broker

from agent.clock import SystemClock
from agent.config.schema import SyncConfig
from agent.events import Event
from agent.journal import Journal, JournalPolicy
from agent.runtime.stream import EventStream
from agent.sync.link import SyncLink
from agent.sync.mqtt_publish import disable_nagle
from agent.sync.nonces import NonceStore
from agent.sync.protocol import (
    CONTENT_TYPE,
    BatchLimits,
    Topic,
    TopicKind,
    pack_batches,
)
from hal_sim.backlog import WEEK_OF_READINGS, week_of_records
from hospital_receiver.ingest import Ingest
from hospital_receiver.sqlite_store import SqliteStore
from tests.support.broker import MosquittoBroker

DEVICE = "cab-or-01"
SITE = "st-bench"
RAW_WINDOW = 100
_BIG = JournalPolicy(budget_bytes=8 << 30, hard_limit_bytes=9 << 30)
_RECEIVER = "from hospital_receiver.cli import main; raise SystemExit(main())"


# --- (a) end to end ----------------------------------------------------------------------------


async def _fill(path: Path, records: list[Event]) -> None:
    journal = await Journal.open(path, device_id=DEVICE, policy=_BIG)
    try:
        for start in range(0, len(records), 10_000):
            await journal.append_many(records[start : start + 10_000])
    finally:
        await journal.close()


def _start_receiver(broker: MosquittoBroker, db: Path, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", _RECEIVER, "run", "--broker", broker.url, "--db", str(db)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while b"msg=subscribed" not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the receiver did not start: {log.read_text()}")
        time.sleep(0.02)
    return process


@dataclass(frozen=True, slots=True)
class Drain:
    """One end-to-end drain: wall seconds, rows the receiver stored, and the CPU seconds each
    side used meanwhile (the agent process: event loop and journal thread; the receiver
    process: all its threads) - on a shared machine the CPU figures say more than the wall."""

    seconds: float
    stored: int
    agent_cpu: float
    receiver_cpu: float


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _drain(
    journal_path: Path, broker: MosquittoBroker, workdir: Path, receiver: int
) -> tuple[float, float, float]:
    """(seconds, agent CPU seconds, receiver CPU seconds) from the link's start until nothing
    is pending."""
    clock = SystemClock()
    journal = await Journal.open(journal_path, device_id=DEVICE, policy=_BIG)
    try:
        stream = EventStream(
            device_id=DEVICE,
            boot_epoch=2,
            clock=clock,
            sink=journal,
            first_sequence=journal.next_sequence,
        )
        link = SyncLink(
            config=SyncConfig(broker_url=broker.url),
            site=SITE,
            boot_epoch=2,
            journal=journal,
            stream=stream,
            clock=clock,
            nonces=NonceStore(workdir / "nonces.db"),
        )
        started = time.perf_counter()
        agent_started = time.process_time()
        receiver_started = _cpu_seconds(receiver)
        task = asyncio.create_task(link.run())
        try:
            while await journal.pending_count():
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
            return (
                time.perf_counter() - started,
                time.process_time() - agent_started,
                _cpu_seconds(receiver) - receiver_started,
            )
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await journal.close()


def end_to_end(records: list[Event], broker: MosquittoBroker, *, profile_dir: Path | None) -> Drain:
    """One drain of a fresh journal."""
    with tempfile.TemporaryDirectory(prefix="hemotrace-drain-") as name:
        workdir = Path(name)
        journal_path = workdir / "journal.db"
        asyncio.run(_fill(journal_path, records))
        receiver = _start_receiver(broker, workdir / "receiver.db", workdir / "receiver.log")
        profiler = cProfile.Profile() if profile_dir is not None else None
        try:
            if profiler is not None:
                profiler.enable()
            seconds, agent_cpu, receiver_cpu = asyncio.run(
                _drain(journal_path, broker, workdir, receiver.pid)
            )
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(profile_dir / "agent.prof")  # type: ignore[operator]
        finally:
            receiver.send_signal(signal.SIGTERM)
            receiver.wait(timeout=60)
        connection = sqlite3.connect(workdir / "receiver.db")
        try:
            (stored,) = connection.execute("SELECT count(*) FROM records").fetchone()
        finally:
            connection.close()
        return Drain(seconds, int(stored), agent_cpu, receiver_cpu)


def receiver_core(batches: list[bytes], *, profile_to: Path | None = None) -> float:
    """Seconds the receiver's blocking core (:meth:`Ingest.handle`: checks, decode, SQLite
    commit, ack) takes for the batches alone, on one thread: what its database thread does.
    (A profile of the receiver process would show only its idle event loop thread.)"""
    topic = str(Topic(SITE, DEVICE, TopicKind.RECORDS))
    logging.getLogger("hospital_receiver.ingest").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="hemotrace-ingest-") as name:
        ingest = Ingest(functools.partial(SqliteStore, Path(name) / "receiver.db"))
        profiler = cProfile.Profile()
        started = time.perf_counter()
        if profile_to is not None:
            profiler.enable()
        for data in batches:
            ingest.handle(topic, CONTENT_TYPE, data)
        if profile_to is not None:
            profiler.disable()
            profiler.dump_stats(profile_to)
        seconds = time.perf_counter() - started
        ingest.close()
    return seconds


# --- (b) raw loop ------------------------------------------------------------------------------


async def raw_loop(batches: list[bytes], broker: MosquittoBroker) -> float:
    """Seconds to publish every batch at QoS 1 with a sliding window, every PUBACK received."""
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.ContentType = CONTENT_TYPE
    window = asyncio.Semaphore(RAW_WINDOW)
    async with aiomqtt.Client(
        broker.host, broker.port, identifier="raw-loop", protocol=aiomqtt.ProtocolVersion.V5
    ) as client:
        client.pending_calls_threshold = RAW_WINDOW + 10

        async def one(data: bytes) -> None:
            try:
                await client.publish("bench/raw", data, qos=1, properties=properties)
            finally:
                window.release()

        started = time.perf_counter()
        async with asyncio.TaskGroup() as tasks:
            for data in batches:
                await window.acquire()
                tasks.create_task(one(data))
        return time.perf_counter() - started


# --- (c) raw loop with a committing subscriber ----------------------------------------------

_ACKING = (
    "import sys; sys.path.insert(0, sys.argv[1]); from sync_drain import acking_subscriber; "
    "acking_subscriber()"
)
_ACK_WINDOW = 32
"""Batches awaiting their ack, as the link's default window."""


def acking_subscriber() -> None:
    """The floor of a committing receiver (run in its own process, ``_ACKING``): each message
    on ``bench/acked/records`` is stored as one BLOB row of a SQLite file (WAL,
    ``synchronous=FULL``), committed, then its correlation data is published back on
    ``bench/acked/acks``. No decoding, no checks, one row per batch instead of one per record."""
    host, port, db = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE batches (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")

    async def serve() -> None:
        async with aiomqtt.Client(
            host, port, identifier="acking", protocol=aiomqtt.ProtocolVersion.V5
        ) as client:
            disable_nagle(client)
            await client.subscribe("bench/acked/records", qos=1)
            print("subscribed", flush=True)
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("INSERT INTO batches (data) VALUES (?)", (message.payload,))
                connection.execute("COMMIT")
                properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                properties.CorrelationData = message.properties.CorrelationData  # type: ignore[union-attr]
                await client.publish("bench/acked/acks", b"", qos=1, properties=properties)

    asyncio.run(serve())


async def acked_loop(batches: list[bytes], broker: MosquittoBroker) -> float:
    """Seconds to publish every batch at QoS 1 to the committing subscriber, at most
    ``_ACK_WINDOW`` awaiting their ack, until every ack is back."""
    window = asyncio.Semaphore(_ACK_WINDOW)
    waiting: dict[bytes, asyncio.Future[None]] = {}
    loop = asyncio.get_running_loop()
    async with aiomqtt.Client(
        broker.host, broker.port, identifier="acked-loop", protocol=aiomqtt.ProtocolVersion.V5
    ) as client:
        client.pending_calls_threshold = RAW_WINDOW + 10
        disable_nagle(client)
        await client.subscribe("bench/acked/acks", qos=1)

        async def acks() -> None:
            async for message in client.messages:
                correlation = message.properties.CorrelationData  # type: ignore[union-attr]
                waiting.pop(bytes(correlation)).set_result(None)
                window.release()

        listener = asyncio.create_task(acks())
        started = time.perf_counter()
        for index, data in enumerate(batches):
            await window.acquire()
            correlation = index.to_bytes(8, "big")
            waiting[correlation] = loop.create_future()
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.CorrelationData = correlation
            await client.publish("bench/acked/records", data, qos=1, properties=properties)
        await asyncio.gather(*waiting.values())
        elapsed = time.perf_counter() - started
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        return elapsed


def acked(batches: list[bytes], broker: MosquittoBroker) -> float:
    """One :func:`acked_loop` against a fresh committing subscriber process."""
    with tempfile.TemporaryDirectory(prefix="hemotrace-acked-") as name:
        command = [
            sys.executable,
            "-c",
            _ACKING,
            str(Path(__file__).resolve().parent),
            broker.host,
            str(broker.port),
            str(Path(name) / "acked.db"),
        ]
        subscriber = subprocess.Popen(command, stdout=subprocess.PIPE)
        try:
            assert subscriber.stdout is not None
            if subscriber.stdout.readline() != b"subscribed\n":
                raise RuntimeError("the committing subscriber did not start")
            return asyncio.run(acked_loop(batches, broker))
        finally:
            subscriber.kill()
            subscriber.wait()


# --- main --------------------------------------------------------------------------------------


def _top(path: Path, title: str, count: int) -> None:
    print(f"\n--- {title}: top {count} by cumulative time ({path}) ---")
    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative").print_stats(count)
    print(f"--- {title}: top {count} by own time ---")
    stats.sort_stats("tottime").print_stats(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="end-to-end drains (median)")
    parser.add_argument("--raw-runs", type=int, default=3, help="raw loops (median)")
    parser.add_argument("--profile", action="store_true", help="cProfile both sides of a drain")
    args = parser.parse_args()

    records = list(week_of_records(DEVICE))
    packed = pack_batches(DEVICE, records, historical=True, limits=BatchLimits())
    batches = [batch.data for batch in packed]
    total_bytes = sum(len(data) for data in batches)
    print(
        f"backlog            {len(records):>10,} records in {len(batches):,} batches"
        f" ({WEEK_OF_READINGS:,} temperature readings)"
    )
    print(f"                   {total_bytes:>10,} bytes of payload")

    with MosquittoBroker() as broker:
        raw = [asyncio.run(raw_loop(batches, broker)) for _ in range(args.raw_runs)]
        floor = [acked(batches, broker) for _ in range(args.raw_runs)]
        drains: list[Drain] = []
        for run in range(args.runs):
            drain = end_to_end(records, broker, profile_dir=None)
            if drain.stored != len(records):
                raise SystemExit(
                    f"run {run}: {drain.stored:,} records stored, {len(records):,} sent"
                )
            drains.append(drain)
        profile_dir = None
        if args.profile:
            profile_dir = Path(tempfile.mkdtemp(prefix="hemotrace-drain-profile-"))
            profiled = end_to_end(records, broker, profile_dir=profile_dir).seconds
    core_s = receiver_core(batches)
    if profile_dir is not None:
        receiver_core(batches, profile_to=profile_dir / "receiver.prof")

    raw_s = statistics.median(raw)
    drain_s = statistics.median(drain.seconds for drain in drains)
    raw_rate = len(records) / raw_s
    drain_rate = len(records) / drain_s
    runs = ", ".join(f"{seconds:.2f}" for seconds in raw)
    print(
        f"raw aiomqtt QoS 1  {raw_s:>10.2f} s  {raw_rate:>12,.0f} records/s"
        f"  {len(batches) / raw_s:>8,.0f} msg/s  (runs: {runs})"
    )
    floor_s = statistics.median(floor)
    runs = ", ".join(f"{seconds:.2f}" for seconds in floor)
    print(
        f"raw, commit + ack  {floor_s:>10.2f} s  {len(records) / floor_s:>12,.0f} records/s"
        f"  {len(batches) / floor_s:>8,.0f} msg/s  (runs: {runs}; one BLOB row per batch,"
        f" {_ACK_WINDOW} awaiting acks)"
    )
    runs = ", ".join(f"{drain.seconds:.2f}" for drain in drains)
    print(
        f"end to end drain   {drain_s:>10.2f} s  {drain_rate:>12,.0f} records/s"
        f"  {len(batches) / drain_s:>8,.0f} msg/s  (runs: {runs};"
        f" {WEEK_OF_READINGS / drain_s:,.0f} readings/s)"
    )
    agent_cpu = statistics.median(drain.agent_cpu for drain in drains)
    receiver_cpu = statistics.median(drain.receiver_cpu for drain in drains)
    print(
        f"  CPU meanwhile    agent {agent_cpu:.2f} s, receiver {receiver_cpu:.2f} s"
        f" (medians; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)"
    )
    print(
        f"receiver core only {core_s:>10.2f} s  {len(records) / core_s:>12,.0f} records/s"
        "  (Ingest.handle on one thread: decode, commit, ack; no MQTT)"
    )
    print(f"drain / raw        {drain_rate / raw_rate:>10.2f} x    (target >= 0.1 x)")
    print(f"drain / raw+commit {floor_s / drain_s:>10.2f} x    (a second baseline, no target)")
    print(f"drain under 5 s    {'yes' if drain_s < 5 else 'NO':>10}      (target < 5 s)")
    if profile_dir is not None:
        print(f"\nprofiled drain     {profiled:>10.2f} s (cProfile slows both sides)")
        _top(profile_dir / "agent.prof", "agent side (SyncLink + journal, this process)", 25)
        _top(profile_dir / "receiver.prof", "receiver core (Ingest.handle, in process)", 25)


if __name__ == "__main__":
    main()
