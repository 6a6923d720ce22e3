"""A watched value: the simulator's way of turning a state change into a HAL ``watch()`` stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

__all__ = ["Signal"]

T = TypeVar("T")


class Signal(Generic[T]):
    """Holds a value and wakes every watcher when it changes.

    ``watch()`` yields the value at the time of the call and then each new value, including a
    change made while the watcher was busy between two reads. A watcher that is slower than
    the changes sees the latest value, not every intermediate one - which is what a debounced
    sensor reports too.
    """

    def __init__(self, value: T) -> None:
        self._value = value
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def value(self) -> T:
        return self._value

    def set(self, value: T) -> None:
        """Change the value; watchers wake only if it is different."""
        if value == self._value:
            return
        self._value = value
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def changed(self) -> T:
        """Wait for the next change and return the new value."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter
        return self._value

    async def watch(self) -> AsyncIterator[T]:
        last = self._value
        yield last
        while True:
            if self._value == last:
                await self.changed()
            value = self._value
            if value != last:
                last = value
                yield value
