"""A simulated 72-slot cabinet with its agent and a real journal, for the workflow tests.

:class:`CabinetRig` drives the cabinet as people and the hospital would - badges, scans,
screen choices, units put in and taken out, hospital decisions - and reads back what the
journal recorded and what the screen said. Everything runs on virtual time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from agent.cabinet.desk import CabinetDesk
from agent.config import load_profile
from agent.config.schema import Profile
from agent.dispensing_events import SlotsReleased
from agent.domain.units import UnitState
from agent.events import Event
from agent.journal import Journal
from agent.runtime.journal_supervisor import classify_for
from agent.sync.protocol import Allocate, BadgeList, ElectronicIssue
from hal_sim.session import DEFAULT_WALL_EPOCH, SimSession, start_session
from hal_sim.staff import STAFF as SIM_STAFF
from hal_sim.units import SimUnit

__all__ = ["CONFIG", "STAFF", "CabinetRig", "make_unit", "quiet_cabinet"]

CONFIG = Path(__file__).resolve().parents[2] / "config"
P = TypeVar("P")

STAFF = {**SIM_STAFF, "tech": SIM_STAFF["technician"]}
"""Who may sign in (the simulator's staff, the technician also as ``tech``)."""


def make_unit(
    n: int,
    *,
    group: str = "9500",
    expiry: dt.datetime | None = None,
    product: str = "E0336V00",
) -> SimUnit:
    """Unit number ``n``: O RhD negative red cells (``group`` ``9500``) expiring in 20 days
    unless told otherwise."""
    return SimUnit(
        din=f"A99992600{n:04d}",
        flags="00",
        blood_group=group,
        product_code=product,
        expiry=expiry or DEFAULT_WALL_EPOCH + dt.timedelta(days=20),
        tag_uid=f"E0040000{n:08X}",
    )


def quiet_cabinet() -> Profile:
    """The shipped 72-slot cabinet with its probes sampled every 10 minutes: the workflow
    tests wait hours of device time and need no temperatures."""
    profile = load_profile(CONFIG / "cabinet-72.toml")
    probes = tuple(dataclasses.replace(probe, interval_s=600.0) for probe in profile.probes)
    return dataclasses.replace(profile, probes=probes)


@dataclass
class CabinetRig:
    """A running simulated cabinet, its journal and what was recorded since it started."""

    session: SimSession
    journal: Journal
    events: list[Event] = field(default_factory=list)

    @classmethod
    async def start(
        cls, state_dir: Path, profile: Profile | None = None, *, boot_epoch: int = 1
    ) -> CabinetRig:
        """Start the cabinet on a journal in ``state_dir`` (reopened if it exists), without a
        badge list: the tests send it (:meth:`send_badges`)."""
        profile = profile or quiet_cabinet()
        journal = await Journal.open(
            state_dir / "journal.db", device_id=profile.device.id, classify=classify_for(profile)
        )
        session = await start_session(
            profile, log_events=False, journal=journal, boot_epoch=boot_epoch, badge_list=False
        )
        rig = cls(session, journal)
        session.stream.observe(rig.events.append)
        await rig.settle()
        return rig

    async def stop(self) -> None:
        await self.session.stop("test over")
        await self.journal.close()

    @property
    def desk(self) -> CabinetDesk:
        desk = self.session.agent.cabinet
        assert desk is not None
        return desk

    @property
    def screen(self) -> str:
        return self.desk.screen.message

    async def settle(self, seconds: float = 0.5) -> None:
        """Let the device and the agent react (virtual time)."""
        await asyncio.sleep(seconds)

    def recorded(self, kind: type[P]) -> list[P]:
        """The payloads of type ``kind`` recorded so far."""
        return [event.payload for event in self.events if isinstance(event.payload, kind)]

    def state_of(self, din: str) -> UnitState | None:
        unit = self.desk.cabinet.inventory.get(din)
        return None if unit is None else unit.state

    # --- the hospital ---------------------------------------------------------------------

    async def send_badges(self, issued: dt.datetime | None = None) -> None:
        issued_ns = int((issued or self.now()).timestamp() * 1e9)
        assert await self.desk.decide(BadgeList(issued_ns, tuple(SIM_STAFF.values()))) is None

    async def allocate(self, din: str, patient: str, order: str, hours: float = 4) -> str | None:
        until = int((self.now() + dt.timedelta(hours=hours)).timestamp() * 1e9)
        return await self.desk.decide(Allocate(din, patient, order, until))

    async def electronic_issue(
        self, patient: str, order: str, groups: tuple[str, ...], units: int
    ) -> str | None:
        until = int((self.now() + dt.timedelta(hours=4)).timestamp() * 1e9)
        return await self.desk.decide(
            ElectronicIssue(patient, order, groups, "red_cells", units, until)
        )

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.session.clock.wall_ns() / 1e9, tz=dt.UTC)

    # --- people at the cabinet --------------------------------------------------------------

    async def badge(self, who: str) -> None:
        self.session.device.present_badge(STAFF[who].uid if who in STAFF else who)
        await self.settle()

    async def scan(self, data: str) -> None:
        self.session.device.scan(data)
        await self.settle()

    async def choose(self, choice: str, reason: str = "") -> None:
        await self.desk.choose(choice, reason)
        await self.settle()

    async def stock(self, unit: SimUnit) -> int:
        """A technician stocks ``unit`` in the regular way; the slot it went into."""
        await self.badge("tech")
        await self.choose("stock_in")
        self.session.device.hold_at_station(unit)
        for barcode in unit.barcodes():
            await self.scan(barcode)
        slot = self.open_slot_for(unit.din)
        self.session.device.put_unit(unit, slot)
        await self.settle()
        await self.choose("sign_out")
        return slot

    def open_slot_for(self, din: str) -> int:
        """The slot the last release opened for ``din``."""
        for released in reversed(self.recorded(SlotsReleased)):
            if din in released.dins:
                return released.slots[released.dins.index(din)]
        raise AssertionError(f"no slot was released for {din}; screen says {self.screen!r}")

    async def take(self, slot: int, *, force: bool = False) -> Any:
        unit = self.session.device.take_unit(slot, force=force)
        await self.settle()
        return unit

    def last(self, kind: type[P]) -> P:
        found = self.recorded(kind)
        assert found, f"nothing of type {kind.__name__} was recorded"
        return found[-1]
