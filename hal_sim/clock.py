"""Virtual time for the simulator: an asyncio event loop whose clock the simulation owns.

:class:`VirtualTimeLoop` is a selector event loop whose ``time()`` is virtual. At ``speed=None``
(as fast as possible) it never waits for a timer: whenever no callback is ready and no I/O is
pending, it jumps its clock to the next scheduled timer, so a simulated week of one-second
sampling runs in seconds. At a finite ``speed`` it waits ``1/speed`` wall seconds per virtual
second, so a person can watch (``speed=1.0`` is real time).

Because the agent sleeps with ``asyncio.sleep`` and bounds waits with ``asyncio.timeout``, all
of its timing follows this clock without knowing it; :class:`SimClock` gives it the matching
:class:`agent.clock.Clock`. Real I/O still works on this loop (sockets, pipes, threads report
through the selector), and a ready I/O event is always handled before time jumps; but at full
speed the clock does not wait for work in other threads or processes to finish, so those see
virtual time race ahead of them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import selectors
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

__all__ = ["SimClock", "VirtualTimeLoop", "new_virtual_loop"]

T = TypeVar("T")

_NS_PER_S = 1_000_000_000


class _VirtualSelector(selectors.BaseSelector):
    """Wraps a real selector; turns the loop's "wait until the next timer" into a jump of the
    virtual clock (at full speed) or a scaled real wait (at a finite speed)."""

    def __init__(self, inner: selectors.BaseSelector, loop: VirtualTimeLoop) -> None:
        self._inner = inner
        self._loop = loop

    def register(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def get_map(self) -> Mapping[FileDescriptorLike, selectors.SelectorKey]:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self._loop
        if loop.speed is None:
            ready = self._inner.select(0)
            if ready or timeout == 0:
                return ready
            if timeout is None or loop.executor_jobs:
                # No timer at all, or a thread is working for the loop: only I/O (or the
                # thread's wake-up) can move things on, so wait for it for real.
                return self._inner.select(None)
            loop.advance(timeout)
            return []
        wall_timeout = None if timeout is None else timeout / loop.speed
        ready = self._inner.select(wall_timeout)
        loop.catch_up()
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop running on virtual time.

    ``speed`` is virtual seconds per wall second, or ``None`` for as fast as possible; it may be
    changed while the loop runs (the live view's speed keys do). ``start`` is the virtual
    monotonic time the loop starts at.
    """

    def __init__(self, *, speed: float | None = None, start: float = 0.0) -> None:
        self._virtual = start
        self._executor_jobs = 0
        self._speed: float | None = None
        self._wall_anchor = time.monotonic()
        self._virtual_anchor = start
        super().__init__(_VirtualSelector(selectors.DefaultSelector(), self))
        try:
            self.speed = speed
        except ValueError:
            self.close()
            raise

    @property
    def speed(self) -> float | None:
        """Virtual seconds per wall second; ``None`` means as fast as possible."""
        return self._speed

    @speed.setter
    def speed(self, speed: float | None) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be > 0 or None, got {speed}")
        self.catch_up()
        self._speed = speed
        self._wall_anchor = time.monotonic()
        self._virtual_anchor = self._virtual

    def time(self) -> float:
        return self._virtual

    @property
    def executor_jobs(self) -> int:
        """Jobs handed to threads with :meth:`run_in_executor` and not finished yet."""
        return self._executor_jobs

    def run_in_executor(  # type: ignore[override]
        self, executor: concurrent.futures.Executor | None, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        """As the standard loop's, but the clock stands still until the job is done."""
        future = super().run_in_executor(executor, func, *args)
        self._executor_jobs += 1
        future.add_done_callback(self._executor_job_done)
        return future

    def _executor_job_done(self, _: asyncio.Future[Any]) -> None:
        self._executor_jobs -= 1

    def advance(self, seconds: float) -> None:
        """Move virtual time forward (never backward)."""
        if seconds > 0:
            self._virtual += seconds
            self._virtual_anchor = self._virtual
            self._wall_anchor = time.monotonic()

    def catch_up(self) -> None:
        """At a finite speed, bring virtual time level with the wall time elapsed."""
        if self._speed is None:
            return
        target = self._virtual_anchor + (time.monotonic() - self._wall_anchor) * self._speed
        self._virtual = max(self._virtual, target)


def new_virtual_loop(*, speed: float | None = None, start: float = 0.0) -> VirtualTimeLoop:
    """A fresh :class:`VirtualTimeLoop`; run coroutines on it with ``loop.run_until_complete``
    or as ``asyncio.Runner(loop_factory=...)``."""
    return VirtualTimeLoop(speed=speed, start=start)


class SimClock:
    """The :class:`agent.clock.Clock` of a simulation: the virtual loop's time.

    Wall-clock time is ``wall_epoch_ns`` plus the virtual time elapsed since the loop's start,
    so a simulated week carries a week of timestamps. ``synchronised`` is a bench setting
    (a simulated NTP outage sets it False).
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, *, wall_epoch_ns: int, synchronised: bool = True
    ) -> None:
        self._time = loop.time
        self._origin = loop.time()
        self._wall_epoch_ns = wall_epoch_ns
        self.is_synchronised = synchronised

    def monotonic(self) -> float:
        return self._time()

    def wall_ns(self) -> int:
        return self._wall_epoch_ns + round((self._time() - self._origin) * _NS_PER_S)

    def synchronised(self) -> bool:
        return self.is_synchronised
