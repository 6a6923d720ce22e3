"""Temperature sampling: every probe, at its configured interval, into the event stream.

Probes that share an interval are read together by one task, on a fixed schedule of the agent's
monotonic clock (``start + k * interval``), so sampling does not drift however long a read takes;
a tick missed because reads overran is skipped, not made up in a burst.

A tick's valid readings are one :class:`~agent.events.TemperatureSample` record (a record per
tick, not per probe: the journal, the wire and the hospital's database each carry a week of a
cabinet's samples as an eighth as many rows). A reading is valid only if it is a number inside
the probe's plausible range; anything else - no answer, a failed read, NaN, 85 °C from a
DS18B20 that never converted - leaves the probe out of the tick and is a
:class:`~agent.events.ProbeFault`, recorded when the fault begins and again (``cleared``) when
valid readings resume. The tick's records are recorded together (``EventStream.record_many``),
so the journal commits them in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from agent.clock import Clock
from agent.config.schema import ProbeConfig
from agent.events import ProbeFault, TemperatureSample
from agent.hal.errors import HalError
from agent.hal.parts import TemperatureProbe
from agent.runtime.stream import EventStream
from agent.sink import SinkUnavailable

__all__ = ["ProbeSampler", "SampledProbe"]


@dataclass(frozen=True, slots=True)
class SampledProbe:
    """A probe part together with its profile entry."""

    part: TemperatureProbe
    config: ProbeConfig


class ProbeSampler:
    """Samples a group of probes that share one interval; see the module docstring."""

    def __init__(
        self,
        probes: Sequence[SampledProbe],
        *,
        interval_s: float,
        clock: Clock,
        stream: EventStream,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        self._probes = tuple(probes)
        self.interval_s = interval_s
        self._clock = clock
        self._stream = stream
        self._fault: dict[str, str] = {}

    async def run(self) -> None:
        """Sample on schedule until cancelled."""
        next_at = self._clock.monotonic()
        while True:
            await self.tick()
            now = self._clock.monotonic()
            next_at += self.interval_s
            if next_at < now:
                next_at += math.ceil((now - next_at) / self.interval_s) * self.interval_s
            await asyncio.sleep(next_at - now)

    async def tick(self) -> None:
        """Read every probe of the group once and record the outcomes together."""
        faults: list[ProbeFault] = []
        probes: list[str] = []
        readings: list[float] = []
        for probe in self._probes:
            name = probe.config.name
            outcome = await self._read(probe)
            if isinstance(outcome, float):
                probes.append(name)
                readings.append(outcome)
                if self._fault.pop(name, None) is not None:
                    faults.append(ProbeFault(probe=name, reason="recovered", cleared=True))
            elif outcome is not None:
                faults.append(outcome)
        payloads: list[TemperatureSample | ProbeFault] = [*faults]
        if probes:
            payloads.append(TemperatureSample(probes=tuple(probes), celsius=tuple(readings)))
        with contextlib.suppress(SinkUnavailable):  # logged and alarmed by the stream
            await self._stream.record_many(payloads)

    async def _read(self, probe: SampledProbe) -> float | ProbeFault | None:
        """One probe's valid reading, or the fault to record (None for a fault already
        recorded)."""
        name = probe.config.name
        try:
            value = await probe.part.read()
        except HalError as error:
            return self._faulted(name, f"{type(error).__name__}: {error.detail}", None)
        if not math.isfinite(value) or not (
            probe.config.plausible_min_c <= value <= probe.config.plausible_max_c
        ):
            reason = (
                f"implausible reading (plausible {probe.config.plausible_min_c:g}"
                f" to {probe.config.plausible_max_c:g} °C)"
            )
            return self._faulted(name, reason, value if math.isfinite(value) else None)
        return float(value)

    def _faulted(self, name: str, reason: str, value: float | None) -> ProbeFault | None:
        if self._fault.get(name) == reason:
            return None
        self._fault[name] = reason
        return ProbeFault(probe=name, reason=reason, value=value)
