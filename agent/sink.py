"""Where events are made durable: the contract between the event stream and the journal.

:class:`EventSink` is what :class:`~agent.runtime.stream.EventStream` awaits before it tells
anyone an event happened (invariant 1: commit, then act). A sink that cannot make an event
durable raises :class:`SinkUnavailable` (the journal's ``JournalUnavailable`` is one), and the
event counts as not recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agent.events import Event

__all__ = ["EventSink", "SinkUnavailable"]


class SinkUnavailable(Exception):
    """The sink could not make an event durable; the event is not recorded."""


class EventSink(Protocol):
    """``append`` returns once the event is committed; ``append_many`` once every event of a
    burst is. Both raise :class:`SinkUnavailable` when they cannot."""

    async def append(self, event: Event) -> None: ...

    async def append_many(self, events: Sequence[Event]) -> None: ...
