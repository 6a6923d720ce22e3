"""Rules that tie several keys or sections of a profile together.

:mod:`agent.config.sections` checks each key on its own; the functions here check what only
makes sense across keys: names are unique, a minimum is below its maximum, the sections
present fit the kind of device, the RFID antennas and the simulated physics fit it too. Each
function reports into the :class:`~agent.config.kinds.Context` and returns nothing, and each
skips quietly when a value it needs was itself invalid (that problem is already reported).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent.config.fields import Checked
from agent.config.kinds import ABSENT, NOTHING, Context, join, render
from agent.config.schema import DeviceKind

__all__ = [
    "THERMAL_MODEL_BY_KIND",
    "check_cabinet_presence",
    "check_ordered",
    "check_rfid",
    "check_thermal_model",
    "check_unique_names",
]

THERMAL_MODEL_BY_KIND = {
    DeviceKind.CABINET: "refrigerator",
    DeviceKind.FRIDGE: "refrigerator",
    DeviceKind.TRANSPORT: "passive_box",
}
"""The simulated physics that fits each kind of device."""


def check_unique_names(items: Sequence[Checked], path: str, what: str, ctx: Context) -> None:
    """Each table of the array at ``path`` (``probes``) has a ``name`` no other one has."""
    first_at: dict[object, int] = {}
    for index, item in enumerate(items):
        name = item.values.get("name")
        if name is None:
            continue
        if name in first_at:
            ctx.problem(
                f"{path}[{index}].name",
                f"a {what} name not used by another {what}",
                f"{render(name)} (already used by {path}[{first_at[name]}])",
            )
        else:
            first_at[name] = index


def check_ordered(checked: Checked, path: str, low: str, high: str, ctx: Context) -> None:
    """``low`` is strictly below ``high`` in the table at ``path``."""
    low_value = checked.values.get(low)
    high_value = checked.values.get(high)
    if not isinstance(low_value, float) or not isinstance(high_value, float):
        return
    if low_value >= high_value:
        ctx.problem(
            join(path, low),
            f"a temperature below {high} ({high_value:g})",
            render(low_value),
        )


def check_cabinet_presence(kind: DeviceKind | None, raw_cabinet: object, ctx: Context) -> None:
    """A cabinet has a ``[cabinet]`` section (its slots); a fridge or transport box has none."""
    if kind is None:
        return
    if kind is DeviceKind.CABINET and raw_cabinet is ABSENT:
        ctx.problem("cabinet", "a [cabinet] section with slots >= 1 on a cabinet", NOTHING)
    elif kind is not DeviceKind.CABINET and raw_cabinet is not ABSENT:
        ctx.problem(
            "cabinet",
            f"no [cabinet] section on a {kind} (only a cabinet has slots)",
            "a [cabinet] section",
        )


def check_rfid(
    kind: DeviceKind | None, raw_rfid: Mapping[str, object], checked: Checked, ctx: Context
) -> None:
    """Per-slot antennas only on a cabinet, and then no antenna list; otherwise a list."""
    per_slot = checked.values.get("per_slot")
    if per_slot is True:
        if kind is not None and kind is not DeviceKind.CABINET:
            ctx.problem(
                "rfid.per_slot",
                f"false on a {kind} (only a cabinet has an antenna per slot)",
                "true",
            )
        if "antennas" in raw_rfid:
            ctx.problem(
                "rfid.antennas",
                "no antennas list when per_slot = true (they are slot-1..slot-N)",
                render(raw_rfid["antennas"]),
            )
    elif per_slot is False and "antennas" not in raw_rfid:
        ctx.problem(
            "rfid.antennas",
            "a non-empty array of antenna names (or per_slot = true on a cabinet)",
            NOTHING,
        )


def check_thermal_model(kind: DeviceKind | None, model: str, ctx: Context) -> None:
    """``sim.thermal.model`` fits the kind of device."""
    if kind is None:
        return
    wanted = THERMAL_MODEL_BY_KIND[kind]
    if model != wanted:
        ctx.problem("sim.thermal.model", f'"{wanted}" on a {kind}', render(model))
