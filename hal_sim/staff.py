"""The simulated hospital's staff: who may sign in at a simulated cabinet, with badges short
enough to type, and the technician who stocks units through the cabinet's own workflow.

:data:`STAFF` is the badge list the simulator's blood bank system sends a cabinet when a
session starts (:mod:`hal_sim.blood_bank`). :func:`stock_in` is the technician stocking units
the regular way - badge in, hold each unit on the scanning station, scan its labels, put it
into the slot the cabinet opens - so every unit the simulator stocks this way is known to the
cabinet, which can then allocate and dispense it. The invariant kept: the simulator never
leaves a unit in a cabinet that the cabinet does not know about without saying so; a unit the
cabinet refuses raises :class:`CabinetRefused` with the reason its screen gave, and is taken
off the station again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import string
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

from agent.cabinet.desk import CabinetDesk
from agent.dispensing_events import RequestRefused, SignedIn, SlotsReleased, UnitStocked
from agent.events import Payload
from agent.sync.protocol import BadgeEntry, BadgeList
from hal_sim.device import BenchError
from hal_sim.units import SimUnit

if TYPE_CHECKING:
    from hal_sim.session import SimSession

__all__ = [
    "SCREEN_CHOICES",
    "STAFF",
    "CabinetRefused",
    "badge_uid",
    "desk_of",
    "staff_badge_list",
    "stock_in",
    "wait_for_record",
]

STAFF: dict[str, BadgeEntry] = {
    "technician": BadgeEntry("0A01", "tech-1", "Tess Tech", ("technician",)),
    "nurse": BadgeEntry("0B01", "nurse-1", "Nina Nurse", ("clinician",)),
    "doctor": BadgeEntry("0C01", "doctor-1", "Dev Doctor", ("clinician", "emergency")),
    "supervisor": BadgeEntry("0D01", "super-1", "Sam Super", ("supervisor",)),
}
"""The simulator's staff by the name people type (``badge nurse``): a blood bank technician
who stocks units, a nurse who dispenses, a doctor who may also release blood in an emergency,
and a supervisor (a second person for an emergency release; acknowledges alarms)."""

SCREEN_CHOICES = (
    "dispense",
    "stock_in",
    "return",
    "emergency",
    "dispose",
    "acknowledge",
    "sign_out",
)
"""What a signed-in person can touch on the cabinet's screen (``emergency`` with a reason)."""

_ALIASES = {"tech": "technician", "super": "supervisor"}

ANSWER_WITHIN_S = 30.0
"""How long (simulated seconds) the technician waits for the cabinet to answer one step."""
_POLL_S = 0.01

T = TypeVar("T")


class CabinetRefused(Exception):
    """The cabinet refused what a simulated person tried (or did not answer); the message
    says why, as its screen did."""


def badge_uid(who: str) -> str:
    """The badge UID of staff member ``who`` (``nurse``, ``tech``...), or ``who`` itself read
    as a badge UID (hexadecimal, in upper case). Raises ``ValueError`` for anything else."""
    name = _ALIASES.get(who.lower(), who.lower())
    if name in STAFF:
        return STAFF[name].uid
    if who and all(char in string.hexdigits for char in who):
        return who.upper()
    names = ", ".join(STAFF)
    raise ValueError(f"{who!r} is neither a staff member ({names}) nor a badge UID in hex")


def staff_badge_list(issued: dt.datetime) -> BadgeList:
    """The hospital's badge list of :data:`STAFF`, as issued at ``issued``."""
    return BadgeList(int(issued.timestamp() * 1e9), tuple(STAFF.values()))


def desk_of(session: SimSession) -> CabinetDesk:
    """The cabinet's desk; ``BenchError`` if the device is not a dispensing cabinet."""
    desk = session.agent.cabinet
    if desk is None:
        raise BenchError("this device is not a dispensing cabinet")
    return desk


async def wait_for_record(
    session: SimSession, after: int, match: Callable[[Payload], T | None]
) -> T:
    """The first non-None ``match`` of a record with sequence ``after`` or later; raises
    :class:`CabinetRefused` at the first refusal recorded, or if nothing matched within
    :data:`ANSWER_WITHIN_S`."""
    deadline = session.clock.monotonic() + ANSWER_WITHIN_S
    seen = after
    while True:
        for event in list(session.recent):
            if event.id.sequence < seen:
                continue
            seen = event.id.sequence + 1
            if isinstance(event.payload, RequestRefused):
                raise CabinetRefused(event.payload.message)
            found = match(event.payload)
            if found is not None:
                return found
        if session.clock.monotonic() >= deadline:
            screen = desk_of(session).screen.message
            raise CabinetRefused(f"the cabinet did not answer; its screen says: {screen}")
        await asyncio.sleep(_POLL_S)


async def stock_in(session: SimSession, units: Iterable[SimUnit]) -> list[int]:
    """The technician stocks ``units`` one after another through the cabinet's stock-in
    workflow, then signs out; the slot each went into. Raises :class:`CabinetRefused` at the
    first unit the cabinet refuses (the units before it stay stocked)."""
    desk = desk_of(session)
    await session.cabinet_ready()
    technician = STAFF["technician"]
    mark = session.stream.next_sequence
    session.device.present_badge(technician.uid)
    signed = await wait_for_record(
        session,
        mark,
        lambda p: p if isinstance(p, SignedIn) and p.user == technician.user else None,
    )
    try:
        if signed.stale_list:
            raise CabinetRefused(desk.screen.message)
        await desk.choose("stock_in")
        return [await _stock_one(session, unit) for unit in units]
    finally:
        await desk.choose("sign_out")


async def _stock_one(session: SimSession, unit: SimUnit) -> int:
    device = session.device
    mark = session.stream.next_sequence
    device.hold_at_station(unit)
    device.scan_unit(unit)
    try:
        slot = await wait_for_record(
            session,
            mark,
            lambda p: (
                p.slots[p.dins.index(unit.din)]
                if isinstance(p, SlotsReleased) and unit.din in p.dins
                else None
            ),
        )
    except CabinetRefused:
        device.take_from_station()
        raise
    mark = session.stream.next_sequence
    device.put_unit(unit, slot)
    return await wait_for_record(
        session,
        mark,
        lambda p: p.slot if isinstance(p, UnitStocked) and p.din == unit.din else None,
    )
