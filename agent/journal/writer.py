"""Group commit: many concurrent appends, few transactions, and no append left hanging.

Keeps invariant 1 of the brief ("commit before you act"): :meth:`GroupCommitWriter.submit`
returns only once the transaction holding its rows has committed. One writer task takes every
submission queued so far (up to ``max_batch`` rows; a submission is never split) and commits
them in one transaction; rows submitted while that commit is in flight go into the next one. A
lone row is committed at once - the writer never waits to fill a batch.

When a commit fails, every row of that batch and every row queued behind it gets the error: a
failed row never gets committed after rows that were submitted later, and a caller is never
told that its row is committed when it is not. If the error is *sticky* (corruption, I/O), the
writer refuses everything afterwards; a transient one (the hard size limit) only fails what was
waiting. Whatever happens to the writer task itself, no waiter is left hanging.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Sequence

from agent.journal.errors import JournalUnavailable, UnavailableKind
from agent.journal.records import Row

__all__ = ["GroupCommitWriter"]

Commit = Callable[[Sequence[Row]], Awaitable[None]]

_Item = tuple[Sequence[Row], "asyncio.Future[None]"]
"""Rows submitted together (one append, or one burst) and the future their caller awaits."""


class GroupCommitWriter:
    """Queues rows and commits them in groups through ``commit`` (which must be durable)."""

    def __init__(
        self, commit: Commit, *, max_batch: int, on_failure: Callable[[JournalUnavailable], None]
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._commit = commit
        self._max_batch = max_batch
        self._on_failure = on_failure
        self._queue: collections.deque[_Item] = collections.deque()
        self._in_flight: list[_Item] = []
        self._wakeup = asyncio.Event()
        self._closing = False
        self._failure: JournalUnavailable | None = None
        self.transactions = 0
        """Transactions committed so far (a measure of how well appends are grouped)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="journal-writer")

    @property
    def failure(self) -> JournalUnavailable | None:
        """The sticky error that stopped the writer, if one did."""
        return self._failure

    async def submit(self, rows: Sequence[Row]) -> None:
        """Queue ``rows`` (at most ``max_batch``, committed in one transaction); return once
        they are committed, or raise :class:`JournalUnavailable`."""
        if self._failure is not None:
            raise JournalUnavailable(self._failure.kind, self._failure.reason)
        if self._closing:
            raise JournalUnavailable(UnavailableKind.CLOSED, "the journal is closed")
        if not 0 < len(rows) <= self._max_batch:
            raise ValueError(f"submit 1 to {self._max_batch} rows at a time, got {len(rows)}")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((rows, future))
        self._wakeup.set()
        await future

    async def close(self) -> None:
        """Accept nothing more, commit (or fail) everything queued, and stop the writer."""
        self._closing = True
        self._wakeup.set()
        await asyncio.shield(self._task)

    async def _run(self) -> None:
        try:
            while True:
                if not self._queue:
                    if self._closing:
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                await self._commit_next()
        except BaseException as error:
            # The whole point of this handler: whatever stops the writer (a bug, cancellation),
            # every waiting append gets an error instead of hanging; then it propagates.
            failure = JournalUnavailable(
                UnavailableKind.CLOSED, f"the journal writer stopped: {error!r}"
            )
            self._failure = failure
            self._fail_waiters(failure)
            self._on_failure(failure)
            raise

    async def _commit_next(self) -> None:
        queue = self._queue
        batch = [queue.popleft()]
        size = len(batch[0][0])
        while queue and size + len(queue[0][0]) <= self._max_batch:
            size += len(queue[0][0])
            batch.append(queue.popleft())
        self._in_flight = batch
        try:
            await self._commit([row for rows, _ in batch for row in rows])
        except JournalUnavailable as error:
            if error.sticky:
                self._failure = error
            self._fail_waiters(error)
            self._on_failure(error)
            return
        self._in_flight = []
        self.transactions += 1
        for _, future in batch:
            if not future.done():  # an append cancelled meanwhile is still committed
                future.set_result(None)

    def _fail_waiters(self, error: JournalUnavailable) -> None:
        waiting = [*self._in_flight, *self._queue]
        self._in_flight = []
        self._queue.clear()
        for _, future in waiting:
            if not future.done():  # each waiter its own instance: tracebacks stay apart
                future.set_exception(JournalUnavailable(error.kind, error.reason))
