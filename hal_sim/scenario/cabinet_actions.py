"""The scenario actions of a dispensing cabinet's workflows: people at the scanning station and
the touch screen, and the hospital's blood bank deciding (``do = "..."``).

Each is a frozen dataclass like the bench actions of :mod:`hal_sim.scenario.actions`, which
merges :data:`CABINET_ACTIONS` into its table. What a person does at the screen is answered on
the screen and in the journal (checked with ``expect = "screen"`` and ``expect = "event"``);
a decision of the hospital that the cabinet refuses raises
:class:`~hal_sim.staff.CabinetRefused` with the cabinet's reason, which a step expects with
``expect_error`` like a bench refusal.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import ClassVar

from agent.config.fields import Field
from agent.config.kinds import OPTIONAL, REQUIRED, NameList, Number, Text
from hal_sim.blood_bank import DEFAULT_VALID_H
from hal_sim.scenario.kinds import Duration, Named
from hal_sim.scenario.model import Action, Bench, DeviceFacts, StepSpec, call_text
from hal_sim.staff import SCREEN_CHOICES, CabinetRefused, desk_of, stock_in

__all__ = ["CABINET_ACTIONS"]

_IDENTIFIER = Text(
    "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    pattern=re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"),
)
_GROUPS = NameList(Text(pattern=re.compile(r"(O|A|B|AB)[+-]")), what="ABO/RhD group like O-")


def _din(facts: DeviceFacts, key: str = "din", default: object = REQUIRED) -> Field:
    return Field(key, Named("unit DIN from a [[stock]] or [[unit]] table", facts.dins), default)


class _Call:
    """Shows an action as a call: ``choose(choice="stock_in")``."""

    NAME: ClassVar[str]

    def describe(self) -> str:
        return call_text(self.NAME, self)


def _refused(answer: str | None) -> None:
    if answer is not None:
        raise CabinetRefused(answer)


# --- people at the cabinet ------------------------------------------------------------------------


@dataclass(frozen=True)
class StockIn(_Call):
    """The technician stocks a unit the regular way: badge, station, label scans, the slot
    the cabinet opens; then signs out."""

    NAME: ClassVar[str] = "stock_in"
    din: str

    async def apply(self, bench: Bench) -> None:
        await stock_in(bench.session, [bench.units[self.din]])


@dataclass(frozen=True)
class HoldAtStation(_Call):
    """A person holds a unit on the scanning station (to stock it in or return it)."""

    NAME: ClassVar[str] = "hold_at_station"
    din: str

    async def apply(self, bench: Bench) -> None:
        bench.device.hold_at_station(bench.units[self.din])


@dataclass(frozen=True)
class TakeFromStation(_Call):
    """A person takes the unit on the scanning station back off it."""

    NAME: ClassVar[str] = "take_from_station"

    async def apply(self, bench: Bench) -> None:
        bench.device.take_from_station()


@dataclass(frozen=True)
class Choose(_Call):
    """The signed-in person touches a choice on the screen (``emergency`` with a reason)."""

    NAME: ClassVar[str] = "choose"
    choice: str
    reason: str = ""

    async def apply(self, bench: Bench) -> None:
        await desk_of(bench.session).choose(self.choice, self.reason)


@dataclass(frozen=True)
class ReprogramTag(_Call):
    """Bench fault: unit ``din``'s RFID tag carries another DIN (``tag_din``) than its label."""

    NAME: ClassVar[str] = "reprogram_tag"
    din: str
    tag_din: str
    flags: str = "00"

    async def apply(self, bench: Bench) -> None:
        bench.device.reprogram_tag(bench.units[self.din].tag_uid, self.tag_din, self.flags)


# --- the hospital's blood bank --------------------------------------------------------------------


@dataclass(frozen=True)
class Allocate(_Call):
    """The blood bank crossmatched unit ``din`` for ``patient`` on ``order``, for ``hours``."""

    NAME: ClassVar[str] = "allocate"
    din: str
    patient: str
    order: str
    hours: float = DEFAULT_VALID_H

    async def apply(self, bench: Bench) -> None:
        blood_bank = bench.session.blood_bank()
        _refused(await blood_bank.allocate(self.din, self.patient, self.order, self.hours))


@dataclass(frozen=True)
class ElectronicIssue(_Call):
    """``patient`` may take up to ``units`` units of ``groups`` on ``order``, for ``hours``."""

    NAME: ClassVar[str] = "electronic_issue"
    patient: str
    order: str
    groups: tuple[str, ...]
    units: int
    hours: float = DEFAULT_VALID_H

    async def apply(self, bench: Bench) -> None:
        blood_bank = bench.session.blood_bank()
        _refused(
            await blood_bank.electronic_issue(
                self.patient, self.order, self.groups, self.units, self.hours
            )
        )


@dataclass(frozen=True)
class Cancel(_Call):
    """``order`` is cancelled: all its allocations, or only unit ``din``'s."""

    NAME: ClassVar[str] = "cancel"
    order: str
    din: str | None = None

    async def apply(self, bench: Bench) -> None:
        _refused(await bench.session.blood_bank().cancel(self.order, self.din))


@dataclass(frozen=True)
class SendBadgeList(_Call):
    """The blood bank sends the staff badge list, issued ``age`` ago (seconds)."""

    NAME: ClassVar[str] = "badge_list"
    age: float = 0.0

    async def apply(self, bench: Bench) -> None:
        blood_bank = bench.session.blood_bank()
        _refused(await blood_bank.send_badge_list(dt.timedelta(seconds=self.age)))


CABINET_ACTIONS: dict[str, StepSpec[Action]] = {
    StockIn.NAME: StepSpec(lambda facts: (_din(facts),), StockIn),
    HoldAtStation.NAME: StepSpec(lambda facts: (_din(facts),), HoldAtStation),
    TakeFromStation.NAME: StepSpec((), TakeFromStation),
    Choose.NAME: StepSpec(
        (
            Field("choice", Named("screen choice", SCREEN_CHOICES)),
            Field("reason", Text(allow_empty=True), ""),
        ),
        Choose,
    ),
    ReprogramTag.NAME: StepSpec(
        lambda facts: (
            _din(facts),
            Field("tag_din", Text("a 13-character DIN", pattern=re.compile(r"[A-Z0-9]{13}"))),
            Field("flags", Text("2 flag characters", pattern=re.compile(r"[A-Z0-9]{2}")), "00"),
        ),
        ReprogramTag,
    ),
    Allocate.NAME: StepSpec(
        lambda facts: (
            _din(facts),
            Field("patient", _IDENTIFIER),
            Field("order", _IDENTIFIER),
            Field("hours", Number("a number of hours", gt=0.0), DEFAULT_VALID_H),
        ),
        Allocate,
    ),
    ElectronicIssue.NAME: StepSpec(
        (
            Field("patient", _IDENTIFIER),
            Field("order", _IDENTIFIER),
            Field("groups", _GROUPS),
            Field("units", Number("a number of units", ge=1, le=100, integer=True)),
            Field("hours", Number("a number of hours", gt=0.0), DEFAULT_VALID_H),
        ),
        ElectronicIssue,
    ),
    Cancel.NAME: StepSpec(
        lambda facts: (Field("order", _IDENTIFIER), _din(facts, default=OPTIONAL)), Cancel
    ),
    SendBadgeList.NAME: StepSpec((Field("age", Duration(), 0.0),), SendBadgeList),
}
"""The cabinet workflow actions by the name a step gives in ``do``."""
