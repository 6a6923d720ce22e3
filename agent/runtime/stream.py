"""The event stream: stamps payloads into :class:`~agent.events.Event` records and hands them on.

Every service records what it observes through :meth:`EventStream.record`. The stream gives each
event its identity (device id, boot epoch, next sequence) and its three time facts from the
clock, then:

1. awaits the durable sink (the journal, once it exists), so that ``await record(...)`` returns
   only when the event is as safe as the sink makes it - the contract "commit, then act" builds
   on;
2. tells every observer (logs, the live view), synchronously and in order. Observers must be
   quick and must not raise; one that raises is logged and dropped, it never stops recording.

Sequences are assigned in call order and are never reused within a boot epoch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from agent.clock import Clock
from agent.events import MAX_SEQUENCE, Event, Payload, RecordId

__all__ = ["EventSink", "EventStream", "Observer"]

_log = logging.getLogger(__name__)

Observer = Callable[[Event], None]


class EventSink(Protocol):
    """Where events are made durable. ``append`` returns once the event is committed."""

    async def append(self, event: Event) -> None: ...


class EventStream:
    """Stamps and distributes the events of one agent run."""

    def __init__(
        self,
        *,
        device_id: str,
        boot_epoch: int,
        clock: Clock,
        sink: EventSink | None = None,
        first_sequence: int = 0,
    ) -> None:
        self._device_id = device_id
        self._boot_epoch = boot_epoch
        self._clock = clock
        self._sink = sink
        self._next_sequence = first_sequence
        self._observers: list[Observer] = []

    def observe(self, observer: Observer) -> None:
        """Call ``observer`` with every event recorded from now on."""
        self._observers.append(observer)

    async def record(self, payload: Payload) -> Event:
        """Stamp ``payload``, make it durable, tell the observers; return the event."""
        sequence = self._next_sequence
        if sequence > MAX_SEQUENCE:
            raise OverflowError("the 64-bit record sequence is exhausted")
        self._next_sequence = sequence + 1
        clock = self._clock
        event = Event(
            RecordId(self._device_id, self._boot_epoch, sequence),
            clock.wall_ns(),
            int(clock.monotonic() * 1e9),
            clock.synchronised(),
            payload,
        )
        if self._sink is not None:
            await self._sink.append(event)
        for observer in tuple(self._observers):
            try:
                observer(event)
            except Exception:  # noqa: BLE001 - a broken observer must never stop the record
                _log.exception("event observer failed and was removed: %r", observer)
                self._observers.remove(observer)
        return event
