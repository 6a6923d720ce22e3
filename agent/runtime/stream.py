"""The event stream: stamps payloads into :class:`~agent.events.Event` records and hands them on.

Every service records what it observes through :meth:`EventStream.record`. The stream gives each
event its identity (device id, boot epoch, next sequence) and its three time facts from the
clock, then:

1. awaits the durable sink (the journal), so that ``await record(...)`` returns only when the
   event is committed - the contract "commit, then act" builds on. A sink that cannot commit
   raises :class:`~agent.sink.SinkUnavailable`: the caller learns the event is not recorded,
   the failure listeners (the alarm) hear of it, and no observer is told;
2. tells every observer (logs, the live view), synchronously and in order. Observers must be
   quick and must not raise; one that raises is logged and dropped, it never stops recording.

Sequences are assigned in call order and are never reused within a boot epoch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from agent.clock import Clock
from agent.events import MAX_SEQUENCE, Event, Payload, RecordId
from agent.sink import EventSink, SinkUnavailable

__all__ = ["EventStream", "FailureListener", "Observer"]

_log = logging.getLogger(__name__)

Observer = Callable[[Event], None]
FailureListener = Callable[[SinkUnavailable], None]


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
        self._failure_listeners: list[FailureListener] = []

    @property
    def next_sequence(self) -> int:
        """The sequence the next recorded event will get."""
        return self._next_sequence

    def observe(self, observer: Observer) -> None:
        """Call ``observer`` with every event recorded from now on."""
        self._observers.append(observer)

    def on_sink_failure(self, listener: FailureListener) -> None:
        """Call ``listener`` whenever the sink refuses an event (the alarm hooks in here)."""
        self._failure_listeners.append(listener)

    async def record(self, payload: Payload) -> Event:
        """Stamp ``payload``, make it durable, tell the observers; return the event."""
        event = self._stamp(payload)
        if self._sink is not None:
            try:
                await self._sink.append(event)
            except SinkUnavailable as error:
                self._failed(error)
                raise
        self._tell(event)
        return event

    async def record_many(self, payloads: Sequence[Payload]) -> list[Event]:
        """Stamp a burst of payloads (one probe tick), make them durable together, tell the
        observers in order; return the events."""
        events = [self._stamp(payload) for payload in payloads]
        if self._sink is not None and events:
            try:
                await self._sink.append_many(events)
            except SinkUnavailable as error:
                self._failed(error)
                raise
        for event in events:
            self._tell(event)
        return events

    def _stamp(self, payload: Payload) -> Event:
        sequence = self._next_sequence
        if sequence > MAX_SEQUENCE:
            raise OverflowError("the 64-bit record sequence is exhausted")
        self._next_sequence = sequence + 1
        clock = self._clock
        return Event(
            RecordId(self._device_id, self._boot_epoch, sequence),
            clock.wall_ns(),
            int(clock.monotonic() * 1e9),
            clock.synchronised(),
            payload,
        )

    def _failed(self, error: SinkUnavailable) -> None:
        _log.error("event not recorded: %s", error)
        for listener in self._failure_listeners:
            listener(error)

    def _tell(self, event: Event) -> None:
        broken: list[Observer] = []
        for observer in self._observers:
            try:
                observer(event)
            except Exception:  # noqa: BLE001 - a broken observer must never stop the record
                _log.exception("event observer failed and was removed: %r", observer)
                broken.append(observer)
        for observer in broken:
            self._observers.remove(observer)
