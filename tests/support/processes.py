"""Real agent and receiver processes for the end-to-end tests, and the ground truths they leave.

- :func:`write_profile` writes a small cabinet profile (a few slots, probes sampled every few
  hundredths of a second so records pile up quickly) whose ``[sync]`` points at a test broker.
- :class:`ProcessGroup` starts ``hemotrace run`` and ``hemotrace-receiver run`` as subprocesses
  (stdout and stderr each in a log file), kills them with SIGKILL or stops them with SIGTERM,
  and kills whatever still runs on :meth:`~ProcessGroup.close`; :meth:`~ProcessGroup.report`
  is the tail of every log, for a failing test's report.
- The receiver's SQLite database is the ground truth for "arrived", the agent's journal
  (``<state dir>/<device id>/journal.db``) for "committed by the agent": both are read
  read-only (``mode=ro``), which works while their owner runs (both are in WAL mode).
- :func:`prefill_journal` gives a device a backlog before its agent starts, as a device that was
  offline for a while has: records appended through the agent's own :class:`Journal` under boot
  epoch 1 (claimed with the agent's own :func:`next_boot_epoch`, so the agent starts at 2).
- :func:`wait_for` polls a condition with a generous safety timeout; tests never time anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from agent.journal import Journal
from agent.runtime.boot_epoch import next_boot_epoch
from hal_sim.backlog import WEEK_OF_RECORDS, week_of_records

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "Delivery",
    "Proc",
    "ProcessGroup",
    "Record",
    "check_delivered",
    "drain",
    "drained",
    "ensure_boot_epoch",
    "journal_path",
    "journal_progress",
    "journal_records",
    "prefill_journal",
    "receiver_count",
    "receiver_records",
    "receiver_sequence_duplicates",
    "wait_for",
    "write_profile",
]

DEFAULT_TIMEOUT_S = 120.0
"""Safety net of every wait: far above what any condition needs on a slow machine."""

_STOP_TIMEOUT_S = 30.0
_LOG_TAIL_LINES = 150

_RECEIVER_MAIN = "from hospital_receiver.cli import main; raise SystemExit(main())"


def write_profile(
    path: Path,
    *,
    device_id: str,
    broker_url: str,
    site: str = "st-test",
    slots: int = 4,
    probes: int = 8,
    interval_s: float = 0.05,
) -> Path:
    """A cabinet profile at ``path`` on the simulator backend, syncing to ``broker_url`` without
    a password; ``probes`` probes (half air, half product) sampled every ``interval_s``."""
    lines = [
        "schema = 1",
        "[device]",
        f'id = "{device_id}"',
        f'site = "{site}"',
        'kind = "cabinet"',
        'description = "end-to-end test cabinet"',
        "[hardware]",
        'backend = "sim"',
        "[cabinet]",
        f"slots = {slots}",
        "slot_release_s = 30.0",
        "[[doors]]",
        'name = "main"',
        "locked = true",
        "[rfid]",
        'name = "rfid"',
        "per_slot = true",
        "[scanner]",
        'name = "scanner"',
        "[badge_reader]",
        'name = "badge"',
    ]
    for index in range(probes):
        kind = "air" if index < (probes + 1) // 2 else "product"
        lines += [
            "[[probes]]",
            f'name = "{kind}-{index}"',
            f'kind = "{kind}"',
            f"interval_s = {interval_s}",
            "plausible_min_c = -20.0",
            "plausible_max_c = 50.0",
        ]
    lines += [
        "[storage]",
        'product_class = "red_cells"',
        "min_c = 2.0",
        "max_c = 6.0",
        "[power]",
        "battery = true",
        "low_battery_fraction = 0.2",
        "[sync]",
        f'broker_url = "{broker_url}"',
        "[sim]",
        "seed = 1",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def journal_path(state_dir: Path, device_id: str) -> Path:
    """Where ``hemotrace run --state-dir state_dir`` keeps ``device_id``'s journal."""
    return state_dir / device_id / "journal.db"


# --- processes -------------------------------------------------------------------------------


class Proc:
    """One subprocess with its output in a log file."""

    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        with log_path.open("ab") as log:
            log.write(f"=== {name}: {' '.join(argv)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self._log_start = log_path.stat().st_size

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._process.poll()

    @property
    def log(self) -> str:
        """What this run wrote so far."""
        try:
            return self.log_path.read_bytes()[self._log_start :].decode(errors="replace")
        except FileNotFoundError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, nothing flushed."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGKILL)
        self._process.wait(timeout=_STOP_TIMEOUT_S)

    def terminate(self, timeout: float = _STOP_TIMEOUT_S) -> int:
        """SIGTERM and wait for the exit status (SIGKILL and an error if it does not exit)."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGTERM)
        try:
            return self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"{self.name} did not stop within {timeout} s of SIGTERM; its log:\n{self.log}"
            ) from None

    def wait(self, timeout: float = DEFAULT_TIMEOUT_S) -> int:
        return self._process.wait(timeout=timeout)

    def __repr__(self) -> str:
        state = "running" if self.alive else f"exited {self.returncode}"
        return f"<{self.name} pid={self.pid} {state}>"


class ProcessGroup:
    """The processes of one test; :meth:`close` kills those still running."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.processes: list[Proc] = []
        self._counter = itertools.count(1)

    def start(self, name: str, argv: list[str]) -> Proc:
        process = Proc(name, argv, self.workdir / f"{name}.log")
        self.processes.append(process)
        return process

    def agent(self, profile: Path, state_dir: Path, *, name: str = "agent") -> Proc:
        """``hemotrace run --profile profile --state-dir state_dir``."""
        argv = [sys.executable, "-m", "agent", "run", "--profile", str(profile)]
        return self.start(name, [*argv, "--state-dir", str(state_dir)])

    def receiver(self, broker_url: str, db: Path, *extra: str, name: str = "receiver") -> Proc:
        """``hemotrace-receiver run --broker broker_url --db db``."""
        argv = [sys.executable, "-c", _RECEIVER_MAIN, "run", "--broker", broker_url]
        return self.start(name, [*argv, "--db", str(db), *extra])

    def receiver_command(
        self, broker_url: str, site: str, device: str, *args: str, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """``hemotrace-receiver command ...``, run to completion; its output is logged too."""
        argv = [sys.executable, "-c", _RECEIVER_MAIN, "command", "--broker", broker_url]
        argv += ["--site", site, "--device", device, *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        log = self.workdir / f"command-{next(self._counter)}.log"
        log.write_text(
            f"=== {' '.join(argv)}\nexit {done.returncode}\n--- stdout\n{done.stdout}"
            f"--- stderr\n{done.stderr}"
        )
        return done

    def close(self) -> None:
        for process in self.processes:
            with contextlib.suppress(Exception):
                process.kill()

    def report(self) -> str:
        """The tail of every log of this group (each process name once, all its runs)."""
        parts = []
        for log in sorted(self.workdir.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()
            skipped = max(0, len(lines) - _LOG_TAIL_LINES)
            head = f"--- {log.name} ({skipped} earlier lines not shown) ---" if skipped else ""
            parts.append(head or f"--- {log.name} ---")
            parts.extend(lines[skipped:])
        return "\n".join(parts) + "\n"


def wait_for(
    condition: Callable[[], bool],
    what: str,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    interval: float = 0.05,
    watch: Iterable[Proc] = (),
) -> None:
    """Poll ``condition`` until it holds; fail saying ``what`` after ``timeout`` s (a safety
    net, not a measurement) or as soon as a process in ``watch`` has exited."""
    watched = list(watch)
    deadline = time.monotonic() + timeout
    while not condition():
        for process in watched:
            if not process.alive:
                raise AssertionError(
                    f"{process.name} exited ({process.returncode}) while waiting for {what}; "
                    f"its log:\n{process.log[-8000:]}"
                )
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


# --- the ground truths ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    """A record as both ends store it (the identity is the key of the maps below)."""

    type: str
    wall_ns: int
    monotonic_ns: int
    clock_synchronised: bool
    payload: bytes


Key = tuple[int, int]
"""(boot epoch, sequence) of one device."""


def _read_only(path: Path) -> sqlite3.Connection | None:
    if not path.exists():
        return None
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    connection.execute("PRAGMA busy_timeout = 30000")
    return connection


def _query(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    connection = _read_only(path)
    if connection is None:
        return []
    try:
        return connection.execute(sql, params).fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return []
        raise
    finally:
        connection.close()


def journal_records(path: Path) -> tuple[dict[Key, Record], set[Key]]:
    """Every record the journal holds, and the keys of those still pending."""
    rows = _query(
        path,
        "SELECT boot_epoch, sequence, type, wall_ns, monotonic_ns, clock_synchronised, payload,"
        " acknowledged_wall_ns IS NULL FROM records",
    )
    records: dict[Key, Record] = {}
    pending: set[Key] = set()
    for epoch, sequence, kind, wall, mono, synced, payload, is_pending in rows:
        key = (int(epoch), int(sequence))
        records[key] = Record(str(kind), int(wall), int(mono), bool(synced), bytes(payload))
        if is_pending:
            pending.add(key)
    return records, pending


@dataclass(frozen=True, slots=True)
class JournalProgress:
    """Counts from the journal about the records up to a sequence."""

    highest: int
    """The journal's highest sequence (-1 when empty)."""
    held: int
    """Records with a sequence at or below the mark."""
    pending: int
    """Of those, still waiting for the hospital's acknowledgement."""


def journal_progress(path: Path, mark: int | None = None) -> JournalProgress:
    """How far the journal's records up to ``mark`` (default: all) are acknowledged."""
    rows = _query(
        path,
        "SELECT coalesce(max(sequence), -1),"
        " count(*) FILTER (WHERE sequence <= ?1),"
        " count(*) FILTER (WHERE sequence <= ?1 AND acknowledged_wall_ns IS NULL)"
        " FROM records",
        (2**63 - 1 if mark is None else mark,),
    )
    if not rows:
        return JournalProgress(-1, 0, 0)
    highest, held, pending = rows[0]
    return JournalProgress(int(highest), int(held), int(pending))


def receiver_records(db: Path, device: str) -> dict[Key, Record]:
    """Every record of ``device`` in the receiver's database."""
    rows = _query(
        db,
        "SELECT boot_epoch, sequence, type, wall_ns, monotonic_ns, clock_synchronised, payload"
        " FROM records WHERE device = ?",
        (device,),
    )
    return {
        (int(epoch), int(sequence)): Record(
            str(kind),
            int(wall),
            int(mono),
            bool(synced),
            bytes(payload),
        )
        for epoch, sequence, kind, wall, mono, synced, payload in rows
    }


def receiver_count(db: Path, device: str, mark: int | None = None) -> int:
    """How many records of ``device`` with a sequence at or below ``mark`` arrived."""
    rows = _query(
        db,
        "SELECT count(*) FROM records WHERE device = ? AND sequence <= ?",
        (device, 2**63 - 1 if mark is None else mark),
    )
    return int(rows[0][0]) if rows else 0


def receiver_sequence_duplicates(db: Path, device: str) -> list[tuple[object, ...]]:
    """Sequences of ``device`` stored more than once (under different boot epochs: an identity
    reused by the device). The primary key already rules out the same identity twice."""
    return _query(
        db,
        "SELECT sequence, count(*) FROM records WHERE device = ? GROUP BY sequence"
        " HAVING count(*) > 1 LIMIT 20",
        (device,),
    )


# --- a backlog -------------------------------------------------------------------------------


def ensure_boot_epoch(state_dir: Path, device_id: str) -> int:
    """Claim the next boot epoch of ``device_id`` as the agent does at start."""
    return next_boot_epoch(state_dir / device_id)


def prefill_journal(state_dir: Path, device_id: str, count: int) -> int:
    """Append the first ``count`` records of a cabinet's offline week (``hal_sim.backlog``: a
    sampling tick of 8 probes every 10 s and other events, at most ``WEEK_OF_RECORDS``) to
    ``device_id``'s journal under a boot epoch of their own; return that epoch.

    Wall times are moved to end now (a week's backlog stays inside every retention).
    """
    if not 0 < count <= WEEK_OF_RECORDS:
        raise ValueError(f"a week's backlog has 1 to {WEEK_OF_RECORDS} records, not {count}")
    epoch = ensure_boot_epoch(state_dir, device_id)
    path = journal_path(state_dir, device_id)

    async def fill() -> None:
        journal = await Journal.open(path, device_id=device_id)
        try:
            events = list(
                itertools.islice(
                    week_of_records(
                        device_id, boot_epoch=epoch, first_sequence=journal.next_sequence
                    ),
                    count,
                )
            )
            shift = time.time_ns() - events[-1].wall_ns - 1_000_000_000
            for start in range(0, len(events), 5000):
                await journal.append_many(
                    [
                        dataclasses.replace(event, wall_ns=event.wall_ns + shift)
                        for event in events[start : start + 5000]
                    ]
                )
        finally:
            await journal.close()

    asyncio.run(fill())
    return epoch


# --- delivery --------------------------------------------------------------------------------


def drained(journal: Path, db: Path, device: str, mark: int) -> bool:
    """Every journal record up to ``mark`` is acknowledged in the journal and in the database
    (counted; :func:`check_delivered` compares the records themselves)."""
    progress = journal_progress(journal, mark)
    return progress.pending == 0 and receiver_count(db, device, mark) == progress.held


def drain(journal: Path, db: Path, device: str, *, watch: Iterable[Proc] = ()) -> int:
    """Wait until everything the journal holds now is acknowledged and stored; return the
    highest sequence that was waited for (records appended later may still be in flight)."""
    mark = journal_progress(journal).highest
    wait_for(
        lambda: drained(journal, db, device, mark),
        f"every record up to sequence {mark} acknowledged and in the database",
        watch=watch,
    )
    return mark


@dataclass(frozen=True, slots=True)
class Delivery:
    """Both ends' records once the agent stopped."""

    committed: dict[Key, Record]
    pending: set[Key]
    arrived: dict[Key, Record]


def check_delivered(journal: Path, db: Path, device: str, mark: int) -> Delivery:
    """Assert that every record the journal holds up to ``mark`` arrived exactly once, as
    committed; that nothing arrived the journal does not hold; that nothing up to ``mark`` is
    pending; and that what did not arrive is pending. Call once the agent has stopped."""
    committed, pending = journal_records(journal)
    arrived = receiver_records(db, device)
    unknown = sorted(set(arrived) - set(committed))
    assert not unknown, f"in the database but not in the journal: {unknown[:10]}"
    missing = sorted(key for key in set(committed) - set(arrived) if key[1] <= mark)
    assert not missing, f"committed by the agent, not in the database: {missing[:10]}"
    changed = [key for key, record in arrived.items() if committed[key] != record]
    assert not changed, f"stored differently from the journal: {changed[:10]}"
    assert receiver_sequence_duplicates(db, device) == []
    assert len(arrived) == receiver_count(db, device)
    late = sorted(key for key in pending if key[1] <= mark)
    assert not late, f"still pending in the journal: {late[:10]}"
    assert set(committed) - set(arrived) <= pending, "records neither arrived nor pending"
    return Delivery(committed, pending, arrived)
