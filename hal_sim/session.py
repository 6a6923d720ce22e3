"""A simulated device with its agent, ready to run: what ``hemotrace sim``, the scenario
runner, the live view, the tests and the benchmark all start from.

:func:`start_session` must be called on a running :class:`~hal_sim.clock.VirtualTimeLoop` (or
any loop, for real time). It builds the simulated device of a profile, the event stream and the
agent, keeps the most recent events for display, and starts the agent as a task; stop it with
:meth:`SimSession.stop`.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from agent.config.schema import Profile, SyncConfig
from agent.events import Event, EventType, ProbeFault, TemperatureSample
from agent.journal import Journal
from agent.runtime.agent import Agent
from agent.runtime.event_log import log_event
from agent.runtime.stream import EventStream
from agent.sync.link import LinkSettings, SyncLink
from agent.sync.nonces import NonceStore
from hal_sim.clock import SimClock
from hal_sim.device import SimDevice
from hal_sim.hospital import LocalHospital
from hal_sim.units import SimUnit

__all__ = ["DEFAULT_WALL_EPOCH", "SIM_LINK_SETTINGS", "SimSession", "start_session"]

SIM_LINK_SETTINGS = LinkSettings(
    ack_timeout_s=6 * 3600.0,
    puback_timeout_s=6 * 3600.0,
    connect_timeout_s=6 * 3600.0,
)
"""The sync link's timeouts on virtual time: at full speed the clock races ahead while a
message is on the (real) network, so a timeout of seconds would fire at once."""

DEFAULT_WALL_EPOCH = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
"""Where simulated wall-clock time starts unless told otherwise: a Monday morning."""


@dataclass
class SimSession:
    """A running simulated device: the device (bench hooks), its agent and what it recorded."""

    profile: Profile
    clock: SimClock
    device: SimDevice
    stream: EventStream
    agent: Agent
    task: asyncio.Task[None]
    stop_requested: asyncio.Future[str]
    recent: collections.deque[Event] = field(default_factory=lambda: collections.deque(maxlen=200))
    latest_temperatures: dict[str, float | None] = field(default_factory=dict)
    counts: collections.Counter[EventType] = field(default_factory=collections.Counter)
    hospital: LocalHospital | None = None
    """The local broker and receiver the device syncs to, when the simulator started them."""

    def sync_line(self) -> str:
        """Where the records are: the device's last sequence, what the hospital holds, and
        whether the link is up."""
        recorded = self.stream.next_sequence - 1
        if self.hospital is None or self.agent.link is None:
            return f"sync off: {recorded + 1} records kept in the journal"
        stored = self.hospital.stored(self.profile.device.id)
        state = "up" if self.agent.link.connected else "DOWN"
        return f"sync {state}: hospital has all to #{stored.contiguous_through} of #{recorded}"

    def _observe(self, event: Event) -> None:
        payload = event.payload
        self.counts[payload.TYPE] += 1
        if type(payload) is TemperatureSample:  # the hot path: eight a second
            self.latest_temperatures[payload.probe] = payload.celsius
            return
        if isinstance(payload, ProbeFault) and not payload.cleared:
            self.latest_temperatures[payload.probe] = None
        self.recent.append(event)

    async def stop(self, reason: str = "simulation ended") -> None:
        """Stop the agent in order and wait for it."""
        if not self.stop_requested.done():
            self.stop_requested.set_result(reason)
        await self.task


async def start_session(
    profile: Profile,
    *,
    boot_epoch: int = 1,
    wall_epoch: dt.datetime = DEFAULT_WALL_EPOCH,
    log_events: bool = True,
    stock: Iterable[tuple[SimUnit, int | None]] = (),
    journal: Journal | None = None,
    sync: SyncConfig | None = None,
    nonces: NonceStore | None = None,
) -> SimSession:
    """Build the simulated device of ``profile``, load the ``stock`` units (each with its slot,
    or None for a fridge or box) as if commissioned, and start its agent on the running loop.

    With a ``journal`` (opened by the caller, closed by the caller after :meth:`SimSession.stop`)
    every event is committed to it before anyone hears of it, as on a device; with ``sync`` and
    ``nonces`` too, a sync link sends the journal's records to that broker. Its timeouts are
    long (:data:`SIM_LINK_SETTINGS`): on virtual time a network round trip can look like
    minutes."""
    loop = asyncio.get_running_loop()
    clock = SimClock(loop, wall_epoch_ns=int(wall_epoch.timestamp()) * 1_000_000_000)
    device = SimDevice(profile, clock)
    for unit, slot in stock:
        device.stock(unit, slot)
    stream = EventStream(
        device_id=profile.device.id,
        boot_epoch=boot_epoch,
        clock=clock,
        sink=journal,
        first_sequence=0 if journal is None else journal.next_sequence,
    )
    link = None
    if journal is not None and sync is not None and nonces is not None:
        link = SyncLink(
            config=sync,
            site=profile.device.site,
            boot_epoch=boot_epoch,
            journal=journal,
            stream=stream,
            clock=clock,
            nonces=nonces,
            settings=SIM_LINK_SETTINGS,
        )
    agent = Agent(
        profile=profile, backend=device, clock=clock, stream=stream, journal=journal, link=link
    )
    stop_requested: asyncio.Future[str] = loop.create_future()
    task = loop.create_task(agent.run(stop_requested), name=f"agent:{profile.device.id}")
    session = SimSession(
        profile=profile,
        clock=clock,
        device=device,
        stream=stream,
        agent=agent,
        task=task,
        stop_requested=stop_requested,
    )
    stream.observe(session._observe)
    if log_events:
        stream.observe(log_event)
    await asyncio.sleep(0)
    return session
