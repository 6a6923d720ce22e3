"""The expectations a scenario step can check (``expect = "..."``), one frozen dataclass each.

:data:`EXPECTATIONS` maps the name written in the file to the
:class:`~hal_sim.scenario.model.StepSpec` saying which keys it takes; ``docs/simulator.md``
("Scenarios") documents them for people. ``event``, ``no_event``, ``count`` and ``power`` read
what the agent recorded; ``temperature`` reads the probes as the agent sampled them; ``door``,
``slot`` and ``battery`` read the simulated world itself.

A window of time runs from ``since`` (simulated time since the start; default the start) to
the step's ``at``, both included.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from types import NoneType, UnionType

from agent.config.fields import Field
from agent.config.kinds import OPTIONAL, Context, Flag, Number, render
from agent.duration import format_duration
from agent.events import PAYLOAD_TYPES, EventType, Payload, PowerChanged
from hal_sim.scenario.cabinet_expectations import CABINET_EXPECTATIONS
from hal_sim.scenario.kinds import (
    Bounds,
    Duration,
    Named,
    RecordedEventType,
    SlotNumber,
    Where,
)
from hal_sim.scenario.model import (
    DeviceFacts,
    Expectation,
    Seen,
    StepKeys,
    StepSpec,
    Verdict,
    value_text,
)
from hal_sim.scenario.record import Recorded

__all__ = ["EXPECTATIONS", "sampled_probe"]

WhereValue = str | int | float | bool | tuple[str, ...]
"""A value a ``where`` table asks a payload field to have; for a field holding several
strings (``arrived`` of ``tags_changed``), a string asks that it be among them."""


def _span_text(since: float, until: float) -> str:
    return f"from {format_duration(since)} to {format_duration(until)}"


# --- ranges ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Range:
    """Where a value must be: above ``low`` and/or below ``high`` (both strict), or - with
    ``inclusive``, written ``between = [low, high]`` - from ``low`` to ``high``."""

    low: float | None
    high: float | None
    inclusive: bool = False

    @classmethod
    def of(
        cls, above: float | None, below: float | None, between: tuple[float, float] | None
    ) -> Range:
        if between is not None:
            return cls(between[0], between[1], inclusive=True)
        return cls(above, below)

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value < self.low if self.inclusive else value <= self.low):
            return False
        return self.high is None or (value <= self.high if self.inclusive else value < self.high)

    def text(self, unit: str) -> str:
        if self.inclusive:
            return f"between {self.low:g} and {self.high:g}{unit}"
        parts = [] if self.low is None else [f"above {self.low:g}{unit}"]
        if self.high is not None:
            parts.append(f"below {self.high:g}{unit}")
        return " and ".join(parts)


def _range_fields(number: Number) -> tuple[Field, ...]:
    return (
        Field("above", number, OPTIONAL),
        Field("below", number, OPTIONAL),
        Field("between", Bounds(), OPTIONAL),
    )


def _range_rule(keys: StepKeys, ctx: Context, alternative: str | None = None) -> None:
    """``above`` and/or ``below``, or ``between``, or ``alternative`` alone."""
    names = ("above", "below", "between", *((alternative,) if alternative else ()))
    given = [name for name in names if name in keys.written]
    exclusive = {"between", alternative} & set(given)
    if not given or (exclusive and len(given) > 1):
        expected = "above and/or below, or between" + (f", or {alternative}" if alternative else "")
        ctx.problem(keys.key, expected, " and ".join(given) if given else "none of them")
        return
    above, below = keys.values.get("above"), keys.values.get("below")
    if isinstance(above, float) and isinstance(below, float) and above >= below:
        ctx.problem(f"{keys.key}.below", f"a value above {above:g} (above)", render(below))


# --- temperature and battery -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Temperature:
    """A probe's latest reading is in ``range`` - or the probe is faulted, if ``range`` is
    ``None``; with ``since``, every reading from ``since`` on is in ``range``."""

    probe: str
    range: Range | None
    since: float | None = None

    def describe(self) -> str:
        if self.range is None:
            return f"temperature {self.probe} faulted"
        span = "" if self.since is None else f" since {format_duration(self.since)}"
        return f"temperature {self.probe} {self.range.text(' °C')}{span}"

    def check(self, seen: Seen) -> Verdict:
        if self.since is not None and self.range is not None:
            span = seen.record.samples(self.probe, self.since, seen.now)
            if span is None:
                return Verdict(
                    passed=False, found=f"no readings {_span_text(self.since, seen.now)}"
                )
            found = f"{span.count} readings from {span.low:.2f} to {span.high:.2f} °C"
            return Verdict(span.low in self.range and span.high in self.range, found)
        if self.probe not in seen.latest_temperatures:
            return Verdict(passed=False, found="no reading yet")
        latest = seen.latest_temperatures[self.probe]
        if latest is None:
            return Verdict(self.range is None, "the probe is faulted")
        return Verdict(self.range is not None and latest in self.range, f"read {latest:.2f} °C")


def _temperature(
    *,
    probe: str,
    above: float | None = None,
    below: float | None = None,
    between: tuple[float, float] | None = None,
    fault: bool | None = None,
    since: float | None = None,
) -> Temperature:
    return Temperature(probe, None if fault else Range.of(above, below, between), since)


def _temperature_rule(keys: StepKeys, ctx: Context) -> None:
    _range_rule(keys, ctx, alternative="fault")
    if keys.values.get("fault") is False:
        ctx.problem(f"{keys.key}.fault", "true (or a range instead of fault)", "false")
    if "fault" in keys.written and "since" in keys.written:
        expected = 'no since with fault (a fault over time: expect = "event", type = "probe_fault")'
        ctx.problem(f"{keys.key}.since", expected, "a since key")


def sampled_probe(expectation: Expectation) -> str | None:
    """The probe whose every reading over a span ``expectation`` checks, if any: the runner
    keeps those readings."""
    if isinstance(expectation, Temperature) and expectation.since is not None:
        return expectation.probe
    return None


@dataclass(frozen=True, slots=True)
class Battery:
    """The battery's state of charge (0-1) in the simulated world is in ``range``."""

    range: Range

    def describe(self) -> str:
        return f"battery {self.range.text('')}"

    def check(self, seen: Seen) -> Verdict:
        seen.device.advance_physics()
        fraction = seen.device.battery.fraction
        return Verdict(fraction in self.range, f"at {fraction:.3f}")


def _battery(
    *,
    above: float | None = None,
    below: float | None = None,
    between: tuple[float, float] | None = None,
) -> Battery:
    return Battery(Range.of(above, below, between))


# --- events ------------------------------------------------------------------------------------


def _payload_text(payload: Payload) -> str:
    """The payload's fields as ``name=value``, those without a value left out."""
    return " ".join(
        f"{field.name}={value_text(value)}"
        for field in dataclasses.fields(payload)
        if (value := getattr(payload, field.name)) is not None
    )


def _recorded_text(recorded: Recorded) -> str:
    return f"at {format_duration(recorded.at)}: {_payload_text(recorded.event.payload)}"


def _field_matches(actual: object, wanted: WhereValue) -> bool:
    if isinstance(actual, tuple) and isinstance(wanted, str):
        return wanted in actual
    return actual == wanted


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Events of ``type`` whose payload fields have the values in ``where``, from ``since``
    to the step's time."""

    type: EventType
    where: Mapping[str, WhereValue]
    since: float

    def text(self) -> str:
        where = " ".join(f"{name}={value_text(value)}" for name, value in self.where.items())
        return self.type.value + (f" with {where}" if where else "")

    def found(self, seen: Seen) -> tuple[list[Recorded], list[Recorded]]:
        """The matching events, and the events of the type that do not match."""
        matching: list[Recorded] = []
        other: list[Recorded] = []
        for recorded in seen.record.between(self.since, seen.now, self.type):
            payload = recorded.event.payload
            fits = all(
                _field_matches(getattr(payload, name), value) for name, value in self.where.items()
            )
            (matching if fits else other).append(recorded)
        return matching, other


@dataclass(frozen=True, slots=True)
class EventRecorded:
    """At least one matching event was recorded in the window."""

    filter: EventFilter

    def describe(self) -> str:
        return f"event {self.filter.text()}"

    def check(self, seen: Seen) -> Verdict:
        matching, other = self.filter.found(seen)
        if matching:
            return Verdict(passed=True, found=_recorded_text(matching[0]))
        found = f"none {_span_text(self.filter.since, seen.now)}"
        if other:
            found += f"; {len(other)} not matching, the last {_recorded_text(other[-1])}"
        return Verdict(passed=False, found=found)


@dataclass(frozen=True, slots=True)
class NoEventRecorded:
    """No matching event was recorded in the window."""

    filter: EventFilter

    def describe(self) -> str:
        return f"no event {self.filter.text()}"

    def check(self, seen: Seen) -> Verdict:
        matching, _ = self.filter.found(seen)
        if not matching:
            return Verdict(passed=True, found=f"none {_span_text(self.filter.since, seen.now)}")
        return Verdict(
            passed=False, found=f"{len(matching)}, the first {_recorded_text(matching[0])}"
        )


@dataclass(frozen=True, slots=True)
class EventCount:
    """The number of matching events in the window is from ``at_least`` to ``at_most``."""

    filter: EventFilter
    at_least: int
    at_most: int | None

    def describe(self) -> str:
        if self.at_least == self.at_most:
            bound = f"exactly {self.at_least}"
        elif self.at_most is None:
            bound = f"at least {self.at_least}"
        else:
            bound = f"{self.at_least} to {self.at_most}"
        return f"{bound} events {self.filter.text()}"

    def check(self, seen: Seen) -> Verdict:
        count = len(self.filter.found(seen)[0])
        passed = count >= self.at_least and (self.at_most is None or count <= self.at_most)
        return Verdict(passed, f"{count} {_span_text(self.filter.since, seen.now)}")


def _event(
    *, type: EventType, since: float, where: Mapping[str, WhereValue] | None = None
) -> EventRecorded:
    return EventRecorded(EventFilter(type, where or {}, since))


def _no_event(
    *, type: EventType, since: float, where: Mapping[str, WhereValue] | None = None
) -> NoEventRecorded:
    return NoEventRecorded(EventFilter(type, where or {}, since))


def _count(
    *,
    type: EventType,
    since: float,
    where: Mapping[str, WhereValue] | None = None,
    exactly: int | None = None,
    at_least: int | None = None,
    at_most: int | None = None,
) -> EventCount:
    event_filter = EventFilter(type, where or {}, since)
    if exactly is not None:
        return EventCount(event_filter, exactly, exactly)
    return EventCount(event_filter, at_least or 0, at_most)


def _accepts(hint: object, value: WhereValue) -> bool:
    """Whether a payload field annotated ``hint`` can have ``value``."""
    if typing.get_origin(hint) in (typing.Union, UnionType):
        return any(_accepts(arg, value) for arg in typing.get_args(hint) if arg is not NoneType)
    if typing.get_origin(hint) is tuple:
        return isinstance(value, str | tuple)
    if isinstance(value, bool) or hint is bool:
        return hint is bool and isinstance(value, bool)
    if hint is int:
        return isinstance(value, int)
    if hint is float:
        return isinstance(value, int | float)
    return hint is str and isinstance(value, str)


def _hint_text(hint: object) -> str:
    """What a payload field annotated ``hint`` holds, for a problem's ``expected``."""
    if typing.get_origin(hint) in (typing.Union, UnionType):
        return _hint_text(next(arg for arg in typing.get_args(hint) if arg is not NoneType))
    if typing.get_origin(hint) is tuple:
        return "a string (one of them) or an array of strings (all of them)"
    texts: dict[object, str] = {bool: "true or false", int: "an integer", float: "a number"}
    return texts.get(hint, "a string")


def _where_rule(keys: StepKeys, ctx: Context) -> None:
    """Every key of ``where`` is a field of the event type's payload, with a value it can have."""
    kind, where = keys.values.get("type"), keys.values.get("where")
    if not isinstance(kind, EventType) or not isinstance(where, dict):
        return
    payload_type = PAYLOAD_TYPES[kind]
    hints = typing.get_type_hints(payload_type)
    names = [field.name for field in dataclasses.fields(payload_type)]
    for name, value in where.items():
        key = f"{keys.key}.where.{name}"
        if name not in names:
            fields = ", ".join(names)
            ctx.problem(key, f"a field of {kind.value}: {fields}", f'unknown field "{name}"')
        elif not _accepts(hints[name], value):
            ctx.problem(key, _hint_text(hints[name]), render(value))


def _count_rule(keys: StepKeys, ctx: Context) -> None:
    _where_rule(keys, ctx)
    given = [name for name in ("exactly", "at_least", "at_most") if name in keys.written]
    if not given or ("exactly" in given and len(given) > 1):
        found = " and ".join(given) if given else "none of them"
        ctx.problem(keys.key, "exactly, or at_least and/or at_most", found)
        return
    at_least, at_most = keys.values.get("at_least"), keys.values.get("at_most")
    if isinstance(at_least, int) and isinstance(at_most, int) and at_least > at_most:
        ctx.problem(f"{keys.key}.at_most", f"at least {at_least} (at_least)", render(at_most))


def _event_fields(*extra: Field) -> tuple[Field, ...]:
    return (
        Field("type", RecordedEventType()),
        Field("where", Where(), OPTIONAL),
        Field("since", Duration(), 0.0),
        *extra,
    )


_COUNT = Number("a number of events", ge=0, integer=True)


# --- the device's state --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Power:
    """The last ``power_changed`` event recorded says ``on_mains`` and ``battery_low`` (each
    checked only if given)."""

    on_mains: bool | None = None
    battery_low: bool | None = None

    def describe(self) -> str:
        wanted = [
            f"{name}={render(value)}"
            for name, value in (("on_mains", self.on_mains), ("battery_low", self.battery_low))
            if value is not None
        ]
        return "power " + " ".join(wanted)

    def check(self, seen: Seen) -> Verdict:
        last = next(
            (r for r in reversed(seen.record.events) if isinstance(r.event.payload, PowerChanged)),
            None,
        )
        if last is None or not isinstance(last.event.payload, PowerChanged):
            return Verdict(passed=False, found="no power_changed event recorded")
        status = last.event.payload
        passed = self.on_mains in (None, status.on_mains) and self.battery_low in (
            None,
            status.battery_low,
        )
        return Verdict(passed, _recorded_text(last))


def _power_rule(keys: StepKeys, ctx: Context) -> None:
    if not {"on_mains", "battery_low"} & keys.written:
        ctx.problem(keys.key, "on_mains and/or battery_low", "none of them")


@dataclass(frozen=True, slots=True)
class Door:
    """A door or lid (the first, unless named) is physically open or closed."""

    open: bool
    door: str | None = None

    def describe(self) -> str:
        door = "door" if self.door is None else f'door "{self.door}"'
        return f"{door} {'open' if self.open else 'closed'}"

    def check(self, seen: Seen) -> Verdict:
        is_open = seen.device.door_is_open(self.door)
        return Verdict(is_open == self.open, "open" if is_open else "closed")


@dataclass(frozen=True, slots=True)
class Slot:
    """A cabinet slot physically holds a unit, or is empty."""

    slot: int
    occupied: bool

    def describe(self) -> str:
        return f"slot {self.slot} {'occupied' if self.occupied else 'empty'}"

    def check(self, seen: Seen) -> Verdict:
        unit = seen.device.slot_units[self.slot]
        found = "empty" if unit is None else f"holds {unit.din}"
        return Verdict((unit is not None) == self.occupied, found)


def _temperature_fields(facts: DeviceFacts) -> tuple[Field, ...]:
    return (
        Field("probe", Named("probe", facts.probes)),
        *_range_fields(Number("a temperature in °C")),
        Field("fault", Flag(), OPTIONAL),
        Field("since", Duration(), OPTIONAL),
    )


EXPECTATIONS: dict[str, StepSpec[Expectation]] = {
    "temperature": StepSpec(_temperature_fields, _temperature, _temperature_rule),
    "battery": StepSpec(
        _range_fields(Number("a state of charge", ge=0.0, le=1.0)), _battery, _range_rule
    ),
    "event": StepSpec(_event_fields(), _event, _where_rule),
    "no_event": StepSpec(_event_fields(), _no_event, _where_rule),
    "count": StepSpec(
        _event_fields(
            Field("exactly", _COUNT, OPTIONAL),
            Field("at_least", _COUNT, OPTIONAL),
            Field("at_most", _COUNT, OPTIONAL),
        ),
        _count,
        _count_rule,
    ),
    "power": StepSpec(
        (Field("on_mains", Flag(), OPTIONAL), Field("battery_low", Flag(), OPTIONAL)),
        Power,
        _power_rule,
    ),
    "door": StepSpec(
        lambda facts: (Field("door", Named("door", facts.doors), OPTIONAL), Field("open", Flag())),
        Door,
    ),
    "slot": StepSpec(
        lambda facts: (Field("slot", SlotNumber(facts.slots)), Field("occupied", Flag())), Slot
    ),
    **CABINET_EXPECTATIONS,
}
"""Every expectation by the name a step gives in ``expect``: those here, and the cabinet's
of :mod:`hal_sim.scenario.cabinet_expectations`."""
