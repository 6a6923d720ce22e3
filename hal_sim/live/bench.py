"""What the live view's bench commands act on, and what they share: the :class:`Bench` (the
device, its clock, the stockroom, the running session, the units in the bench person's hands),
the :class:`CommandError` a line that cannot be understood raises, and small argument helpers.

A command's action returns a one-line account of what happened - at once for a bench action,
or as a coroutine for what the running cabinet must answer (a screen choice, a hospital
decision, a technician's stock-in), which the view awaits. Either way an action the simulated
world does not allow raises :class:`~hal_sim.device.BenchError` *before* anything changed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from agent.cabinet.desk import CabinetDesk
from agent.clock import Clock
from hal_sim.blood_bank import BloodBank
from hal_sim.device import BenchError, SimDevice
from hal_sim.live.stockroom import Stockroom, group_name
from hal_sim.session import SimSession
from hal_sim.units import SimUnit

__all__ = [
    "Action",
    "Bench",
    "CommandError",
    "Outcome",
    "describe_unit",
    "slot_number",
    "usage",
]

Outcome = str | Coroutine[Any, Any, str]
"""What happened, now or once the cabinet answered."""


class CommandError(ValueError):
    """A command line that cannot be understood; the message says why and what is expected."""


@dataclass
class Bench:
    """What bench commands act on: the device, its clock (for the units' dates), the
    stockroom new units come from, the running session (None for a bare device: then nothing
    answers a badge or a screen choice) and the units taken out and not yet put back, by
    DIN (``in_hand``)."""

    device: SimDevice
    clock: Clock
    stockroom: Stockroom = field(default_factory=Stockroom)
    session: SimSession | None = None
    in_hand: dict[str, SimUnit] = field(default_factory=dict)

    def now(self) -> dt.datetime:
        """The simulated wall-clock time."""
        return dt.datetime.fromtimestamp(self.clock.wall_ns() / 1e9, tz=dt.UTC)

    def new_unit(self, group: str | None, *, expired: bool = False) -> SimUnit:
        """A new unit of ``group`` (None: the next in turn) whose DIN is not in the device
        already (units may have come from elsewhere: a scenario, another bench); with
        ``expired``, one that expired an hour ago."""
        while True:
            unit = self.stockroom.make(self.now(), group)
            if self.device.find_unit(unit.din) is None and unit.din not in self.in_hand:
                break
        if expired:
            return dataclasses.replace(unit, expiry=self.now() - dt.timedelta(hours=1))
        return unit

    def running(self) -> SimSession:
        """The running session; ``BenchError`` on a bare device."""
        if self.session is None:
            raise BenchError("nothing answers here: the device's agent is not running")
        return self.session

    def desk(self) -> CabinetDesk:
        """The cabinet's desk; ``BenchError`` if this is not a running dispensing cabinet."""
        desk = self.running().agent.cabinet
        if desk is None:
            raise BenchError("this device is not a dispensing cabinet")
        return desk

    def blood_bank(self) -> BloodBank:
        """The hospital's blood bank, deciding for the cabinet."""
        self.desk()
        return self.running().blood_bank()


Action = Callable[[Bench], Outcome]


def usage(text: str) -> CommandError:
    return CommandError(f"usage: {text}")


def slot_number(word: str) -> int | None:
    """The slot number ``word`` names, or None if it is not a number."""
    if not word.isdecimal():
        return None
    slot = int(word)
    if slot < 1:
        raise CommandError(f"slots are numbered from 1, got {word}")
    return slot


def describe_unit(unit: SimUnit) -> str:
    return f"{unit.din} ({group_name(unit.blood_group)}, tag {unit.tag_uid})"
