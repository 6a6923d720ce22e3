"""Keeping a part's service alive through hardware faults.

A service that watches a part (a door sensor, a reader) must outlive the part's failures:
:func:`watch_with_recovery` runs the watch, records a :class:`~agent.events.HardwareFault` when
the part fails, retries with capped exponential backoff on the agent's clock, and records the
recovery when the part answers again (invariant 8: a fault is an event, never a crash). An
event the journal refuses does not stop the watch either: the stream has logged it and raised
the alarm.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from agent.events import HardwareFault
from agent.hal.errors import HalError
from agent.runtime.stream import EventStream
from agent.sink import SinkUnavailable

__all__ = ["Backoff", "watch_with_recovery"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Retry delays: ``initial_s``, doubling up to ``max_s``."""

    initial_s: float = 1.0
    max_s: float = 60.0


async def watch_with_recovery(
    part: str,
    stream: EventStream,
    watch: Callable[[], AsyncIterator[T]],
    on_value: Callable[[T], Awaitable[None]],
    backoff: Backoff = Backoff(),
) -> None:
    """Feed every value of ``watch()`` to ``on_value``, surviving the part's failures; runs
    until cancelled."""
    failed: HalError | None = None
    delay = backoff.initial_s
    while True:
        try:
            async for value in watch():
                if failed is not None:
                    await _record(
                        stream,
                        HardwareFault(
                            part=part,
                            error=type(failed).__name__,
                            detail="answering again",
                            recovered=True,
                        ),
                    )
                    failed = None
                    delay = backoff.initial_s
                with contextlib.suppress(SinkUnavailable):  # logged and alarmed by the stream
                    await on_value(value)
        except HalError as error:
            if failed is None or type(failed) is not type(error):
                await _record(
                    stream,
                    HardwareFault(part=part, error=type(error).__name__, detail=error.detail),
                )
            failed = error
        await asyncio.sleep(delay)
        delay = min(delay * 2, backoff.max_s)


async def _record(stream: EventStream, fault: HardwareFault) -> None:
    """Record a fault; if the journal refuses it, the stream has logged and alarmed already,
    and watching the part goes on."""
    with contextlib.suppress(SinkUnavailable):
        await stream.record(fault)
