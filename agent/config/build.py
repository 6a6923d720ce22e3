"""From a parsed TOML document to a :class:`~agent.config.schema.Profile`, or to problems.

:func:`build_profile` checks every section against its spec in
:mod:`agent.config.sections`, applies the cross-section rules of :mod:`agent.config.rules`,
and builds the profile only if nothing at all was wrong. It never raises on bad input: the
caller turns the collected problems into a :class:`~agent.config.errors.ProfileError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from agent.config import rules, sections
from agent.config.dispensing import check_dispensing
from agent.config.fields import Checked, Table, check_array, check_table, find_inline_secrets
from agent.config.kinds import ABSENT, Context, render
from agent.config.schema import (
    STATION_ANTENNA,
    DeviceKind,
    DeviceSection,
    DoorConfig,
    PassiveBoxPhysics,
    PowerConfig,
    ProbeConfig,
    Profile,
    RefrigeratorPhysics,
    RfidConfig,
    SimConfig,
    SimPowerConfig,
    StorageConfig,
    SyncConfig,
)
from agent.config.wiring import ProfileParts, check_wiring

__all__ = ["build_profile"]

_T = TypeVar("_T")

_FILE_KEYS = {"sync": sections.SYNC.file_keys}
"""Where each table's ``*_file`` keys are, to suggest one for an inline secret."""


def build_profile(document: Mapping[str, object], source: Path, ctx: Context) -> Profile | None:
    """Check ``document`` (parsed from ``source``) and build its profile; ``None`` if any
    problem was reported into ``ctx``."""
    find_inline_secrets(document, ctx, _FILE_KEYS)
    top = check_table(document, "", sections.TOP, ctx)
    raw = top.subtables

    device = _required(raw, "device", sections.DEVICE, ctx)
    kind = device.values.get("kind")
    kind = kind if isinstance(kind, DeviceKind) else None
    hardware = _required(raw, "hardware", sections.HARDWARE, ctx)
    slots, slot_release_s = _cabinet(kind, raw.get("cabinet", ABSENT), ctx)
    doors = _named_array(raw, "doors", sections.DOOR, "door", ctx)
    rfid = _rfid(kind, slots, raw.get("rfid", ABSENT), ctx)
    scanner = _optional_name(raw, "scanner", sections.SCANNER, ctx)
    badge_reader = _optional_name(raw, "badge_reader", sections.BADGE_READER, ctx)
    probes = _named_array(raw, "probes", sections.PROBE, "probe", ctx)
    for index, probe in enumerate(probes):
        rules.check_ordered(probe, f"probes[{index}]", "plausible_min_c", "plausible_max_c", ctx)
    storage = _required(raw, "storage", sections.STORAGE, ctx)
    rules.check_ordered(storage, "storage", "min_c", "max_c", ctx)
    power = _required(raw, "power", sections.POWER, ctx)
    sync = _optional(raw, "sync", sections.SYNC, ctx)
    sim = _sim(kind, raw.get("sim", ABSENT), ctx)
    dispensing = check_dispensing(kind, raw.get("dispensing", ABSENT), ctx)
    parts = _parts(raw, hardware, slots=slots, doors=doors, probes=probes, rfid=rfid)
    wiring = check_wiring(raw.get("wiring", ABSENT), parts, ctx)

    if ctx.problems or sim is None:
        return None
    return Profile(
        source=source,
        device=_make(DeviceSection, device.values),
        backend=_get(hardware, "backend", str),
        slots=slots,
        slot_release_s=slot_release_s,
        doors=tuple(_make(DoorConfig, door.values) for door in doors),
        rfid=rfid,
        scanner=scanner,
        badge_reader=badge_reader,
        probes=tuple(_make(ProbeConfig, probe.values) for probe in probes),
        storage=_make(StorageConfig, storage.values),
        power=_make(PowerConfig, power.values),
        sim=sim,
        sync=_make(SyncConfig, sync.values) if sync is not None else None,
        dispensing=dispensing,
        wiring=wiring,
    )


def _parts(
    raw: Mapping[str, object],
    hardware: Checked,
    *,
    slots: int,
    doors: list[Checked],
    probes: list[Checked],
    rfid: RfidConfig | None,
) -> ProfileParts:
    """What the profile has, for ``[wiring]`` to be checked against."""
    backend = hardware.values.get("backend")
    door_locks = {d.values.get("name"): d.values.get("locked") for d in doors}
    probe_names = tuple(p.values.get("name") for p in probes)
    return ProfileParts(
        backend=backend if isinstance(backend, str) else None,
        slots=slots,
        doors=(
            {
                name: locked
                for name, locked in door_locks.items()
                if isinstance(name, str) and isinstance(locked, bool)
            }
            if all(d.ok for d in doors)
            else None
        ),
        probes=(
            tuple(name for name in probe_names if isinstance(name, str))
            if all(p.ok for p in probes)
            else None
        ),
        rfid="rfid" in raw,
        antennas=rfid.antennas if rfid is not None else None,
        scanner="scanner" in raw,
        badge_reader="badge_reader" in raw,
    )


def _make(factory: Callable[..., _T], values: Mapping[str, object]) -> _T:
    """Build a schema dataclass from the values of a table that passed: the keys of a table
    are the parameters of its dataclass, and absent optional keys take its defaults."""
    return factory(**values)


def _get(checked: Checked, name: str, type_: type[_T]) -> _T:
    value = checked.values[name]
    assert isinstance(value, type_)
    return value


def _required(raw: Mapping[str, object], name: str, spec: Table, ctx: Context) -> Checked:
    return check_table(raw.get(name, ABSENT), name, spec, ctx)


def _optional(raw: Mapping[str, object], name: str, spec: Table, ctx: Context) -> Checked | None:
    return check_table(raw[name], name, spec, ctx) if name in raw else None


def _named_array(
    raw: Mapping[str, object], name: str, spec: Table, what: str, ctx: Context
) -> list[Checked]:
    items = check_array(raw.get(name, ABSENT), name, spec, ctx)
    rules.check_unique_names(items, name, what, ctx)
    return items


def _optional_name(raw: Mapping[str, object], name: str, spec: Table, ctx: Context) -> str | None:
    """A part that is only named (``[scanner]``): its name, or ``None`` if it is absent."""
    checked = _optional(raw, name, spec, ctx)
    value = checked.values.get("name") if checked is not None else None
    return value if isinstance(value, str) else None


def _cabinet(kind: DeviceKind | None, raw: object, ctx: Context) -> tuple[int, float]:
    """``(slots, slot_release_s)``; ``(0, 0.0)`` for a device without slots."""
    rules.check_cabinet_presence(kind, raw, ctx)
    if raw is ABSENT:
        return 0, 0.0
    checked = check_table(raw, "cabinet", sections.CABINET, ctx)
    if not checked.ok:
        return 0, 0.0
    return _get(checked, "slots", int), _get(checked, "slot_release_s", float)


def _rfid(kind: DeviceKind | None, slots: int, raw: object, ctx: Context) -> RfidConfig | None:
    """``[rfid]``; ``None`` if absent (or wrong, which is reported)."""
    if raw is ABSENT:
        return None
    checked = check_table(raw, "rfid", sections.RFID, ctx)
    if not isinstance(raw, dict):
        return None
    rules.check_rfid(kind, raw, checked, ctx)
    name = checked.values.get("name")
    per_slot = checked.values.get("per_slot")
    antennas = checked.values.get("antennas")
    if per_slot is True:
        antennas = (*(f"slot-{n}" for n in range(1, slots + 1)), STATION_ANTENNA)
    if not isinstance(name, str) or not isinstance(per_slot, bool):
        return None
    if not isinstance(antennas, tuple):
        return None
    return RfidConfig(name=name, per_slot=per_slot, antennas=antennas)


def _sim(kind: DeviceKind | None, raw: object, ctx: Context) -> SimConfig | None:
    """``[sim]``, with every default, the thermal model chosen by the kind of device, and no
    mains on a transport box unless the file says otherwise."""
    checked = check_table({} if raw is ABSENT else raw, "sim", sections.SIM, ctx)
    thermal = _thermal(kind, checked.subtables.get("thermal", {}), ctx)
    power = check_table(checked.subtables.get("power", {}), "sim.power", sections.SIM_POWER, ctx)
    if not (checked.ok and power.ok) or thermal is None:
        return None
    power_values = {"on_mains": kind is not DeviceKind.TRANSPORT, **power.values}
    sim_values = {**checked.values, "power": _make(SimPowerConfig, power_values)}
    return _make(SimConfig, {**sim_values, "thermal": thermal})


def _thermal(
    kind: DeviceKind | None, raw: object, ctx: Context
) -> RefrigeratorPhysics | PassiveBoxPhysics | None:
    if not isinstance(raw, dict):
        ctx.problem("sim.thermal", "a table [sim.thermal]", render(raw))
        return None
    model = raw.get("model", rules.THERMAL_MODEL_BY_KIND.get(kind) if kind else None)
    if model is None:
        return None  # the kind is invalid, and already reported
    if not isinstance(model, str) or model not in sections.THERMAL_MODELS:
        expected = " or ".join(f'"{name}"' for name in sections.THERMAL_MODELS)
        ctx.problem("sim.thermal.model", expected, render(model))
        return None
    rules.check_thermal_model(kind, model, ctx)
    checked = check_table(raw, "sim.thermal", sections.THERMAL_MODELS[model], ctx)
    if not checked.ok:
        return None
    values = {name: value for name, value in checked.values.items() if name != "model"}
    if model == "refrigerator":
        return _make(RefrigeratorPhysics, values)
    return _make(PassiveBoxPhysics, values)
