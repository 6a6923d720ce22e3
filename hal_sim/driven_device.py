"""A simulated device run on the real drivers: the simulator's physics driving the bus-level fakes.

:class:`DrivenDevice` is the ``drivers_sim`` backend. Its parts are the real drivers, assembled
from the profile's ``[wiring]`` by :mod:`drivers.assembly` exactly as on a cabinet, talking to
the fakes of :class:`hal_sim.fakes.platform.FakePlatform` over fake I2C buses, a fake RPi.GPIO,
a fake 1-Wire tree and pseudo-terminals. Around them it keeps the physical world the simulator
keeps (units, doors, the thermal model, the battery) and turns it into what those fakes sense:

* the thermal model sets every TMP117's and DS18B20's temperature (air probes spread over the
  height of the box as in :class:`hal_sim.device.SimDevice`, product probes lagging);
* a unit in a slot pulls the slot's presence input low and puts its tag, with the DIN of
  :mod:`agent.hal.tag_data` in its memory, in the field of the slot's antenna of the CR95HF;
* mains and the battery set the INA219's bus voltage and current and the UPS's power-fail line;
* doors move their contacts; a locked slot or door is held by its latch, which follows the
  solenoid the driver energises, so a locked slot really resists (:class:`BenchError`);
* people badge at the PN532 and scan at the scanner through their pseudo-terminal peers.

Bench hooks have :class:`~hal_sim.device.SimDevice`'s names and rules where the hardware allows
(``put_unit``, ``take_unit``, ``open_door``, ``present_badge``, ``scan``, ``cut_power``,
``set_connected``...). Because the pseudo-terminals are real I/O, this backend runs in real time:
on any event loop, or a :class:`~hal_sim.clock.VirtualTimeLoop` at ``speed=1``. At full virtual
speed it mostly works but is not reliable: the kernel hands a pseudo-terminal's bytes over on
its own worker, so the loop can find nothing ready, jump its clock, and a reader's answer
timeout expires before the answer is seen. Physics is advanced every ``physics_period_s``.
Build it on a running loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

from agent.clock import Clock
from agent.config.schema import ProbeKind, Profile
from agent.hal.hardware import Hardware
from drivers.assembly import DriverBackend, assemble
from drivers.tmp117 import RESET_RESULT
from hal_sim.battery import BatteryModel
from hal_sim.contents import BenchError, Contents, ContentsHooks
from hal_sim.fakes.gpio import FakeGpio
from hal_sim.fakes.platform import FakePlatform
from hal_sim.fakes.smbus import BusFault
from hal_sim.parts import ProbeFaultMode
from hal_sim.thermal import (
    RefrigeratorModel,
    ThermalModel,
    air_probe_offsets,
    make_thermal_model,
)
from hal_sim.units import SimUnit

__all__ = ["DrivenDevice"]

_IN_LIST_PASSIVE_TARGET = 0x4A
"""The PN532 command the badge reader polls with (UM0701-02, 7.3.5)."""

BADGE_HOLD_S = 0.8
"""How long a presented badge stays on the PN532's antenna (four of the driver's polls)."""


class DrivenDevice(ContentsHooks):
    """The ``drivers_sim`` backend of one profile; see the module docstring."""

    name = "drivers_sim"

    def __init__(self, profile: Profile, clock: Clock, *, physics_period_s: float = 0.25) -> None:
        self.profile = profile
        self._clock = clock
        self._physics_period_s = physics_period_s
        self._rng = random.Random(profile.sim.seed)
        self._last_step = clock.monotonic()
        self.thermal: ThermalModel = make_thermal_model(profile.sim.thermal)
        self._air_offsets = air_probe_offsets(profile)
        self.battery = BatteryModel(profile.sim.power)
        self.fakes = FakePlatform(profile)
        self._backend = DriverBackend(self.name, assemble(profile, self.fakes))
        self.contents = Contents(
            profile,
            slot_locked=lambda slot: self.fakes.latches[slot].locked,
            door_open=lambda: any(self._door_open.values()),
            on_slot=self._sense_slot,
            on_tag=self._tag_moved,
        )
        self.slot_units = self.contents.slot_units
        self.loose_units = self.contents.loose_units
        self._stuck_presence: dict[int, bool] = {}
        self._probe_faults: dict[str, ProbeFaultMode] = {}
        self._badge_removal: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Task[None]] = set()
        if self.fakes.scanner is not None:
            self.fakes.scanner.hold_until_open = True
        self._door_open = {door.name: False for door in profile.doors}
        self._apply_physics()

    # --- the Backend protocol ------------------------------------------------------------

    @property
    def hardware(self) -> Hardware:
        return self._backend.hardware

    async def run(self) -> None:
        """Advance the physics into the fakes until cancelled; the drivers run meanwhile."""
        drivers = asyncio.create_task(self._backend.run(), name="drivers")
        try:
            while True:
                await asyncio.sleep(self._physics_period_s)
                self.advance_physics()
                if drivers.done():
                    await drivers
        finally:
            drivers.cancel()
            await asyncio.gather(drivers, return_exceptions=True)

    # --- physics -------------------------------------------------------------------------

    def advance_physics(self) -> None:
        """Bring the thermal model and the battery level with the clock, and into the fakes."""
        now = self._clock.monotonic()
        elapsed = now - self._last_step
        if elapsed > 0:
            self._last_step = now
            self.thermal.step(elapsed)
            self.battery.step(elapsed)
        self._apply_physics()

    def _apply_physics(self) -> None:
        if isinstance(self.thermal, RefrigeratorModel):
            self.thermal.on_mains = self.battery.on_mains
        self.thermal.door_open = any(self._door_open.values())
        offsets = self._air_offsets
        noise = self.profile.sim.probe_noise_c
        for probe in self.profile.probes:
            if probe.kind is ProbeKind.AIR:
                celsius = self.thermal.air_c + offsets[probe.name]
            else:
                celsius = self.thermal.product_c
            celsius += self._rng.gauss(0.0, noise)
            if probe.name in self.fakes.tmp117:
                self.fakes.tmp117[probe.name].set_temperature(celsius)
            elif self._probe_faults.get(probe.name, ProbeFaultMode.NONE) is ProbeFaultMode.NONE:
                self.fakes.ds18b20[probe.name].set_temperature(celsius)
        self._apply_power()

    def _apply_power(self) -> None:
        volts = self.battery.volts
        power = self.profile.sim.power
        if self.battery.on_mains:
            amps = power.charge_w / volts if self.battery.fraction < 1.0 else 0.0
        else:
            amps = -power.load_w / volts
        self.fakes.ina219.set_bus_voltage(volts)
        self.fakes.ina219.set_current(amps)
        ups = self.fakes.ups
        if ups is not None and ups.mains != self.battery.on_mains:
            if self.battery.on_mains:
                ups.restore_mains()
            else:
                ups.cut_mains()

    # --- sensing the contents (the hooks that move units: ContentsHooks) --------------------

    def _tag_moved(self, antenna: str, unit: SimUnit, present: bool) -> None:
        """A unit came under an antenna (its tag enters the fake reader's field) or left."""
        rfid = self.fakes.rfid
        if rfid is None:
            return
        if present:
            rfid.put_tag(antenna, unit.tag_uid, self.contents.tag_memory(unit))
        elif unit.tag_uid.upper() in rfid.fields[antenna]:
            rfid.remove_tag(antenna, unit.tag_uid)

    def _sense_slot(self, slot: int) -> None:
        """The slot's presence input: pulled low by a unit (or a stuck sensor), else its
        pull-up."""
        pin = self.fakes.slot_pins[slot].presence
        present = self._stuck_presence.get(slot, self.slot_units[slot] is not None)
        chip = self.fakes.chip_of(pin)
        if present:
            chip.drive(pin.pin, False)
        else:
            chip.float_pin(pin.pin)

    # --- bench hooks: doors, environment, power --------------------------------------------

    def open_door(self, name: str | None = None, *, force: bool = False) -> None:
        """A person opens a door or lid; a locked one only by force."""
        door = self._door_name(name)
        latch = self.fakes.door_latches.get(door)
        if latch is not None and latch.locked and not force:
            raise BenchError(f"door {door!r} is locked")
        self._set_door(door, is_open=True)

    def close_door(self, name: str | None = None) -> None:
        self._set_door(self._door_name(name), is_open=False)

    def door_is_open(self, name: str | None = None) -> bool:
        return self._door_open[self._door_name(name)]

    def set_ambient(self, celsius: float) -> None:
        self.advance_physics()
        self.thermal.ambient_c = celsius

    def cut_power(self) -> None:
        self.advance_physics()
        self.battery.on_mains = False
        self._apply_physics()

    def restore_power(self) -> None:
        self.advance_physics()
        self.battery.on_mains = True
        self._apply_physics()

    def drain_battery(self, fraction: float) -> None:
        self.advance_physics()
        self.battery.drain_to(fraction)
        self._apply_physics()

    def _door_name(self, name: str | None) -> str:
        if name is None:
            return next(iter(self._door_open))
        if name not in self._door_open:
            raise BenchError(f"there is no door {name!r} (doors: {', '.join(self._door_open)})")
        return name

    def _set_door(self, door: str, *, is_open: bool) -> None:
        self.advance_physics()
        self._door_open[door] = is_open
        self.fakes.doors[door].move(is_open=is_open, bounces=2)
        self._apply_physics()

    # --- bench hooks: people at the readers ----------------------------------------------------

    def present_badge(self, uid: str) -> None:
        """A badge is held to the PN532 for :data:`BADGE_HOLD_S`, then taken away."""
        peer = self.fakes.badge_reader
        if peer is None:
            raise BenchError("this device has no badge reader")
        if self._badge_removal is not None:
            self._badge_removal.cancel()
        peer.present(uid)
        self._badge_removal = asyncio.get_running_loop().call_later(BADGE_HOLD_S, peer.remove)

    def scan(self, data: str, symbology: str | None = None) -> None:
        peer = self.fakes.scanner
        if peer is None:
            raise BenchError("this device has no barcode scanner")
        peer.scan(data, symbology=symbology or "]C0")

    def scan_unit(self, unit: SimUnit) -> None:
        """Scan every barcode on a unit's label, in label order."""
        for barcode in unit.barcodes():
            self.scan(barcode)

    def feed_garbage(self, source: str, raw: bytes) -> None:
        """A reader delivers bytes it cannot decode (``source`` is ``scanner`` or ``badge``):
        the scanner sends ``raw`` as one line; the PN532 corrupts its next answer (a wrong
        DCS) once it has answered a poll, so a badge presented before is read first."""
        if source == "scanner" and self.fakes.scanner is not None:
            self.fakes.scanner.garble(raw + self.fakes.scanner.suffix)
        elif source == "badge" and self.fakes.badge_reader is not None:
            peer = self.fakes.badge_reader
            polls = peer.commands.count(_IN_LIST_PASSIVE_TARGET)
            task = asyncio.get_running_loop().create_task(self._garble_after_poll(polls))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        else:
            raise BenchError(f"no reader {source!r} on this device (scanner or badge)")

    async def _garble_after_poll(self, polls: int) -> None:
        peer = self.fakes.badge_reader
        assert peer is not None
        with contextlib.suppress(TimeoutError):
            await peer.wait_for_command(_IN_LIST_PASSIVE_TARGET, total=polls + 1, timeout_s=5.0)
        peer.garble_next()

    # --- bench hooks: faults -------------------------------------------------------------------

    def jam_lock(
        self, slot: int | None = None, *, door: str | None = None, jammed: bool = True
    ) -> None:
        if slot is not None:
            self.contents.unit_in(slot)
            slot_latch = self.fakes.latches[slot]
            slot_latch.jam() if jammed else slot_latch.free()
            return
        name = self._door_name(door)
        door_latch = self.fakes.door_latches.get(name)
        if door_latch is None:
            raise BenchError(f"door {name!r} has no lock")
        door_latch.jam() if jammed else door_latch.free()

    def stick_presence(self, slot: int, value: bool | None) -> None:
        """Stick a slot's presence sensor at ``value``; ``None`` frees it."""
        self.contents.unit_in(slot)
        if value is None:
            self._stuck_presence.pop(slot, None)
        else:
            self._stuck_presence[slot] = value
        self._sense_slot(slot)

    def probe_fault(self, probe: str, mode: ProbeFaultMode) -> None:
        """A probe misbehaves as its bus allows: disconnected (NACK, or gone from the 1-Wire
        bus), a CRC error (garbage on the I2C bus, a bad scratchpad CRC), garbage (the TMP117's
        or DS18B20's power-on value), or healthy again."""
        if probe not in self.fakes.tmp117 and probe not in self.fakes.ds18b20:
            raise BenchError(f"there is no probe {probe!r}")
        self._probe_faults[probe] = mode
        self.set_connected(probe, connected=mode is not ProbeFaultMode.DISCONNECTED)
        if probe in self.fakes.tmp117:
            bus, address = self._probe_address(probe)
            fake = self.fakes.tmp117[probe]
            fake.force_result(RESET_RESULT if mode is ProbeFaultMode.GARBAGE else None)
            fault = BusFault.GARBAGE if mode is ProbeFaultMode.CRC_ERROR else BusFault.NONE
            self.fakes.buses[bus].inject(address, fault)
            return
        thermometer = self.fakes.ds18b20[probe]
        if mode is ProbeFaultMode.CRC_ERROR:
            thermometer.corrupt_crc()
        elif mode is ProbeFaultMode.GARBAGE:
            thermometer.power_on_reset()
        else:
            self._apply_physics()

    def set_connected(self, part: str, *, connected: bool) -> None:
        """Unplug (or plug back) a part by its name: its expander, its I2C device, its GPIO
        pins, its 1-Wire thermometer or its USB serial adapter."""
        fakes = self.fakes
        slot_pins = {
            f"slot-{slot}-{role}": pins.presence
            for slot, pins in fakes.slot_pins.items()
            for role in ("lock", "presence", "light")
        }
        peers = {
            name: peer
            for name, peer in (
                (self.profile.scanner, fakes.scanner),
                (self.profile.badge_reader, fakes.badge_reader),
                (self.profile.rfid.name if self.profile.rfid else None, fakes.rfid),
            )
            if name is not None and peer is not None
        }
        if part in slot_pins:
            pin = slot_pins[part]
            self._plug_i2c(pin.bus, pin.address, connected=connected)
        elif part in fakes.tmp117:
            self._plug_i2c(*self._probe_address(part), connected=connected)
        elif part in fakes.ds18b20:
            fakes.ds18b20[part].replug() if connected else fakes.ds18b20[part].unplug()
        elif part == "power":
            power = fakes.wiring.power
            self._plug_i2c(power.ina219_bus, power.ina219_address, connected=connected)
        elif part in peers:
            peers[part].replug() if connected else peers[part].unplug()
        elif part in self._gpio_pins_of():
            for bcm in self._gpio_pins_of()[part]:
                fakes.fake_gpio.repair(bcm) if connected else fakes.fake_gpio.fail(bcm)
        else:
            raise BenchError(f"there is no part {part!r}")

    def _plug_i2c(self, bus: int, address: int, *, connected: bool) -> None:
        fake_bus = self.fakes.buses[bus]
        fake_bus.plug(address) if connected else fake_bus.unplug(address)

    def _probe_address(self, probe: str) -> tuple[int, int]:
        where = self.fakes.wiring.probes[probe]
        bus, address = getattr(where, "bus", None), getattr(where, "address", None)
        if not isinstance(bus, int) or not isinstance(address, int):
            raise BenchError(f"probe {probe!r} is not on an I2C bus")
        return bus, address

    def _gpio_pins_of(self) -> dict[str, tuple[int, ...]]:
        wiring = self.fakes.wiring
        pins: dict[str, tuple[int, ...]] = {
            "indicator": (
                wiring.indicator.buzzer_gpio,
                wiring.indicator.red_gpio,
                wiring.indicator.amber_gpio,
            )
        }
        for name, door in wiring.doors.items():
            pins[f"{name}-sensor"] = (door.sensor_gpio,)
            pins[f"{name}-lock"] = tuple(
                pin for pin in (door.lock_gpio, door.lock_feedback_gpio) if pin is not None
            )
        return pins

    @property
    def gpio(self) -> FakeGpio:
        """The fake GPIO controller, for tests that look at pins."""
        return self.fakes.fake_gpio
