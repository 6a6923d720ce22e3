"""A whole simulated device: its parts, its physics, its contents and the bench hooks.

:class:`SimDevice` is the simulator's :class:`agent.hal.Backend`. Built from a device profile,
it assembles one simulated part per configured part, keeps the physical world they sense -
where each unit is, which doors are open, the thermal model, the battery - and offers bench
hooks that tests, scenarios and the live view use to act on that world as a person or a fault
would.

The physical rules are kept: a unit can be taken from a cabinet slot only while the slot's lock
is released, or by force; a fridge or box must be open to put a unit in or take one out; a
locked door opens only by force. A bench action the world does not allow raises
:class:`BenchError` and changes nothing.

Physics is advanced lazily to the clock's time whenever something reads or changes the world,
and every ``physics_period_s`` in the background so that battery and power changes are seen
when nothing reads.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from agent.clock import Clock
from agent.config.schema import ProbeKind, Profile
from agent.hal.errors import PartInUse
from agent.hal.hardware import Hardware, SlotParts
from agent.hal.parts import PowerStatus
from hal_sim.battery import BatteryModel
from hal_sim.contents import BenchError, Contents, ContentsHooks
from hal_sim.parts import (
    ProbeFaultMode,
    SimBadgeReader,
    SimBarcodeScanner,
    SimDoorSensor,
    SimIndicator,
    SimLock,
    SimPart,
    SimPowerMonitor,
    SimPresenceSensor,
    SimProbe,
    SimRfidReader,
    SimSlotLight,
)
from hal_sim.signal import Signal
from hal_sim.thermal import (
    RefrigeratorModel,
    ThermalModel,
    air_probe_offsets,
    make_thermal_model,
)
from hal_sim.units import SimUnit

__all__ = ["BenchError", "SimDevice"]


class SimDevice(ContentsHooks):
    """The simulated device of one profile; see the module docstring."""

    name = "sim"

    def __init__(self, profile: Profile, clock: Clock, *, physics_period_s: float = 10.0) -> None:
        self.profile = profile
        self._clock = clock
        self._physics_period_s = physics_period_s
        self._rng = random.Random(profile.sim.seed)
        self._last_step = clock.monotonic()

        self.thermal: ThermalModel = make_thermal_model(profile.sim.thermal)
        self.battery = BatteryModel(profile.sim.power)
        self._apply_mains()
        self._power = Signal(self._power_status())

        # What is where.
        self.contents = Contents(
            profile,
            slot_locked=lambda slot: self.locks[slot].locked.value,
            door_open=self._any_door_open,
            on_slot=self._sense_slot,
            on_tag=lambda _antenna, _unit, _present: None,  # the reader looks when asked
        )
        self.slot_units = self.contents.slot_units
        self.loose_units = self.contents.loose_units
        self._occupied = {slot: Signal(False) for slot in self.slot_units}
        self._door_open = {door.name: Signal(False) for door in profile.doors}

        self.locks = {
            slot: SimLock(f"slot-{slot}-lock", max_release_s=profile.slot_release_s)
            for slot in self.slot_units
        }
        self.presence = {
            slot: SimPresenceSensor(f"slot-{slot}-presence", slot, self._occupied[slot])
            for slot in self.slot_units
        }
        self.lights = {slot: SimSlotLight(f"slot-{slot}-light", slot) for slot in self.slot_units}
        self.door_sensors = {
            door.name: SimDoorSensor(f"{door.name}-sensor", self._door_open[door.name])
            for door in profile.doors
        }
        self.door_locks = {
            door.name: SimLock(f"{door.name}-lock", max_release_s=profile.slot_release_s)
            for door in profile.doors
            if door.locked
        }
        self.rfid = (
            SimRfidReader(
                profile.rfid.name,
                profile.rfid.antennas,
                self.contents.tags_at,
                self.contents.tag_memory_of,
                self._rng,
            )
            if profile.rfid is not None
            else None
        )
        self.scanner = SimBarcodeScanner(profile.scanner) if profile.scanner else None
        self.badge_reader = SimBadgeReader(profile.badge_reader) if profile.badge_reader else None
        self.probes = self._make_probes()
        self.power_monitor = SimPowerMonitor("power", self._power)
        self.indicator = SimIndicator("indicator")

        self._parts = self._index_parts()
        self._hardware = Hardware(
            slots={
                slot: SlotParts(
                    lock=self.locks[slot], presence=self.presence[slot], light=self.lights[slot]
                )
                for slot in self.slot_units
            },
            doors=dict(self.door_sensors),
            door_locks=dict(self.door_locks),
            rfid=self.rfid,
            scanner=self.scanner,
            badge_reader=self.badge_reader,
            probes=dict(self.probes),
            power=self.power_monitor,
            indicator=self.indicator,
            antenna_of_slot=(
                {slot: f"slot-{slot}" for slot in self.slot_units}
                if profile.rfid is not None and profile.rfid.per_slot
                else {}
            ),
        )

    def _index_parts(self) -> dict[str, SimPart]:
        """Every part by name; two parts with one name are a wiring error (:class:`PartInUse`),
        as two drivers claiming one pin would be."""
        parts: list[SimPart] = [
            *self.locks.values(),
            *self.presence.values(),
            *self.lights.values(),
            *self.door_sensors.values(),
            *self.door_locks.values(),
            *self.probes.values(),
            self.power_monitor,
            self.indicator,
        ]
        parts.extend(p for p in (self.rfid, self.scanner, self.badge_reader) if p is not None)
        by_name: dict[str, SimPart] = {}
        for part in parts:
            if part.name in by_name:
                raise PartInUse(part.name, "two parts of the profile have this name")
            by_name[part.name] = part
        return by_name

    # --- the Backend protocol ------------------------------------------------------------

    @property
    def hardware(self) -> Hardware:
        return self._hardware

    async def run(self) -> None:
        """Advance the physics every ``physics_period_s`` until cancelled."""
        while True:
            await asyncio.sleep(self._physics_period_s)
            self.advance_physics()

    # --- physics ---------------------------------------------------------------------------

    def advance_physics(self) -> None:
        """Bring thermal model and battery level with the clock."""
        now = self._clock.monotonic()
        elapsed = now - self._last_step
        if elapsed <= 0:
            return
        self._last_step = now
        self.thermal.step(elapsed)
        self.battery.step(elapsed)
        self._power.set(self._power_status())

    def _apply_mains(self) -> None:
        """A refrigerator's compressor runs on mains; a passive box has nothing to power."""
        if isinstance(self.thermal, RefrigeratorModel):
            self.thermal.on_mains = self.battery.on_mains

    def _power_status(self) -> PowerStatus:
        if not self.profile.power.battery:
            return PowerStatus(
                on_mains=self.battery.on_mains, battery_fraction=None, battery_volts=None
            )
        return PowerStatus(
            on_mains=self.battery.on_mains,
            battery_fraction=round(self.battery.fraction, 2),
            battery_volts=round(self.battery.volts, 2),
        )

    def _make_probes(self) -> dict[str, SimProbe]:
        offsets = air_probe_offsets(self.profile)
        probes: dict[str, SimProbe] = {}
        noise = self.profile.sim.probe_noise_c
        for probe in self.profile.probes:
            if probe.kind is ProbeKind.AIR:
                probes[probe.name] = SimProbe(
                    probe.name, self._air_sense(offsets[probe.name]), noise_c=noise, rng=self._rng
                )
            else:
                probes[probe.name] = SimProbe(
                    probe.name, self._product_sense, noise_c=noise, rng=self._rng
                )
        return probes

    def _air_sense(self, offset_c: float) -> Callable[[], float]:
        def sense() -> float:
            self.advance_physics()
            return self.thermal.air_c + offset_c

        return sense

    def _product_sense(self) -> float:
        self.advance_physics()
        return self.thermal.product_c

    # --- sensing the contents (the hooks that move units: ContentsHooks) ----------------------

    def _sense_slot(self, slot: int) -> None:
        self._occupied[slot].set(self.slot_units[slot] is not None)
        self.presence[slot].refresh()

    # --- bench hooks: doors, environment, power ----------------------------------------------

    def open_door(self, name: str | None = None, *, force: bool = False) -> None:
        """A person opens a door or lid; a locked one only by force."""
        door = self._door_name(name)
        lock = self.door_locks.get(door)
        if lock is not None and lock.locked.value and not force:
            raise BenchError(f"door {door!r} is locked")
        self._set_door(door, is_open=True)

    def close_door(self, name: str | None = None) -> None:
        self._set_door(self._door_name(name), is_open=False)

    def door_is_open(self, name: str | None = None) -> bool:
        return self._door_open[self._door_name(name)].value

    def set_ambient(self, celsius: float) -> None:
        """The room (or the ambulance) around the device changes temperature."""
        self.advance_physics()
        self.thermal.ambient_c = celsius

    def cut_power(self) -> None:
        self.advance_physics()
        self.battery.on_mains = False
        self._apply_mains()
        self._power.set(self._power_status())

    def restore_power(self) -> None:
        self.advance_physics()
        self.battery.on_mains = True
        self._apply_mains()
        self._power.set(self._power_status())

    def drain_battery(self, fraction: float) -> None:
        """Inject a battery at ``fraction`` state of charge (a low battery, a dead one)."""
        self.advance_physics()
        self.battery.drain_to(fraction)
        self._power.set(self._power_status())

    def _door_name(self, name: str | None) -> str:
        if name is None:
            return next(iter(self._door_open))
        if name not in self._door_open:
            raise BenchError(f"there is no door {name!r} (doors: {', '.join(self._door_open)})")
        return name

    def _set_door(self, door: str, *, is_open: bool) -> None:
        self.advance_physics()
        self._door_open[door].set(is_open)
        self.door_sensors[door].refresh()
        self.thermal.door_open = self._any_door_open()

    def _any_door_open(self) -> bool:
        return any(signal.value for signal in self._door_open.values())

    # --- bench hooks: people at the readers ---------------------------------------------------

    def present_badge(self, uid: str) -> None:
        if self.badge_reader is None:
            raise BenchError("this device has no badge reader")
        self.badge_reader.present(uid)

    def scan(self, data: str, symbology: str | None = None) -> None:
        if self.scanner is None:
            raise BenchError("this device has no barcode scanner")
        self.scanner.scan(data, symbology)

    def scan_unit(self, unit: SimUnit) -> None:
        """Scan every barcode on a unit's label, in label order."""
        for barcode in unit.barcodes():
            self.scan(barcode)

    def feed_garbage(self, source: str, raw: bytes) -> None:
        """A reader delivers bytes it cannot decode (``source`` is ``scanner`` or ``badge``)."""
        reader = {"scanner": self.scanner, "badge": self.badge_reader}.get(source)
        if reader is None:
            raise BenchError(f"no reader {source!r} on this device (scanner or badge)")
        reader.feed_garbage(raw)

    # --- bench hooks: faults -------------------------------------------------------------------

    def jam_lock(
        self, slot: int | None = None, *, door: str | None = None, jammed: bool = True
    ) -> None:
        self._lock(slot, door).jammed = jammed

    def stick_presence(self, slot: int, value: bool | None) -> None:
        """Stick a slot's presence sensor at ``value``; ``None`` frees it."""
        self.contents.unit_in(slot)
        self.presence[slot].stuck_at = value

    def stick_door_sensor(self, door: str | None, value: bool | None) -> None:
        self.door_sensors[self._door_name(door)].stuck_at = value

    def probe_fault(self, probe: str, mode: ProbeFaultMode) -> None:
        if probe not in self.probes:
            raise BenchError(f"there is no probe {probe!r} (probes: {', '.join(self.probes)})")
        self.probes[probe].fault = mode

    def rfid_miss_rate(self, rate: float) -> None:
        if self.rfid is None:
            raise BenchError("this device has no RFID reader")
        if not 0.0 <= rate <= 1.0:
            raise BenchError(f"a miss rate is between 0 and 1, got {rate}")
        self.rfid.miss_rate = rate

    def set_connected(self, part: str, *, connected: bool) -> None:
        """Unplug (or plug back) any part by its name."""
        self.part(part).connected = connected

    def part(self, name: str) -> SimPart:
        """Any simulated part by its name."""
        if name in self._parts:
            return self._parts[name]
        raise BenchError(f"there is no part {name!r}")

    def _lock(self, slot: int | None, door: str | None) -> SimLock:
        if slot is not None:
            self.contents.unit_in(slot)
            return self.locks[slot]
        door_name = self._door_name(door)
        if door_name not in self.door_locks:
            raise BenchError(f"door {door_name!r} has no lock")
        return self.door_locks[door_name]
