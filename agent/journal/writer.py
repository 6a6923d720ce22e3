"""Group commit: many concurrent appends, few transactions, and no append left hanging.

Keeps invariant 1 of the brief ("commit before you act"): the future :meth:`GroupCommitWriter.add`
returns is done only once the transaction holding its rows has committed. Rows added while no
commit is in flight are handed to one commit at the end of the event loop's current pass (so
every append made in that pass shares the transaction); rows added while a commit is in flight
go into the next one, started as soon as that commit returns. A batch holds at most
``max_batch`` rows and a submission is never split. A lone row is committed at once - the
writer never waits to fill a batch.

There is no writer task: the commit's completion callback resolves the waiters and starts the
next commit, so an append costs the event loop one future and no task switch of its own.

When a commit fails, every row of that batch and every row queued behind it gets the error: a
failed row never gets committed after rows that were submitted later, and a caller is never
told that its row is committed when it is not. If the error is *sticky* (corruption, I/O), the
writer refuses everything afterwards; a transient one (the hard size limit) only fails what was
waiting. If the commit itself breaks (a bug, cancellation), every waiter gets an error, the
writer refuses everything afterwards, and :meth:`GroupCommitWriter.close` re-raises it.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Sequence

from agent.journal.errors import JournalUnavailable, UnavailableKind
from agent.journal.records import Row

__all__ = ["GroupCommitWriter"]

Commit = Callable[[Sequence[Row]], Awaitable[None]]
"""Commits rows durably in one transaction; best an :class:`asyncio.Future` (such as
``loop.run_in_executor``'s), which is awaited without a task."""

_Batch = tuple[list[Row], list["asyncio.Future[None]"]]
"""The rows of one transaction and the futures of their callers."""


class GroupCommitWriter:
    """Queues rows and commits them in groups through ``commit`` (which must be durable)."""

    def __init__(
        self, commit: Commit, *, max_batch: int, on_failure: Callable[[JournalUnavailable], None]
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._loop = asyncio.get_running_loop()
        self._commit = commit
        self._max_batch = max_batch
        self._on_failure = on_failure
        self._rows: list[Row] = []
        """The open batch: rows not handed to a commit yet (with ``_waiters``)."""
        self._waiters: list[asyncio.Future[None]] = []
        self._full: collections.deque[_Batch] = collections.deque()
        """Batches that reached ``max_batch`` rows, oldest first, before the open one."""
        self._in_flight: _Batch | None = None
        self._scheduled = False
        self._closing = False
        self._drained: list[asyncio.Future[None]] = []
        self._failure: JournalUnavailable | None = None
        self._crash: BaseException | None = None
        self.transactions = 0
        """Transactions committed so far (a measure of how well appends are grouped)."""

    @property
    def failure(self) -> JournalUnavailable | None:
        """The sticky error that stopped the writer, if one did."""
        return self._failure

    def add(self, row: Row) -> asyncio.Future[None]:
        """Queue one row; the future is done once it is committed, or fails with
        :class:`JournalUnavailable`. Raises at once if the writer refuses rows."""
        if self._failure is not None or self._closing:
            self._refuse()
        future = self._loop.create_future()
        if len(self._rows) >= self._max_batch:
            self._seal()
        self._rows.append(row)
        self._waiters.append(future)
        if self._in_flight is None and not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._start)
        return future

    async def submit(self, rows: Sequence[Row]) -> None:
        """Queue ``rows`` (at most ``max_batch``, committed in one transaction); return once
        they are committed, or raise :class:`JournalUnavailable`."""
        await self.submit_nowait(rows)

    def submit_nowait(self, rows: Sequence[Row]) -> asyncio.Future[None]:
        """As :meth:`submit`, returning the future to await."""
        if self._failure is not None or self._closing:
            self._refuse()
        if not 0 < len(rows) <= self._max_batch:
            raise ValueError(f"submit 1 to {self._max_batch} rows at a time, got {len(rows)}")
        future = self._loop.create_future()
        if len(self._rows) + len(rows) > self._max_batch:
            self._seal()
        self._rows.extend(rows)
        self._waiters.append(future)
        if self._in_flight is None and not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._start)
        return future

    async def close(self) -> None:
        """Accept nothing more, commit (or fail) everything queued; re-raise what broke the
        commit, if something did."""
        self._closing = True
        if self._in_flight is not None or self._scheduled:
            drained = self._loop.create_future()
            self._drained.append(drained)
            await asyncio.shield(drained)
        if self._crash is not None:
            raise self._crash

    def _refuse(self) -> None:
        if self._failure is not None:
            raise JournalUnavailable(self._failure.kind, self._failure.reason)
        raise JournalUnavailable(UnavailableKind.CLOSED, "the journal is closed")

    def _seal(self) -> None:
        """Close the open batch (it is full): later rows go into a new one."""
        if self._rows:
            self._full.append((self._rows, self._waiters))
            self._rows = []
            self._waiters = []

    def _start(self) -> None:
        """Hand the oldest batch to a commit (nothing is in flight)."""
        self._scheduled = False
        if self._full:
            batch = self._full.popleft()
        elif self._rows:
            batch = (self._rows, self._waiters)
            self._rows = []
            self._waiters = []
        else:
            self._resolve_drained()
            return
        self._in_flight = batch
        try:
            pending = asyncio.ensure_future(self._commit(batch[0]))
        except BaseException as error:  # noqa: BLE001 - reported to every waiter, then raised by close
            self._stop(error)
            return
        pending.add_done_callback(self._committed)

    def _committed(self, pending: asyncio.Future[None]) -> None:
        batch = self._in_flight
        if batch is None:  # the writer was stopped meanwhile
            return
        if pending.cancelled():
            self._stop(asyncio.CancelledError())
            return
        error = pending.exception()
        if error is not None and not isinstance(error, JournalUnavailable):
            self._stop(error)
            return
        self._in_flight = None
        if error is not None:
            if error.sticky:
                self._failure = error
            self._fail((batch, *self._full, (self._rows, self._waiters)), error)
            self._full.clear()
            self._rows = []
            self._waiters = []
            self._on_failure(error)
            self._resolve_drained()
            return
        self.transactions += 1
        for future in batch[1]:
            if not future.done():  # an append cancelled meanwhile is still committed
                future.set_result(None)
        self._start()

    def _stop(self, error: BaseException) -> None:
        """The commit broke (a bug, cancellation): fail every waiter and refuse from now on."""
        failure = JournalUnavailable(
            UnavailableKind.CLOSED, f"the journal writer stopped: {error!r}"
        )
        self._failure = failure
        self._crash = error
        batches = [*self._full, (self._rows, self._waiters)]
        if self._in_flight is not None:
            batches.insert(0, self._in_flight)
        self._in_flight = None
        self._full.clear()
        self._rows = []
        self._waiters = []
        self._fail(batches, failure)
        self._on_failure(failure)
        self._resolve_drained()

    @staticmethod
    def _fail(batches: Sequence[_Batch], error: JournalUnavailable) -> None:
        for _, waiters in batches:
            for future in waiters:
                if not future.done():  # each waiter its own instance: tracebacks stay apart
                    future.set_exception(JournalUnavailable(error.kind, error.reason))

    def _resolve_drained(self) -> None:
        drained, self._drained = self._drained, []
        for future in drained:
            if not future.done():
                future.set_result(None)
