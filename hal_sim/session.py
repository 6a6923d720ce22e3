"""A simulated device with its agent, ready to run: what ``hemotrace sim``, the scenario
runner, the live view, the tests and the benchmark all start from.

:func:`start_session` must be called on a running :class:`~hal_sim.clock.VirtualTimeLoop` (or
any loop, for real time). It builds the simulated device of a profile, the event stream and the
agent, keeps the most recent events for display, and starts the agent as a task; stop it with
:meth:`SimSession.stop`.

On a dispensing cabinet the simulator also plays the hospital's blood bank system
(:mod:`hal_sim.blood_bank`): unless told otherwise, a session sends the cabinet the staff badge
list (:data:`hal_sim.staff.STAFF`) once the cabinet has started, as the hospital would, so
that the simulated staff can sign in.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from agent.config.schema import Profile, SyncConfig
from agent.dispensing_events import InventorySnapshot
from agent.events import Event, EventType, ProbeFault, TemperatureSample
from agent.journal import Journal
from agent.runtime.agent import Agent
from agent.runtime.event_log import log_event
from agent.runtime.stream import EventStream
from agent.sync.link import LinkSettings, SyncLink
from agent.sync.nonces import NonceStore
from hal_sim.blood_bank import BloodBank
from hal_sim.clock import SimClock
from hal_sim.device import BenchError, SimDevice
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
    preparing: asyncio.Task[None] | None = None
    """A cabinet's start as the hospital sees it: waiting for its desk, sending the badge
    list (:meth:`cabinet_ready`)."""

    def sync_line(self) -> str:
        """Where the records are: the device's last sequence, what the hospital holds, and
        whether the link is up."""
        recorded = self.stream.next_sequence - 1
        if self.hospital is None or self.agent.link is None:
            return f"sync off: {recorded + 1} records kept in the journal"
        stored = self.hospital.stored(self.profile.device.id)
        state = "up" if self.agent.link.connected else "DOWN"
        return (
            f"sync {state} ({self.hospital.broker_url}): hospital has all to"
            f" #{stored.contiguous_through} of #{recorded}"
        )

    async def cabinet_ready(self) -> None:
        """Return once a cabinet's desk has started and, unless the session was started
        without one, has the staff badge list; at once for other devices."""
        if self.preparing is not None:
            await asyncio.shield(self.preparing)

    def blood_bank(self) -> BloodBank:
        """The hospital's blood bank system, deciding for this cabinet; ``BenchError`` if the
        device is not a dispensing cabinet."""
        desk = self.agent.cabinet
        if desk is None:
            raise BenchError("this device is not a dispensing cabinet")
        return BloodBank(desk, self.clock, self.profile.storage.product_class)

    def _observe(self, event: Event) -> None:
        payload = event.payload
        self.counts[payload.TYPE] += 1
        if type(payload) is TemperatureSample:  # the hot path: a tick a second
            self.latest_temperatures.update(payload.readings())
            return
        if isinstance(payload, ProbeFault) and not payload.cleared:
            self.latest_temperatures[payload.probe] = None
        self.recent.append(event)

    async def stop(self, reason: str = "simulation ended") -> None:
        """Stop the agent in order and wait for it."""
        if self.preparing is not None:
            self.preparing.cancel()
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
    badge_list: bool = True,
) -> SimSession:
    """Build the simulated device of ``profile``, place the ``stock`` units (each with its slot,
    or None for a fridge or box), and start its agent on the running loop.

    ``stock`` only places units physically, before the agent starts: a fridge or a box finds
    them by RFID, but a cabinet's desk does not know them (it stocks a unit only through its
    stock-in workflow) and will not dispense them; to stock a cabinet use
    :func:`hal_sim.staff.stock_in` once the session runs. With ``badge_list`` (the default), a
    cabinet is sent the staff badge list as soon as it has started (await
    :meth:`SimSession.cabinet_ready`); without, nobody can sign in until a list is sent
    (``session.blood_bank().send_badge_list()``).

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
    if agent.cabinet is not None:
        session.preparing = loop.create_task(
            _prepare_cabinet(session, badge_list=badge_list), name="sim:blood-bank"
        )
    await asyncio.sleep(0)
    return session


async def _prepare_cabinet(session: SimSession, *, badge_list: bool) -> None:
    await _cabinet_started(session)
    if badge_list and not session.task.done():
        await session.blood_bank().send_badge_list()


_START_POLL_S = 0.01
_START_WITHIN_S = 30.0


async def _cabinet_started(session: SimSession) -> None:
    """Wait until the cabinet's desk has restored its state (its ``start`` inventory snapshot
    is recorded), the agent has stopped, or :data:`_START_WITHIN_S` simulated seconds passed
    (a journal that refuses every record: the desk says so on its screen)."""
    deadline = session.clock.monotonic() + _START_WITHIN_S
    while not session.task.done() and session.clock.monotonic() < deadline:
        if any(
            isinstance(event.payload, InventorySnapshot) and event.payload.reason == "start"
            for event in session.recent
        ):
            return
        await asyncio.sleep(_START_POLL_S)
