"""A parsed scenario, and the shapes its steps take.

A :class:`Scenario` is what :func:`hal_sim.scenario.format.load_scenario` builds from a file:
the device profile, the units, and the steps in time order. A step is either an
:class:`ActionStep` (a bench action, such as opening a door) or a :class:`CheckStep` (an
expectation, such as a temperature above a limit). The actions and expectations themselves
are in :mod:`hal_sim.scenario.actions` and :mod:`hal_sim.scenario.expectations`; each kind is
described there by a :class:`StepSpec`: its keys, given what is known of the device, how to
build it, and any rule across its keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from agent.cabinet.desk import CabinetDesk
from agent.config.fields import Field
from agent.config.kinds import Context, render
from agent.config.schema import DeviceKind, Profile
from hal_sim.device import SimDevice
from hal_sim.scenario.record import Recorder
from hal_sim.session import SimSession
from hal_sim.units import SimUnit

__all__ = [
    "Action",
    "ActionStep",
    "Bench",
    "CheckStep",
    "DeviceFacts",
    "Expectation",
    "Rule",
    "Scenario",
    "ScenarioRun",
    "Seen",
    "Step",
    "StepKeys",
    "StepResult",
    "StepSpec",
    "Stocked",
    "Verdict",
    "call_text",
    "one_of",
    "value_text",
]

T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True, slots=True)
class Bench:
    """What an action acts on: the running session (its device, and on a cabinet its desk and
    the blood bank deciding for it), and every unit the scenario names, by DIN."""

    session: SimSession
    units: Mapping[str, SimUnit]

    @property
    def device(self) -> SimDevice:
        return self.session.device


@dataclass(frozen=True, slots=True)
class Seen:
    """What an expectation is checked against at a step: the time (simulated seconds since
    the start), the events recorded so far, each probe's latest reading (``None`` while it
    is faulted), the simulated device itself and, on a cabinet, its desk (the screen and the
    state of the units)."""

    now: float
    record: Recorder
    latest_temperatures: Mapping[str, float | None]
    device: SimDevice
    desk: CabinetDesk | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of an expectation, with what was found, for the report."""

    passed: bool
    found: str


class Action(Protocol):
    """A bench action: what a person, a fault or the hospital does to the device."""

    async def apply(self, bench: Bench) -> None:
        """Do it; raises :class:`~hal_sim.device.BenchError` if the world does not allow it,
        :class:`~hal_sim.staff.CabinetRefused` if the cabinet refuses a hospital decision."""
        ...

    def describe(self) -> str:
        """The action as the report shows it."""
        ...


class Expectation(Protocol):
    """Something that must be true at a step's time."""

    def check(self, seen: Seen) -> Verdict: ...

    def describe(self) -> str:
        """What is expected, as the report shows it."""
        ...


@dataclass(frozen=True, slots=True)
class StepKeys:
    """One step's keys, for a rule across them: the step's own key (``step[3]``), the values
    that passed their checks, the keys written (valid or not), and the keys this kind of step
    accepts on the device."""

    key: str
    values: Mapping[str, object]
    written: frozenset[str]
    accepted: frozenset[str]


Rule = Callable[[StepKeys, Context], None]
"""A rule across the keys of one step; it reports problems into the context. Rules run only
on steps whose keys each passed their own checks."""


def _no_rule(_keys: StepKeys, _ctx: Context) -> None:
    """A step kind without rules across its keys."""


def one_of(*names: str, required: bool = True) -> Rule:
    """A rule: exactly one of the keys ``names`` that the step accepts on the device is given
    (at most one, if not ``required``)."""

    def rule(keys: StepKeys, ctx: Context) -> None:
        choices = [name for name in names if name in keys.accepted]
        if len(choices) < 2:
            return
        given = [name for name in choices if name in keys.written]
        if len(given) > 1 or (required and not given):
            expected = ("exactly" if required else "at most") + " one of " + ", ".join(choices)
            ctx.problem(keys.key, expected, " and ".join(given) if given else "none of them")

    return rule


@dataclass(frozen=True)
class StepSpec(Generic[T_co]):
    """How one kind of action or expectation is written: ``fields`` lists its keys (or says
    which keys it takes on a device), ``build`` makes it from the checked values (passed as
    keyword arguments), and ``rule`` reports problems across keys."""

    fields: tuple[Field, ...] | Callable[[DeviceFacts], tuple[Field, ...]]
    build: Callable[..., T_co]
    rule: Rule = _no_rule

    def fields_for(self, facts: DeviceFacts) -> tuple[Field, ...]:
        """The keys this kind of step takes on the device ``facts`` describe."""
        return self.fields if isinstance(self.fields, tuple) else self.fields(facts)


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """What the parser knows of the device, to check steps against it. ``kind``, ``slots``,
    ``doors`` and ``probes`` are ``None`` when the profile could not be loaded; ``dins`` are
    the units the scenario itself defines."""

    kind: DeviceKind | None
    slots: int | None
    doors: tuple[str, ...] | None
    probes: tuple[str, ...] | None
    dins: tuple[str, ...]

    @classmethod
    def of(cls, profile: Profile | None, dins: tuple[str, ...]) -> DeviceFacts:
        if profile is None:
            return cls(kind=None, slots=None, doors=None, probes=None, dins=dins)
        return cls(
            kind=profile.device.kind,
            slots=profile.slots,
            doors=tuple(door.name for door in profile.doors),
            probes=tuple(probe.name for probe in profile.probes),
            dins=dins,
        )


@dataclass(frozen=True, slots=True)
class ActionStep:
    """A step that acts. ``expect_error`` is a part of the :class:`~hal_sim.device.BenchError`
    message the action must be refused with, or ``None`` if it must succeed."""

    index: int
    at: float
    action: Action
    expect_error: str | None = None


@dataclass(frozen=True, slots=True)
class CheckStep:
    """A step that checks an expectation."""

    index: int
    at: float
    expectation: Expectation


Step = ActionStep | CheckStep


@dataclass(frozen=True, slots=True)
class Stocked:
    """A unit inside when the run starts: stocked in by the technician into ``slot``
    (cabinet), or placed loose before the agent starts (fridge, box)."""

    unit: SimUnit
    slot: int | None


@dataclass(frozen=True)
class Scenario:
    """A whole scenario, checked: run ``steps`` (in time order) on a device of ``profile``
    loaded with ``stock``, for ``duration`` simulated seconds in all. ``units`` holds every
    unit the scenario defines, stocked or not, by DIN. ``badge_list`` says whether a cabinet
    is sent the staff badge list at the start."""

    source: Path
    name: str
    description: str
    profile: Profile
    stock: tuple[Stocked, ...]
    units: Mapping[str, SimUnit]
    steps: tuple[Step, ...]
    duration: float
    badge_list: bool = True


def value_text(value: object) -> str:
    """A value as it would be written in a scenario file (a tuple as an array)."""
    if isinstance(value, tuple):
        return "[" + ", ".join(render(item) for item in value) + "]"
    return render(value)


def call_text(name: str, instance: Any) -> str:
    """``name(key=value, ...)`` for a dataclass instance, values written as in TOML and those
    left at their defaults left out: how the report shows an action."""
    arguments = ", ".join(
        f"{field.name}={value_text(value)}"
        for field in dataclasses.fields(instance)
        if (value := getattr(instance, field.name)) != field.default
    )
    return f"{name}({arguments})"


@dataclass(frozen=True, slots=True)
class StepResult:
    """How one step went: whether it passed, and what was found (or done) at its time."""

    step: Step
    passed: bool
    found: str


@dataclass(frozen=True)
class ScenarioRun:
    """A finished run of a scenario: a result for every step, in order; ``agent_failure``
    says how the agent failed, if it did, and ``setup_failure`` why the units could not be
    stocked (the steps were then not run); ``wall_s`` is the wall time the run took."""

    scenario: Scenario
    results: tuple[StepResult, ...]
    agent_failure: str | None
    wall_s: float
    setup_failure: str | None = None

    @property
    def passed(self) -> bool:
        return (
            self.agent_failure is None
            and self.setup_failure is None
            and all(result.passed for result in self.results)
        )
