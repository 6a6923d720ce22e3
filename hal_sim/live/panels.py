"""The widgets of the live view. Each panel redraws itself from the session on ``show``;
none of them changes the device."""

from __future__ import annotations

import math
from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Static

from agent.cabinet.desk import CabinetDesk
from agent.cabinet.screen import Tone
from agent.duration import format_duration
from agent.hal.parts import IndicatorState, LightColour
from hal_sim.device import SimDevice
from hal_sim.live.describe import describe_event, is_alert, sim_time
from hal_sim.live.stockroom import group_name
from hal_sim.parts import ProbeFaultMode
from hal_sim.session import SimSession
from hal_sim.thermal import PassiveBoxModel, RefrigeratorModel
from hal_sim.units import SimUnit

__all__ = [
    "CabinetPanel",
    "ClimatePanel",
    "ContentsPanel",
    "DeviceHeader",
    "EventsPanel",
    "SlotCell",
    "SlotGrid",
]

_LIGHT_STYLES = {
    LightColour.OFF: "grey42",
    LightColour.GREEN: "bold green",
    LightColour.AMBER: "bold yellow",
    LightColour.RED: "bold red",
}
_INDICATOR_STYLES = {
    IndicatorState.QUIET: "green",
    IndicatorState.ATTENTION: "bold yellow",
    IndicatorState.ALARM: "bold white on red",
}
_TONE_STYLES = {
    Tone.INFO: "bold",
    Tone.ACT: "bold cyan",
    Tone.REFUSED: "bold yellow",
    Tone.ALARM: "bold white on red",
}
_DIN_TAIL = 4
"""How many trailing DIN characters a slot cell shows, after the group: a cell is 8 wide."""


class _Panel(Static):
    """A static text that redraws only when its text changed: a redraw is not free."""

    _shown: Text | None = None

    @property
    def plain(self) -> str:
        """The text shown, without its styles."""
        return "" if self._shown is None else self._shown.plain

    def _show(self, text: Text) -> None:
        if text != self._shown:
            self._shown = text
            self.update(text)


class DeviceHeader(_Panel):
    """Device id and kind, simulated time, time elapsed, speed and clock state."""

    def show(self, session: SimSession, *, started_at: float, speed: float | None) -> None:
        clock = session.clock
        device = session.profile.device
        text = Text.assemble(
            (f" {device.id} ", "bold reverse"),
            f" {device.kind.value}  ",
            (sim_time(clock.wall_ns()), "bold"),
            f"  +{format_duration(clock.monotonic() - started_at)}  ",
            ("speed max" if speed is None else f"speed {speed:g}x", "bold cyan"),
            "  clock ",
            ("synchronised", "green") if clock.synchronised() else ("NOT synchronised", "red"),
        )
        self._show(text)


class SlotCell(_Panel):
    """One cabinet slot: number, lock (``lk`` locked, ``OP`` released, ``!`` jammed), light
    (``●`` in its colour, ``·`` off), and the unit's group and DIN tail when occupied."""

    def __init__(self, slot: int) -> None:
        super().__init__(id=f"slot-{slot}", classes="slot")
        self.slot = slot

    def show(self, device: SimDevice) -> None:
        unit = device.slot_units[self.slot]
        lock = device.locks[self.slot]
        locked = lock.locked.value
        light = device.lights[self.slot].shown
        text = Text.assemble(
            (f"{self.slot:>3} ", "bold"),
            ("lk" if locked else "OP", "" if locked else "bold yellow"),
            ("!" if lock.jammed else " ", "bold red"),
            ("●" if light is not LightColour.OFF else "·", _LIGHT_STYLES[light]),
            "\n",
            (
                f"{group_name(unit.blood_group):>3} {unit.din[-_DIN_TAIL:]}"
                if unit is not None
                else "  empty",
                "" if unit is not None else "grey42",
            ),
        )
        self.set_class(unit is not None, "occupied")
        self.set_class(not locked, "released")
        self._show(text)


class SlotGrid(Grid):
    """The cabinet's slots as a grid of :class:`SlotCell`, nine to a row."""

    COLUMNS = 9

    def __init__(self, slots: int) -> None:
        super().__init__(id="slots")
        self._slots = slots

    def compose(self) -> ComposeResult:
        for slot in range(1, self._slots + 1):
            yield SlotCell(slot)

    def on_mount(self) -> None:
        self.styles.grid_size_columns = self.COLUMNS
        self.styles.grid_size_rows = math.ceil(self._slots / self.COLUMNS)

    def show(self, device: SimDevice) -> None:
        for cell in self.query(SlotCell):
            cell.show(device)


class CabinetPanel(_Panel):
    """What a person at a dispensing cabinet sees and holds: the cabinet's screen message in
    its tone, who is signed in and doing what, the slots released and for whom, the unit on
    the scanning station and the units in the bench person's hands (``in_hand``, by DIN)."""

    def show(self, desk: CabinetDesk, device: SimDevice, in_hand: Mapping[str, SimUnit]) -> None:
        screen = desk.screen
        text = Text("Screen  ", style="bold")
        text.append(screen.message, style=_TONE_STYLES[screen.tone])
        text.append("\nSigned in  ")
        session = desk.session
        if session is None:
            text.append("nobody", style="grey62")
        else:
            user = session.user
            roles = ", ".join(sorted(role.value for role in user.roles))
            text.append(f"{user.name} ({roles}), {session.mode.value.replace('_', ' ')}")
            if session.stale_list:
                text.append("  BADGE LIST STALE: emergency only", style="bold red")
        text.append("\nOpen slots  ")
        text.append(self._open_slots(desk, device) or "none")
        held = device.at_station()
        text.append("\nStation  ")
        text.append("empty" if held is None else _unit_text(held))
        text.append("   In hand  ")
        text.append(", ".join(_unit_text(unit) for unit in in_hand.values()) or "nothing")
        self._show(text)

    @staticmethod
    def _open_slots(desk: CabinetDesk, device: SimDevice) -> str:
        grants = desk.cabinet.grants
        opened = []
        for slot, grant in sorted(grants.items()):
            who = "" if grant.patient_id is None else f" for {grant.patient_id}"
            opened.append(f"{slot} ({grant.purpose.value}{who}: take {grant.din[-_DIN_TAIL:]})")
        for slot, lock in sorted(device.locks.items()):
            if not lock.locked.value and slot not in grants:
                opened.append(f"{slot} (put a unit in)")
        return ", ".join(opened)


def _unit_text(unit: SimUnit) -> str:
    return f"{group_name(unit.blood_group)} {unit.din}"


class ContentsPanel(_Panel):
    """The units inside a fridge or a transport box, with their tag and where the RFID
    antennas see them."""

    def show(self, device: SimDevice) -> None:
        text = Text(f"Units inside: {len(device.loose_units)}\n", style="bold")
        for tag, (unit, antenna) in sorted(device.loose_units.items()):
            text.append(
                f"{group_name(unit.blood_group):>3}  {unit.din}  tag {tag}  "
                f"exp {unit.expiry:%Y-%m-%d}  at {antenna}\n"
            )
        self._show(text)


class ClimatePanel(_Panel):
    """Probe readings against the storage limits, the cooling, ambient, doors, power and the
    indicator."""

    def show(self, session: SimSession) -> None:
        profile = session.profile
        device = session.device
        storage = profile.storage
        text = Text(
            f"{storage.product_class} {storage.min_c:g} to {storage.max_c:g} °C\n", style="bold"
        )
        width = max((len(probe.name) for probe in profile.probes), default=0)
        for probe in profile.probes:
            reading = session.latest_temperatures.get(probe.name)
            text.append(f"{probe.name:<{width}} ")
            if probe.name not in session.latest_temperatures:
                text.append("   --   ", style="grey42")
            elif reading is None:
                text.append(" FAULT  ", style="bold white on red")
            else:
                out = not storage.min_c <= reading <= storage.max_c
                text.append(f"{reading:6.2f} °C", style="bold red" if out else "green")
            injected = device.probes[probe.name].fault
            if injected is not ProbeFaultMode.NONE:
                text.append(f" [{injected.value}]", style="yellow")
            text.append("\n")
        thermal = device.thermal
        if isinstance(thermal, RefrigeratorModel):
            text.append("compressor ")
            text.append(*(("on", "cyan") if thermal.compressor_on else ("off", "grey62")))
        elif isinstance(thermal, PassiveBoxModel):
            text.append(f"coolant {thermal.coolant_c:.1f} °C")
        text.append(f"   ambient {thermal.ambient_c:.1f} °C\n")
        for door in profile.doors:
            is_open = device.door_is_open(door.name)
            lock = device.door_locks.get(door.name)
            text.append(f"door {door.name} ")
            text.append(*(("OPEN", "bold yellow") if is_open else ("closed", "green")))
            if lock is not None:
                text.append(", locked" if lock.locked.value else ", unlocked")
            text.append("\n")
        battery = device.battery
        text.append("power ")
        text.append(*(("mains", "green") if battery.on_mains else ("ON BATTERY", "bold red")))
        if profile.power.battery:
            text.append(f", battery {battery.fraction:.0%}")
        text.append("\nindicator ")
        shown = device.indicator.shown
        text.append(shown.value, style=_INDICATOR_STYLES[shown])
        text.append("\n\n" + session.sync_line(), style="cyan")
        self._show(text)


class EventsPanel(_Panel):
    """The latest events, most recent first (temperature samples left out)."""

    def show(self, session: SimSession, *, lines: int) -> None:
        recent = list(session.recent)[-lines:]
        text = Text("Latest events\n", style="bold")
        for event in reversed(recent):
            text.append(describe_event(event) + "\n", style="bold red" if is_alert(event) else "")
        self._show(text)
