"""What a scenario run saw: the agent's events, stamped with simulated time since the start.

A :class:`Recorder` observes the session's event stream. It keeps every event except
temperature samples (a cabinet makes one a second, with eight readings; the session already
keeps each probe's latest reading), and keeps the readings of only those probes that an
expectation checks over a span of time, as compact arrays. What was recorded before the
origin - while the device started and its units were stocked - is stamped at 0.
"""

from __future__ import annotations

import array
import bisect
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from agent.events import Event, EventType, TemperatureSample

__all__ = ["Recorded", "Recorder", "SampleSpan"]

_SLACK_S = 1e-6
"""Events are stamped in nanoseconds; times within this much of a window's edge are inside it."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """One event and when it was recorded, in simulated seconds since the scenario started."""

    at: float
    event: Event


@dataclass(frozen=True, slots=True)
class SampleSpan:
    """The readings of one probe over a span: how many, the lowest and the highest."""

    count: int
    low: float
    high: float


class Recorder:
    """Observes one session's event stream; see the module docstring."""

    def __init__(self, *, sampled_probes: Iterable[str] = ()) -> None:
        self._origin_s = math.inf
        self.events: list[Recorded] = []
        self._sample_times = {probe: array.array("d") for probe in sampled_probes}
        self._sample_values = {probe: array.array("d") for probe in self._sample_times}

    def begin(self, origin_s: float) -> None:
        """Time 0 is monotonic second ``origin_s``; until this is called, every event is
        stamped 0."""
        self._origin_s = origin_s

    def observe(self, event: Event) -> None:
        """The stream observer: record ``event``."""
        at = max(event.monotonic_ns / 1e9 - self._origin_s, 0.0)
        payload = event.payload
        if type(payload) is not TemperatureSample:
            self.events.append(Recorded(at, event))
            return
        for probe, celsius in payload.readings():
            if probe in self._sample_times:
                self._sample_times[probe].append(at)
                self._sample_values[probe].append(celsius)

    def between(self, since: float, until: float, kind: EventType) -> Iterator[Recorded]:
        """The recorded events of type ``kind`` from ``since`` to ``until`` (both included)."""
        for recorded in self.events:
            if recorded.event.type is kind and since - _SLACK_S <= recorded.at <= until + _SLACK_S:
                yield recorded

    def samples(self, probe: str, since: float, until: float) -> SampleSpan | None:
        """The readings of a kept probe from ``since`` to ``until`` (both included), or
        ``None`` if there were none."""
        times = self._sample_times[probe]
        first = bisect.bisect_left(times, since - _SLACK_S)
        last = bisect.bisect_right(times, until + _SLACK_S)
        if first >= last:
            return None
        values = self._sample_values[probe][first:last]
        return SampleSpan(count=len(values), low=min(values), high=max(values))
