"""The simulator playing the hospital's blood bank system (BECS/LIS) for a simulated cabinet.

On a real site these decisions arrive as commands from the hospital; in the simulator the live
view's bench commands and the scenarios' hospital steps make them here and hand them to the
cabinet's desk exactly as the command desk would (``desk.decide``). The blood bank decides -
which unit is crossmatched for which patient, who is eligible for electronic issue, who may
sign in - and the cabinet only enforces, so each call returns the cabinet's refusal in its own
words, or None when it was carried out. A decision the hospital could not even send (a patient
id with spaces, a malformed DIN) raises ``ValueError`` with what is wrong.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from agent.cabinet.desk import CabinetDesk
from agent.clock import Clock
from agent.sync.protocol import Allocate, Cancel, ElectronicIssue
from hal_sim.staff import staff_badge_list

__all__ = ["BloodBank"]

DEFAULT_VALID_H = 4.0
"""How long an allocation or an eligibility lasts unless told otherwise."""


@dataclass(frozen=True, slots=True)
class BloodBank:
    """The hospital's decisions for one cabinet's desk, dated by the simulated clock;
    electronic issue is for ``product_class`` (what the cabinet stores)."""

    desk: CabinetDesk
    clock: Clock
    product_class: str = "red_cells"

    def now(self) -> dt.datetime:
        """The simulated wall-clock time."""
        return dt.datetime.fromtimestamp(self.clock.wall_ns() / 1e9, tz=dt.UTC)

    def _until_ns(self, hours: float) -> int:
        return int((self.now() + dt.timedelta(hours=hours)).timestamp() * 1e9)

    async def send_badge_list(self, age: dt.timedelta = dt.timedelta()) -> str | None:
        """The staff badge list (:data:`hal_sim.staff.STAFF`), issued ``age`` ago."""
        return await self.desk.decide(staff_badge_list(self.now() - age))

    async def allocate(
        self, din: str, patient: str, order: str, hours: float = DEFAULT_VALID_H
    ) -> str | None:
        """Unit ``din`` is crossmatched for ``patient`` on ``order`` for ``hours``."""
        return await self.desk.decide(Allocate(din, patient, order, self._until_ns(hours)))

    async def electronic_issue(
        self,
        patient: str,
        order: str,
        groups: tuple[str, ...],
        units: int,
        hours: float = DEFAULT_VALID_H,
    ) -> str | None:
        """``patient`` may take up to ``units`` units of ``groups`` on ``order``."""
        decision = ElectronicIssue(
            patient, order, groups, self.product_class, units, self._until_ns(hours)
        )
        return await self.desk.decide(decision)

    async def cancel(self, order: str, din: str | None = None) -> str | None:
        """``order`` is cancelled: all its allocations, or only unit ``din``'s."""
        return await self.desk.decide(Cancel(order, din))
