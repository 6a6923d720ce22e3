"""Load a scenario file: TOML in, a checked :class:`~hal_sim.scenario.model.Scenario` out.

:func:`load_scenario` reads the file, loads the device profile it names, and checks every
table - ``[scenario]``, ``[[stock]]``, ``[[unit]]``, every ``[[step]]`` - against the profile,
collecting every problem before raising one :class:`~hal_sim.scenario.errors.ScenarioError`,
so that nothing runs until the whole file is right. The format is documented in
``docs/simulator.md`` ("Scenarios").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.cli import resolve_profile
from agent.config import ProfileError, load_profile
from agent.config.errors import FILE_KEY, Problem
from agent.config.fields import Field, Table, check_table
from agent.config.kinds import ABSENT, OPTIONAL, Context, Flag, Number, Text, render
from agent.config.schema import DeviceKind, Profile
from agent.duration import format_duration
from hal_sim.scenario.actions import ACTIONS
from hal_sim.scenario.errors import ScenarioError
from hal_sim.scenario.expectations import EXPECTATIONS
from hal_sim.scenario.kinds import Duration, Moment, SlotNumber
from hal_sim.scenario.model import (
    ActionStep,
    CheckStep,
    DeviceFacts,
    Scenario,
    Step,
    StepKeys,
    StepSpec,
    Stocked,
)
from hal_sim.session import DEFAULT_WALL_EPOCH
from hal_sim.units import SimUnit

__all__ = ["load_scenario"]

_FILE = Table("a scenario file", fields=(), subtables=("scenario", "stock", "unit", "step"))

_SCENARIO = Table(
    "[scenario]",
    fields=(
        Field("name", Text()),
        Field("profile", Text("cabinet, fridge, transport, or a profile file's path")),
        Field("description", Text(allow_empty=True), ""),
        Field("duration", Duration(), OPTIONAL),
        Field("seed", Number("a random seed", ge=0, integer=True), OPTIONAL),
        Field("badge_list", Flag(), True),
    ),
)


def _pattern(expected: str, pattern: str) -> Text:
    return Text(expected, pattern=re.compile(pattern))


_UNIT_FIELDS = (
    Field("din", _pattern("a 13-character DIN without its flags", r"[A-Z0-9]{13}")),
    Field("flags", _pattern("2 flag characters", r"[A-Z0-9]{2}"), "00"),
    Field("blood_group", _pattern("a 4-character ABO/RhD code", r"[A-Z0-9]{4}"), "5100"),
    Field("product", _pattern("an 8-character product code", r"[A-Z0-9]{8}"), "E0336V00"),
    Field("expires", Moment(DEFAULT_WALL_EPOCH), DEFAULT_WALL_EPOCH + dt.timedelta(days=35)),
    Field("tag", _pattern("a tag UID in upper-case hexadecimal", r"[0-9A-F]+"), OPTIONAL),
)

_STEP_KEYS = {"do": (Field("expect_error", Text(), OPTIONAL),), "expect": ()}
"""The keys every step of each shape takes besides ``at`` (checked first, for the order of
steps), ``do`` or ``expect``, and those of its action or expectation."""


def load_scenario(path: Path) -> Scenario:
    """Read and check the scenario at ``path``; raise :class:`ScenarioError` listing every
    problem in it."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ScenarioError(
            path, (Problem(FILE_KEY, "a readable TOML file", str(error)),)
        ) from None
    ctx = Context(base_dir=path.parent)
    scenario = _build(document, path, ctx)
    if ctx.problems or scenario is None:
        raise ScenarioError(path, tuple(ctx.problems))
    return scenario


def _build(document: Mapping[str, object], source: Path, ctx: Context) -> Scenario | None:
    """Check every table of ``document``; the scenario, or ``None`` if ``ctx`` got problems."""
    tables = check_table(document, "", _FILE, ctx).subtables
    header = check_table(tables.get("scenario", ABSENT), "scenario", _SCENARIO, ctx).values
    profile = _profile(header, source, ctx)
    facts = DeviceFacts.of(profile, dins=())
    stock_table = Table("[[stock]]", _UNIT_FIELDS + _stock_slot(facts))
    stock = [(key, *_unit(raw, key, stock_table, ctx)) for key, raw in _array(tables, "stock", ctx)]
    unit_table = Table("[[unit]]", _UNIT_FIELDS)
    loose = [(key, *_unit(raw, key, unit_table, ctx)) for key, raw in _array(tables, "unit", ctx)]
    units = _index_units([(key, unit) for key, unit, _ in stock + loose], ctx)
    _check_distinct("slot", [(key, slot) for key, _, slot in stock if slot is not None], ctx)
    if facts.kind is DeviceKind.CABINET:
        stock = _stocked_in_order(stock, ctx)
        if stock and header.get("badge_list") is False:
            expected = "true when a cabinet has [[stock]] (its technician must sign in)"
            ctx.problem("scenario.badge_list", expected, "false")
    facts = dataclasses.replace(facts, dins=tuple(units))
    steps = _steps(_array(tables, "step", ctx), facts, ctx)
    duration = _duration(header, steps, ctx)
    if ctx.problems or profile is None:
        return None
    return Scenario(
        source=source,
        name=str(header["name"]),
        description=str(header["description"]),
        profile=profile,
        stock=tuple(Stocked(unit, slot) for _, unit, slot in stock if unit is not None),
        units=units,
        steps=tuple(steps),
        duration=duration,
        badge_list=bool(header["badge_list"]),
    )


def _profile(header: Mapping[str, object], source: Path, ctx: Context) -> Profile | None:
    """The profile named in ``[scenario]``, with the scenario's seed if it gives one."""
    name = header.get("profile")
    if not isinstance(name, str):
        return None
    try:
        profile = load_profile(source.parent / resolve_profile(name))
    except ProfileError as error:
        for problem in error.problems:
            ctx.problem("scenario.profile", "a valid device profile", f"{error.source}: {problem}")
        return None
    seed = header.get("seed")
    if isinstance(seed, int):
        profile = dataclasses.replace(profile, sim=dataclasses.replace(profile.sim, seed=seed))
    return profile


def _duration(header: Mapping[str, object], steps: list[Step], ctx: Context) -> float:
    """How long the scenario runs: ``duration``, at least until the last step."""
    last = steps[-1].at if steps else 0.0
    duration = header.get("duration")
    if not isinstance(duration, float):
        return last
    if duration < last:
        expected = f"at least the time of the last step ({format_duration(last)})"
        ctx.problem("scenario.duration", expected, format_duration(duration))
    return duration


def _array(
    tables: Mapping[str, object], name: str, ctx: Context
) -> list[tuple[str, Mapping[str, object]]]:
    """The ``[[name]]`` tables, each with its key (``stock[2]``, numbered from 1)."""
    raw = tables.get(name, [])
    if not isinstance(raw, list):
        ctx.problem(name, f"[[{name}]] tables", render(raw))
        return []
    items: list[tuple[str, Mapping[str, object]]] = []
    for index, item in enumerate(raw, start=1):
        key = f"{name}[{index}]"
        if isinstance(item, dict):
            items.append((key, item))
        else:
            ctx.problem(key, f"a [[{name}]] table", render(item))
    return items


def _check_distinct(what: str, keyed: list[tuple[str, object]], ctx: Context) -> None:
    """Report every value of ``what`` already used by an earlier table."""
    first: dict[object, str] = {}
    for key, value in keyed:
        if value in first:
            ctx.problem(
                f"{key}.{what}",
                f"a {what} not used by another unit",
                f"{render(value)} (already used by {first[value]})",
            )
        else:
            first[value] = key


# --- units -----------------------------------------------------------------------------------


def _stock_slot(facts: DeviceFacts) -> tuple[Field, ...]:
    """``slot`` of a stocked unit: optional on a cabinet, no key where units lie loose."""
    if facts.kind is None or facts.kind is DeviceKind.CABINET:
        return (Field("slot", SlotNumber(facts.slots), OPTIONAL),)
    return ()


def _stocked_in_order(
    stock: list[tuple[str, SimUnit | None, int | None]], ctx: Context
) -> list[tuple[str, SimUnit | None, int | None]]:
    """A cabinet's ``[[stock]]`` units, each with its slot: the technician stocks them in file
    order into the empty cabinet, which opens the lowest free slot for each, so the n-th goes
    into slot n; a ``slot`` written must say so."""
    placed: list[tuple[str, SimUnit | None, int | None]] = []
    for position, (key, unit, slot) in enumerate(stock, start=1):
        if slot is not None and slot != position:
            expected = (
                f"slot {position} (units are stocked in file order, each into the lowest free slot)"
            )
            ctx.problem(f"{key}.slot", expected, render(slot))
        placed.append((key, unit, position))
    return placed


def _unit(
    raw: Mapping[str, object], key: str, table: Table, ctx: Context
) -> tuple[SimUnit | None, int | None]:
    """The unit a ``[[stock]]`` or ``[[unit]]`` table describes, and its slot if any."""
    values = check_table(raw, key, table, ctx).values
    slot = values.get("slot")
    slot = slot if isinstance(slot, int) else None
    if not {"din", "flags", "blood_group", "product", "expires"} <= values.keys():
        return None, slot  # a key with a problem
    din = str(values["din"])
    expires = values["expires"]
    assert isinstance(expires, dt.datetime)
    unit = SimUnit(
        din=din,
        flags=str(values["flags"]),
        blood_group=str(values["blood_group"]),
        product_code=str(values["product"]),
        expiry=expires,
        tag_uid=str(values.get("tag") or _tag_of(din)),
    )
    return unit, slot


def _tag_of(din: str) -> str:
    """The RFID tag UID of a unit whose table gives none: an ISO 15693 UID (``E004...``)
    derived from the DIN, so it is the same in every run."""
    return "E004" + hashlib.sha256(din.encode()).hexdigest()[:12].upper()


def _index_units(keyed: list[tuple[str, SimUnit | None]], ctx: Context) -> dict[str, SimUnit]:
    """Every unit by DIN; DINs and tags must be distinct."""
    present = [(key, unit) for key, unit in keyed if unit is not None]
    _check_distinct("din", [(key, unit.din) for key, unit in present], ctx)
    _check_distinct("tag", [(key, unit.tag_uid) for key, unit in present], ctx)
    return {unit.din: unit for _, unit in present}


# --- steps -----------------------------------------------------------------------------------


def _steps(
    tables: list[tuple[str, Mapping[str, object]]], facts: DeviceFacts, ctx: Context
) -> list[Step]:
    """Every ``[[step]]``, checked; each must be at or after the one before."""
    if not tables:
        ctx.problem("step", "at least one [[step]] table", "none")
    steps: list[Step] = []
    latest = 0.0
    for index, (key, raw) in enumerate(tables, start=1):
        at = Duration().check(raw.get("at", ABSENT), f"{key}.at", ctx)
        at = at if isinstance(at, float) else None
        if at is not None and at < latest:
            expected = f"a time at or after the steps before ({format_duration(latest)})"
            ctx.problem(f"{key}.at", expected, format_duration(at))
        latest = max(latest, at or 0.0)
        step = _step(key, raw, index=index, at=at, facts=facts, ctx=ctx)
        if step is not None:
            steps.append(step)
    return steps


def _step(
    key: str,
    raw: Mapping[str, object],
    *,
    index: int,
    at: float | None,
    facts: DeviceFacts,
    ctx: Context,
) -> Step | None:
    """The step ``raw`` describes (its ``at`` already checked); ``None`` if it has problems."""
    shapes = [shape for shape in ("do", "expect") if shape in raw]
    if len(shapes) != 1:
        found = " and ".join(shapes) if shapes else "neither"
        ctx.problem(key, 'do = "<action>" or expect = "<expectation>"', found)
        return None
    shape = shapes[0]
    specs: Mapping[str, StepSpec[Any]] = ACTIONS if shape == "do" else EXPECTATIONS
    name = raw[shape]
    spec = specs.get(name) if isinstance(name, str) else None
    if spec is None:
        ctx.problem(f"{key}.{shape}", "one of " + ", ".join(f'"{n}"' for n in specs), render(name))
        return None
    own = spec.fields_for(facts)
    common = (Field(shape, Text()), *_STEP_KEYS[shape])
    before = len(ctx.problems)
    table = Table(f'[[step]] with {shape} = "{name}"', (*common, *own), subtables=("at",))
    values = check_table(raw, key, table, ctx).values
    accepted = frozenset(field.name for field in own)
    if len(ctx.problems) == before:
        spec.rule(StepKeys(key, values, frozenset(raw) & accepted, accepted), ctx)
    since = values.get("since")
    if isinstance(since, float) and at is not None and since > at:
        expected = f"a time at or before the step's ({format_duration(at)})"
        ctx.problem(f"{key}.since", expected, render(raw["since"]))
    if len(ctx.problems) != before or at is None:
        return None
    built = spec.build(**{name: value for name, value in values.items() if name in accepted})
    if shape == "expect":
        return CheckStep(index, at, built)
    expect_error = values.get("expect_error")
    return ActionStep(index, at, built, expect_error if isinstance(expect_error, str) else None)
