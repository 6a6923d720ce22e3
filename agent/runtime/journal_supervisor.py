"""Keeping the journal within its budget, and its health visible.

Invariant 4 of the brief: dispense and alarm records are never dropped to make room; routine
samples may be thinned, excursions never; a full journal blocks dispenses with a clear alarm.
:func:`classify_for` tells the journal which samples are excursions (outside the profile's
storage limits); :class:`JournalSupervisor` runs the journal's maintenance periodically - and at
once when an append was refused - and turns each change of health into a
:class:`~agent.events.HardwareFault` record (part ``journal``) and the indicator's state:
alarm when the journal is full or unavailable, attention while it thins samples.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from agent.clock import Clock
from agent.config.schema import Profile
from agent.events import Event, HardwareFault, TemperatureSample
from agent.hal.errors import HalError
from agent.hal.parts import Indicator, IndicatorState
from agent.journal import Classifier, Journal, JournalHealth, JournalUnavailable, RecordClass
from agent.runtime.stream import EventStream
from agent.sink import SinkUnavailable

__all__ = ["JournalSupervisor", "classify_for"]

_log = logging.getLogger(__name__)

_INDICATION = {
    JournalHealth.OK: IndicatorState.QUIET,
    JournalHealth.THINNING: IndicatorState.ATTENTION,
    JournalHealth.FULL: IndicatorState.ALARM,
    JournalHealth.UNAVAILABLE: IndicatorState.ALARM,
}


def classify_for(profile: Profile) -> Classifier:
    """Samples with every reading inside the storage limits are routine; one reading outside
    them makes the sample an excursion (never thinned); every other record is kept."""
    low, high = profile.storage.min_c, profile.storage.max_c

    def classify(event: Event) -> RecordClass:
        payload = event.payload
        if type(payload) is TemperatureSample:
            inside = low <= min(payload.celsius) and max(payload.celsius) <= high
            return RecordClass.ROUTINE if inside else RecordClass.EXCURSION
        return RecordClass.KEPT

    return classify


class JournalSupervisor:
    """Runs the journal's maintenance every ``interval_s`` and reports its health."""

    def __init__(
        self,
        journal: Journal,
        *,
        stream: EventStream,
        indicator: Indicator,
        clock: Clock,
        interval_s: float = 300.0,
    ) -> None:
        self._journal = journal
        self._stream = stream
        self._indicator = indicator
        self._clock = clock
        self._interval_s = interval_s
        self._refused = asyncio.Event()
        self._refusal: SinkUnavailable | None = None
        self.health = JournalHealth.OK
        stream.on_sink_failure(self._on_refusal)

    def _on_refusal(self, error: SinkUnavailable) -> None:
        self._refusal = error
        self._refused.set()

    async def run(self) -> None:
        """Maintain and report until cancelled."""
        while True:
            await self.check()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval_s):
                    await self._refused.wait()
            self._refused.clear()

    async def check(self) -> JournalHealth:
        """One maintenance run; records and shows a change of health."""
        refusal, self._refusal = self._refusal, None
        try:
            report = await self._journal.maintain(self._clock.wall_ns())
        except JournalUnavailable as error:
            health, detail = JournalHealth.UNAVAILABLE, error.reason
        else:
            health = report.health
            detail = f"{report.used_bytes} of {report.budget_bytes} bytes used"
            if refusal is not None and health is not JournalHealth.OK:
                # Appends were refused since the last run and maintenance could not bring the
                # journal back within budget: it is full until a check finds otherwise.
                health, detail = JournalHealth.FULL, f"{detail}; {refusal}"
        if health is not self.health:
            previous, self.health = self.health, health
            await self._report(previous, health, detail)
        return health

    async def _report(self, previous: JournalHealth, health: JournalHealth, detail: str) -> None:
        log = _log.info if health is JournalHealth.OK else _log.error
        log("journal %s (was %s): %s", health, previous, detail)
        with contextlib.suppress(SinkUnavailable):  # an unavailable journal cannot record it
            await self._stream.record(
                HardwareFault(
                    part="journal",
                    error=f"journal_{health}",
                    detail=detail,
                    recovered=health is JournalHealth.OK,
                )
            )
        try:
            await self._indicator.show(_INDICATION[health])
        except HalError as error:
            _log.error("cannot show the journal's state on %s: %s", error.part, error.detail)
