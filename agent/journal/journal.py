"""The journal: the durable event sink and the outbox of the sync link.

Keeps invariants 1 and 2 of the brief for the agent as a whole: ``await journal.append(event)``
returns only once the event is committed to stable storage (group commit, see
:mod:`agent.journal.writer`), and a record stays pending in the outbox until the hospital side
acknowledges it. The event loop never blocks on the database: one connection is owned by one
dedicated worker thread (a single-thread executor), and every database call is sent there -
WAL checkpoints stall for milliseconds.

Typical use by the runtime::

    journal = await Journal.open(state_dir / "journal.db", device_id=device_id)
    stream = EventStream(..., sink=journal, first_sequence=journal.next_sequence)
    ...
    report = await journal.maintain(clock.wall_ns())   # periodically
    ...
    await journal.close()

The sync link's use of the outbox is described in ``docs/journal.md``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from agent.events import Event
from agent.journal.errors import JournalUnavailable, UnavailableKind
from agent.journal.maintenance import maintain
from agent.journal.policy import JournalHealth, JournalPolicy, MaintenanceReport
from agent.journal.records import (
    Classifier,
    PendingRow,
    Row,
    StoredRecord,
    default_classify,
    to_row,
)
from agent.journal.store import JournalStore
from agent.journal.writer import GroupCommitWriter

__all__ = ["MAX_JOURNAL_SEQUENCE", "Journal"]

T = TypeVar("T")

MAX_JOURNAL_SEQUENCE = 2**63 - 1
"""SQLite integers are signed 64-bit: the journal stores sequences up to 2**63 - 1 (at a
million records a second, a quarter of a million years)."""


class Journal:
    """An open journal. Create with :meth:`open`; one per device, used from one event loop."""

    def __init__(
        self,
        executor: concurrent.futures.ThreadPoolExecutor,
        store: JournalStore,
        policy: JournalPolicy,
        classify: Classifier,
        max_batch_rows: int,
    ) -> None:
        self._executor = executor
        self._store = store
        self._policy = policy
        self._classify = classify
        self._accepted = store.next_sequence
        self._health = JournalHealth.OK
        self._closed = False
        self._max_batch_rows = max_batch_rows
        self._writer = GroupCommitWriter(
            self._commit, max_batch=max_batch_rows, on_failure=self._failed
        )

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        device_id: str,
        policy: JournalPolicy | None = None,
        classify: Classifier = default_classify,
        max_batch_rows: int = 1000,
    ) -> Journal:
        """Open or create the journal at ``path`` for ``device_id``.

        Raises :class:`JournalUnavailable` when the file cannot be created or written, is
        corrupt (it is left untouched), belongs to another device or to a newer schema.
        """
        if not device_id:
            raise ValueError("device_id must not be empty")
        policy = JournalPolicy() if policy is None else policy
        executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="journal")
        opener = functools.partial(JournalStore, Path(path), device_id, policy.hard_limit_bytes)
        try:
            store = await asyncio.get_running_loop().run_in_executor(executor, opener)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(executor, store, policy, classify, max_batch_rows)

    async def __aenter__(self) -> Journal:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # --- state -------------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._store.path

    @property
    def device_id(self) -> str:
        return self._store.device_id

    @property
    def policy(self) -> JournalPolicy:
        return self._policy

    @property
    def next_sequence(self) -> int:
        """The sequence the next appended event must have at least: one more than the highest
        ever accepted on this device (0 for a new journal)."""
        return self._accepted

    @property
    def health(self) -> JournalHealth:
        """OK / THINNING / FULL as the last maintenance found it; FULL also after the hard limit
        refused an append; UNAVAILABLE once the journal failed for good or was closed."""
        return self._health

    @property
    def transactions(self) -> int:
        """Append transactions committed since open (fewer than appends when grouping works)."""
        return self._writer.transactions

    # --- the sink ----------------------------------------------------------------------------

    async def append(self, event: Event) -> None:
        """Make ``event`` durable: return once the transaction holding it is committed.

        Raises :class:`JournalUnavailable` when it could not be committed (the event is then
        not in the journal), ``ValueError`` for an event of another device or a sequence that
        does not increase.
        """
        await self._writer.add(self._accept(event))

    async def append_many(self, events: Sequence[Event]) -> None:
        """Make a burst of events durable (in sequence order): return once all are committed.

        Cheaper per event than one :meth:`append` each (one wait for the burst). Each chunk of
        ``max_batch_rows`` events is committed in one transaction: if this raises
        :class:`JournalUnavailable`, chunks before the failed one may be committed, none after.
        """
        rows = [self._accept(event) for event in events]
        size = self._max_batch_rows
        for start in range(0, len(rows), size):
            await self._writer.submit_nowait(rows[start : start + size])

    def _accept(self, event: Event) -> Row:
        """Check ``event`` belongs here and comes next; claim its sequence; return its row."""
        if self._closed:
            raise JournalUnavailable(UnavailableKind.CLOSED, "the journal is closed")
        record_id = event.id
        if record_id.device_id != self._store.device_id:
            raise ValueError(
                f"event {record_id} is of another device than the journal's "
                f"({self._store.device_id!r})"
            )
        sequence = record_id.sequence
        if not self._accepted <= sequence <= MAX_JOURNAL_SEQUENCE:
            raise ValueError(
                f"event {record_id}: sequence must be in [{self._accepted}, "
                f"{MAX_JOURNAL_SEQUENCE}] (sequences only increase on a device)"
            )
        row = to_row(event, self._classify(event))
        self._accepted = sequence + 1
        return row

    def _commit(self, rows: Sequence[Row]) -> asyncio.Future[None]:
        # run_in_executor, not a thread of our own: the simulator's virtual clock stands still
        # while such a job runs (hal_sim.clock.VirtualTimeLoop.executor_jobs).
        return asyncio.get_running_loop().run_in_executor(self._executor, self._store.insert, rows)

    def _failed(self, error: JournalUnavailable) -> None:
        if error.kind is UnavailableKind.FULL:
            self._health = JournalHealth.FULL
        elif error.sticky:
            self._health = JournalHealth.UNAVAILABLE

    # --- the outbox --------------------------------------------------------------------------

    async def pending(
        self,
        after_sequence: int = -1,
        limit: int = 100,
        max_bytes: int = 65536,
        *,
        before_sequence: int | None = None,
    ) -> list[StoredRecord]:
        """Pending records with ``after_sequence < sequence < before_sequence``, oldest first.

        At most ``limit`` records and ``max_bytes`` bytes of CBOR payload - but always at least
        one record when there is one, however large. Pass the last sequence of the previous
        batch as ``after_sequence`` to page through the outbox.
        """
        if limit < 1 or max_bytes < 1:
            raise ValueError("limit and max_bytes must be positive")
        return await self._run(
            self._store.pending, after_sequence, before_sequence, limit, max_bytes
        )

    async def pending_rows(
        self,
        after_sequence: int = -1,
        limit: int = 100,
        max_bytes: int = 65536,
        *,
        before_sequence: int | None = None,
    ) -> list[PendingRow]:
        """:meth:`pending` as plain :data:`~agent.journal.records.PendingRow` tuples: what the
        sync link reads a backlog with (a :class:`StoredRecord` each costs more to build than
        the query itself)."""
        if limit < 1 or max_bytes < 1:
            raise ValueError("limit and max_bytes must be positive")
        return await self._run(
            self._store.pending_rows, after_sequence, before_sequence, limit, max_bytes
        )

    async def acknowledge(self, sequences: Iterable[int], now_wall_ns: int) -> int:
        """Durably mark ``sequences`` acknowledged (the hospital side committed them) at the
        caller's wall time ``now_wall_ns``; return how many were pending. Idempotent; unknown
        sequences are ignored."""
        return await self._run(self._store.acknowledge, tuple(sequences), now_wall_ns)

    async def last_acknowledged(self) -> int | None:
        """The highest sequence the hospital side ever acknowledged (None if none): for the
        birth certificate. Survives restarts and the deletion of the record itself."""
        return await self._run(lambda: self._store.last_acknowledged)

    async def pending_count(self) -> int:
        """How many records wait for an acknowledgement."""
        return await self._run(lambda: self._store.pending_count)

    async def resend_from(self, sequence: int) -> int:
        """Make every acknowledged record with a sequence at or above ``sequence`` that the
        journal still holds pending again (a resync command); return how many."""
        return await self._run(self._store.resend_from, sequence)

    async def records_of(self, types: Iterable[str]) -> list[StoredRecord]:
        """Every record still held of one of ``types``, acknowledged or not, oldest first:
        what a workflow's state is rebuilt from after a restart."""
        return await self._run(self._store.of_types, tuple(sorted(set(types))))

    # --- maintenance -------------------------------------------------------------------------

    async def maintain(self, now_wall_ns: int) -> MaintenanceReport:
        """Apply retention and the size budget at the caller's wall time (see
        :mod:`agent.journal.maintenance`); the report's health becomes :attr:`health`."""
        report = await self._run(maintain, self._store, self._policy, now_wall_ns)
        self._health = report.health
        return report

    async def close(self) -> None:
        """Commit every append already waiting, checkpoint the WAL, close. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._writer.close()
            await self._on_thread(self._store.close)
        finally:
            self._health = JournalHealth.UNAVAILABLE
            self._executor.shutdown(wait=False)

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        """Run ``function(*args)`` on the database thread; refuse once the journal failed."""
        if self._closed:
            raise JournalUnavailable(UnavailableKind.CLOSED, "the journal is closed")
        failure = self._writer.failure
        if failure is not None:
            raise JournalUnavailable(failure.kind, failure.reason)
        return await self._on_thread(function, *args)

    async def _on_thread(self, function: Callable[..., T], *args: object) -> T:
        """Run ``function(*args)`` on the database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))
