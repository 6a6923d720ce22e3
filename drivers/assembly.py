"""From a profile's ``[wiring]`` to the device's :class:`~agent.hal.Hardware`, on real drivers.

One assembly serves both driver backends: ``drivers`` runs it on the Pi's buses
(:class:`drivers.platform.PiPlatform`), ``drivers_sim`` on the fake buses of
:mod:`hal_sim.fakes.platform`, so the code that runs on a cabinet is the code the simulator and
the conformance suite exercise. A :class:`Platform` hands out buses; this module never opens
one itself and names every part as the profile does (``slot-7-lock``, ``main-sensor``,
``main-lock``, ``power``, ``indicator``, the probes', readers' and RFID reader's own names),
which is how the simulator names them too.

Invariants: every part of the profile gets exactly one driver, built before anything runs, so
a pin or expander pin wired twice is :class:`~agent.hal.errors.PartInUse` at start-up; a
platform that lacks a bus fails here too (:class:`drivers.platform.PlatformUnavailable`);
:class:`DriverBackend` closes what it assembled when its ``run()`` ends, engaging every lock
on the way out.

Choices made here (documented in ``docs/hardware.md``): slots follow the reference wiring on
the listed buses, with presence read on each bus's interrupt line where one is wired; the RFID
reader and the readers get short reopen backoffs (an unplugged reader fails a call within about
half a second, and recovery comes from the next call); the UPS monitor polls every second so
that a mains cut is seen within about 1.5 s (its power-fail input is debounced over 0.5 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from agent.config.schema import Profile
from agent.config.wiring import (
    Ds18b20Wiring,
    RfidWiring,
    ScannerSuffix,
    ScannerWiring,
    WiringConfig,
)
from agent.hal.errors import HalError
from agent.hal.hardware import Hardware, SlotParts
from agent.hal.parts import DoorSensor, Lock, TemperatureProbe
from drivers.antenna_mux import BinaryAntennaMux, ExpanderSelectLines, GpioSelectLines
from drivers.ds18b20 import Ds18b20Probe
from drivers.expander_slots import (
    ExpanderLock,
    ExpanderPresenceSensor,
    Expanders,
    ExpanderSlotLight,
    reference_wiring,
)
from drivers.gpio_api import GpioApi
from drivers.gpio_indicator import GpioIndicator
from drivers.gpio_inputs import GpioDoorSensor, MainsInput
from drivers.gpio_interrupt import InterruptLine
from drivers.gpio_lock import GpioLock
from drivers.i2c_bus import SMBusLike
from drivers.ina219 import INA219PowerMonitor
from drivers.iso15693_reader import Cr95hfRfidReader
from drivers.pins import PinRegistry
from drivers.pn532 import Pn532BadgeReader
from drivers.scanner_framing import CR, CRLF, STX_ETX, Framing
from drivers.serial_port import Backoff
from drivers.serial_scanner import SerialBarcodeScanner
from drivers.tmp117 import TMP117Probe

__all__ = ["READER_REOPEN", "Assembly", "DriverBackend", "Platform", "assemble"]

READER_REOPEN = Backoff(attempts=2, first_s=0.1, max_s=0.5)
"""How the serial readers reopen a port within one call: twice, 0.1 s apart."""

UPS_POLL_S = 1.0
"""How often the UPS monitor's ``watch()`` reads the INA219 and the power-fail input."""

_FRAMINGS = {ScannerSuffix.CR: CR, ScannerSuffix.CRLF: CRLF, ScannerSuffix.STX_ETX: STX_ETX}


class Platform(Protocol):
    """Where the buses come from: a Pi's (:class:`drivers.platform.PiPlatform`) or fakes.

    Each method raises :class:`drivers.platform.PlatformUnavailable` when the bus is missing.
    """

    def i2c_bus(self, number: int) -> SMBusLike: ...

    def gpio(self) -> GpioApi: ...

    def w1_devices(self) -> Path: ...

    def serial_port(self, configured: str) -> str:
        """The port to open for the one the profile names."""
        ...

    def close(self) -> None: ...


@dataclass
class Assembly:
    """The hardware assembled from a profile, and what must be closed when it stops."""

    hardware: Hardware
    platform: Platform
    closers: list[Callable[[], None]] = field(default_factory=list)
    async_closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        """Engage every lock (best effort: a silent bus is skipped), close every part, then
        the platform's buses."""
        locks: list[Lock] = [parts.lock for parts in self.hardware.slots.values()]
        locks += self.hardware.door_locks.values()
        for lock in locks:
            with contextlib.suppress(HalError):
                await lock.engage()
        for close_async in self.async_closers:
            await close_async()
        for close in reversed(self.closers):
            with contextlib.suppress(HalError):
                close()
        self.platform.close()


@dataclass
class _Gpio:
    """The GPIO module, the pin claims of this device, and the GPIO parts to close."""

    gpio: GpioApi
    pins: PinRegistry = field(default_factory=PinRegistry)
    closers: list[Callable[[], None]] = field(default_factory=list)


def assemble(profile: Profile, platform: Platform) -> Assembly:
    """Build every part of ``profile`` from its ``[wiring]`` over ``platform``'s buses."""
    wiring = profile.wiring
    if wiring is None:
        raise ValueError(f"{profile.source}: the driver backends need a [wiring] section")
    io = _Gpio(platform.gpio())
    gpio, pins, closers = io.gpio, io.pins, io.closers
    expanders = Expanders({bus: platform.i2c_bus(bus) for bus in _expander_buses(wiring)})

    slots = _slots(profile, wiring, expanders, io)
    doors: dict[str, DoorSensor] = {}
    door_locks: dict[str, Lock] = {}
    for door in profile.doors:
        pins_of = wiring.doors[door.name]
        sensor = GpioDoorSensor(
            f"{door.name}-sensor", gpio=gpio, pins=pins, pin=pins_of.sensor_gpio
        )
        closers.append(sensor.close)
        doors[door.name] = sensor
        if pins_of.lock_gpio is not None:
            lock = GpioLock(
                f"{door.name}-lock",
                gpio=gpio,
                pins=pins,
                coil_pin=pins_of.lock_gpio,
                feedback_pin=pins_of.lock_feedback_gpio,
                max_release_s=profile.slot_release_s or 5.0,
            )
            closers.append(lock.close)
            door_locks[door.name] = lock

    rfid = None
    if profile.rfid is not None and wiring.rfid is not None:
        rfid = _rfid(profile, wiring.rfid, platform, expanders, io)

    indicator = GpioIndicator(
        "indicator",
        gpio=gpio,
        pins=pins,
        buzzer_pin=wiring.indicator.buzzer_gpio,
        red_pin=wiring.indicator.red_gpio,
        amber_pin=wiring.indicator.amber_gpio,
    )
    closers.append(indicator.close)
    hardware = Hardware(
        slots=slots,
        doors=doors,
        door_locks=door_locks,
        rfid=rfid,
        scanner=_scanner(profile, wiring.scanner, platform),
        badge_reader=(
            Pn532BadgeReader(
                profile.badge_reader,
                platform.serial_port(wiring.badge_reader.port),
                baudrate=wiring.badge_reader.baudrate,
                reopen=READER_REOPEN,
            )
            if profile.badge_reader is not None and wiring.badge_reader is not None
            else None
        ),
        probes=_probes(profile, wiring, platform),
        power=_power(wiring, platform, io),
        indicator=indicator,
        antenna_of_slot=(
            {slot: f"slot-{slot}" for slot in slots}
            if profile.rfid is not None and profile.rfid.per_slot
            else {}
        ),
    )
    return Assembly(hardware, platform, closers, [] if rfid is None else [rfid.close])


def _expander_buses(wiring: WiringConfig) -> set[int]:
    buses = set(wiring.slots.buses) if wiring.slots is not None else set()
    if wiring.rfid is not None and wiring.rfid.select_bus is not None:
        buses.add(wiring.rfid.select_bus)
    return buses


def _slots(
    profile: Profile,
    wiring: WiringConfig,
    expanders: Expanders,
    io: _Gpio,
) -> dict[int, SlotParts]:
    if profile.slots == 0 or wiring.slots is None:
        return {}
    lines: dict[int, InterruptLine] = {}
    for bus, pin in zip(wiring.slots.buses, wiring.slots.interrupt_gpio, strict=False):
        lines[bus] = InterruptLine(f"i2c-{bus}-interrupt", gpio=io.gpio, pins=io.pins, pin=pin)
        io.closers.append(lines[bus].close)
    slots: dict[int, SlotParts] = {}
    for slot, pins_of in reference_wiring(profile.slots, buses=wiring.slots.buses).items():
        slots[slot] = SlotParts(
            lock=ExpanderLock(
                f"slot-{slot}-lock",
                expanders,
                solenoid=pins_of.solenoid,
                feedback=pins_of.latch,
                max_release_s=profile.slot_release_s,
            ),
            presence=ExpanderPresenceSensor(
                f"slot-{slot}-presence",
                slot,
                expanders,
                pin=pins_of.presence,
                interrupt=(
                    lines[pins_of.presence.bus].waiter() if pins_of.presence.bus in lines else None
                ),
            ),
            light=ExpanderSlotLight(
                f"slot-{slot}-light",
                slot,
                expanders,
                red=pins_of.red,
                amber=pins_of.amber,
                green=pins_of.green,
            ),
        )
    return slots


def _rfid(
    profile: Profile,
    wiring: RfidWiring,
    platform: Platform,
    expanders: Expanders,
    io: _Gpio,
) -> Cr95hfRfidReader:
    assert profile.rfid is not None
    name, antennas = profile.rfid.name, profile.rfid.antennas
    mux = None
    if wiring.select_bus is not None and wiring.select_address is not None:
        chip = expanders.chip(wiring.select_bus, wiring.select_address)
        mux = BinaryAntennaMux(antennas, ExpanderSelectLines(chip, wiring.select_pins, owner=name))
    elif wiring.select_gpio:
        mux = BinaryAntennaMux(
            antennas, GpioSelectLines(io.gpio, io.pins, wiring.select_gpio, owner=name)
        )
    return Cr95hfRfidReader(
        name,
        platform.serial_port(wiring.port),
        antennas=antennas,
        select_antenna=None if mux is None else mux.select,
        baudrate=wiring.baudrate,
        reopen=READER_REOPEN,
    )


def _scanner(
    profile: Profile, wiring: ScannerWiring | None, platform: Platform
) -> SerialBarcodeScanner | None:
    if profile.scanner is None or wiring is None:
        return None
    framing: Framing = dataclasses.replace(_FRAMINGS[wiring.suffix], aim=wiring.aim)
    return SerialBarcodeScanner(
        profile.scanner,
        platform.serial_port(wiring.port),
        framing=framing,
        baudrate=wiring.baudrate,
        reopen=READER_REOPEN,
    )


def _probes(
    profile: Profile, wiring: WiringConfig, platform: Platform
) -> dict[str, TemperatureProbe]:
    probes: dict[str, TemperatureProbe] = {}
    for probe in profile.probes:
        where = wiring.probes[probe.name]
        if isinstance(where, Ds18b20Wiring):
            probes[probe.name] = Ds18b20Probe(
                probe.name, device_id=where.device_id, base_dir=platform.w1_devices()
            )
        else:
            probes[probe.name] = TMP117Probe(probe.name, platform.i2c_bus(where.bus), where.address)
    return probes


def _power(wiring: WiringConfig, platform: Platform, io: _Gpio) -> INA219PowerMonitor:
    power = wiring.power
    mains = None
    if power.mains_gpio is not None:
        mains = MainsInput("power-mains", gpio=io.gpio, pins=io.pins, pin=power.mains_gpio)
        io.closers.append(mains.close)
    return INA219PowerMonitor(
        "power",
        platform.i2c_bus(power.ina219_bus),
        power.ina219_address,
        shunt_ohms=power.shunt_ohms,
        cells=power.cells,
        mains_present=None if mains is None else mains.mains_present,
        poll_interval_s=UPS_POLL_S,
    )


class DriverBackend:
    """A :class:`~agent.hal.Backend` of real drivers: the parts of ``assembly``. The drivers
    need no background work of their own (each polls within its calls and iterators), so
    ``run()`` waits until cancelled and then closes the assembly."""

    def __init__(self, name: str, assembly: Assembly) -> None:
        self._name = name
        self._assembly = assembly

    @property
    def name(self) -> str:
        return self._name

    @property
    def hardware(self) -> Hardware:
        return self._assembly.hardware

    async def run(self) -> None:
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            await self._assembly.close()
