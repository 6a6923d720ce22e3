"""The agent: one device's services, started together and stopped in order.

:class:`Agent` wires a profile's hardware backend to the services (probe sampling, sensor and
reader watchers) and runs them in one :class:`asyncio.TaskGroup` with named tasks. It records
:class:`~agent.events.AgentStarted` before any service runs and
:class:`~agent.events.AgentStopping` after they have all stopped, so the record of a run is
bracketed. With a journal, a supervisor keeps it within budget and shows its health; with a
sync link, the journal's records go to the hospital. A cabinet also runs its dispensing desk
(:mod:`agent.cabinet`), whose state is first rebuilt from the journal; the desk and the journal
share the indicator through an :class:`~agent.runtime.alarm_board.AlarmBoard`. If a
service fails, the task group cancels the others and the error propagates: the supervisor
above decides whether to restart, and nothing is silently half-running. An orderly stop stops
the services, records ``agent_stopping``, then gives the sync link up to ``stop_grace_s`` to
see the last records acknowledged before it is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Coroutine
from typing import Any

from agent import __version__
from agent.cabinet.replay import RESTORED_TYPES
from agent.cabinet.setup import cabinet_desk
from agent.clock import Clock
from agent.config.schema import Profile
from agent.events import AgentStarted, AgentStopping
from agent.hal.hardware import Backend
from agent.journal import Journal
from agent.runtime.alarm_board import AlarmBoard
from agent.runtime.journal_supervisor import JournalSupervisor
from agent.runtime.sampler import ProbeSampler, SampledProbe
from agent.runtime.stream import EventStream
from agent.runtime.watchers import SensorWatchers
from agent.sink import SinkUnavailable
from agent.sync.link import SyncLink

__all__ = ["Agent"]

_log = logging.getLogger(__name__)


class Agent:
    """Runs one device; see the module docstring."""

    def __init__(
        self,
        *,
        profile: Profile,
        backend: Backend,
        clock: Clock,
        stream: EventStream,
        journal: Journal | None = None,
        link: SyncLink | None = None,
        stop_grace_s: float = 5.0,
    ) -> None:
        self.profile = profile
        self.backend = backend
        self.clock = clock
        self.stream = stream
        self.samplers = self._samplers()
        self.alarms = AlarmBoard(backend.hardware.indicator)
        self.cabinet = cabinet_desk(
            profile,
            hardware=backend.hardware,
            stream=stream,
            clock=clock,
            alarm=self.alarms.source("cabinet"),
        )
        self.watchers = SensorWatchers(profile, backend.hardware, stream, inputs=self.cabinet)
        self.link = link
        self.stop_grace_s = stop_grace_s
        self._journal = journal
        self.journal_supervisor = (
            None
            if journal is None
            else JournalSupervisor(
                journal, stream=stream, indicator=self.alarms.source("journal"), clock=clock
            )
        )
        if link is not None and self.cabinet is not None:
            link.commands.hand_decisions_to(self.cabinet.decide)

    def _samplers(self) -> list[ProbeSampler]:
        by_interval: dict[float, list[SampledProbe]] = defaultdict(list)
        parts = self.backend.hardware.probes
        for probe in self.profile.probes:
            by_interval[probe.interval_s].append(SampledProbe(parts[probe.name], probe))
        return [
            ProbeSampler(probes, interval_s=interval, clock=self.clock, stream=self.stream)
            for interval, probes in sorted(by_interval.items())
        ]

    def _services(self) -> dict[str, Coroutine[Any, Any, None]]:
        services: dict[str, Coroutine[Any, Any, None]] = {
            f"backend:{self.backend.name}": self.backend.run()
        }
        for sampler in self.samplers:
            services[f"sampler:{sampler.interval_s:g}s"] = sampler.run()
        services.update(self.watchers.services())
        if self.journal_supervisor is not None:
            services["journal"] = self.journal_supervisor.run()
        if self.cabinet is not None:
            services["cabinet"] = self.cabinet.run()
        if self.link is not None:
            services["sync"] = self.link.run()
        return services

    async def run(self, stop: asyncio.Future[str]) -> None:
        """Run every service until ``stop`` resolves, then stop them and record the reason
        ``stop`` resolved with."""
        with contextlib.suppress(SinkUnavailable):  # logged and alarmed by the stream
            await self.stream.record(
                AgentStarted(
                    version=__version__,
                    profile=self.profile.device.kind.value,
                    backend=self.backend.name,
                )
            )
        if self.cabinet is not None and self._journal is not None:
            stored = await self._journal.records_of(RESTORED_TYPES)
            self.cabinet.load(record.to_event() for record in stored)
        _log.info(
            "agent started",
            extra={"fields": {"device": self.profile.device.id, "backend": self.backend.name}},
        )
        async with asyncio.TaskGroup() as group:
            tasks = {
                name: group.create_task(coro, name=name) for name, coro in self._services().items()
            }
            reason = await asyncio.shield(stop)
            sync = tasks.pop("sync", None)
            for task in tasks.values():
                task.cancel()
            await asyncio.wait(tasks.values())
            with contextlib.suppress(SinkUnavailable):
                await self.stream.record(AgentStopping(reason=reason))
            if sync is not None and self.link is not None:
                if not await self.link.flush(self.stop_grace_s):
                    _log.warning("stopping with records not yet acknowledged by the hospital")
                sync.cancel()
        _log.info("agent stopped", extra={"fields": {"reason": reason}})
