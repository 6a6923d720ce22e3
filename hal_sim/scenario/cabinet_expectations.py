"""The scenario expectations of a dispensing cabinet (``expect = "..."``): what its screen
tells the person, what state the cabinet holds a unit in, what its indicator shows.

The cabinet's records (a unit stocked, a refusal with its reason, an incident) are checked
with the generic ``event`` expectation; these check what a person standing at the cabinet
would see, and the state the records built. :mod:`hal_sim.scenario.expectations` merges
:data:`CABINET_EXPECTATIONS` into its table.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.cabinet.screen import Tone
from agent.config.fields import Field
from agent.config.kinds import OPTIONAL, Choice, Text
from agent.domain.units import UnitState
from agent.hal.parts import IndicatorState
from hal_sim.scenario.kinds import Named
from hal_sim.scenario.model import Expectation, Seen, StepSpec, Verdict

__all__ = ["CABINET_EXPECTATIONS", "UNKNOWN"]

_NOT_A_CABINET = Verdict(passed=False, found="the device is not a dispensing cabinet")


@dataclass(frozen=True, slots=True)
class ScreenSays:
    """The cabinet's screen shows a message containing ``says`` (ignoring case), in ``tone``
    if given."""

    says: str
    tone: Tone | None = None

    def describe(self) -> str:
        tone = "" if self.tone is None else f" ({self.tone.value})"
        return f'screen says "{self.says}"{tone}'

    def check(self, seen: Seen) -> Verdict:
        if seen.desk is None:
            return _NOT_A_CABINET
        screen = seen.desk.screen
        found = f'"{screen.message}" ({screen.tone.value})'
        passed = self.says.lower() in screen.message.lower() and self.tone in (None, screen.tone)
        return Verdict(passed, found)


UNKNOWN = "unknown"
"""The state written for a unit the cabinet does not know."""


_STATE = Named("unit state", (*(state.value for state in UnitState), UNKNOWN))


@dataclass(frozen=True, slots=True)
class UnitIs:
    """The cabinet holds unit ``din`` in ``state`` (``unknown``: it does not know the unit)."""

    din: str
    state: str

    def describe(self) -> str:
        return f"unit {self.din} {self.state}"

    def check(self, seen: Seen) -> Verdict:
        if seen.desk is None:
            return _NOT_A_CABINET
        unit = seen.desk.cabinet.inventory.get(self.din)
        state = UNKNOWN if unit is None else unit.state.value
        where = "" if unit is None or unit.slot is None else f" in slot {unit.slot}"
        return Verdict(state == self.state, f"{state}{where}")


@dataclass(frozen=True, slots=True)
class IndicatorShows:
    """The device's indicator (light and buzzer) shows ``state``."""

    state: IndicatorState

    def describe(self) -> str:
        return f"indicator {self.state.value}"

    def check(self, seen: Seen) -> Verdict:
        shown = seen.device.indicator.shown
        return Verdict(shown is self.state, shown.value)


CABINET_EXPECTATIONS: dict[str, StepSpec[Expectation]] = {
    "screen": StepSpec(
        (Field("says", Text()), Field("tone", Choice(Tone), OPTIONAL)),
        ScreenSays,
    ),
    "unit": StepSpec(
        lambda facts: (
            Field("din", Named("unit DIN from a [[stock]] or [[unit]] table", facts.dins)),
            Field("state", _STATE),
        ),
        UnitIs,
    ),
    "indicator": StepSpec((Field("state", Choice(IndicatorState)),), IndicatorShows),
}
"""The cabinet's expectations by the name a step gives in ``expect``."""
