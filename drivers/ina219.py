"""Driver for the TI INA219 current/power monitor on a UPS board (smbus2):
:class:`INA219PowerMonitor`, a :class:`~agent.hal.parts.PowerMonitor`.

Follows the INA219 datasheet (TI SBOS448): registers named as in section 8.6, 16 bits sent
most significant byte first (each SMBus word is byte-swapped); Shunt Voltage in 10 µV counts,
two's complement; Bus Voltage in bits 15:3 at 4 mV with CNVR (bit 1) and OVF (bit 0); the
calibration of section 8.5.1: ``Cal = trunc(0.04096 / (Current_LSB x R_shunt))``,
Current = Shunt x Cal / 4096 in Current_LSB counts, Power in counts of 20 x Current_LSB
(the datasheet's example: R_shunt = 0.1 Ohm, Current_LSB = 100 µA gives Cal = 4096 and a 2 mW
power LSB). All conversions are pure functions below.

Wiring: the shunt sits in the battery's positive lead, IN+ on the UPS's charger/system node and
IN- on the battery, so the bus voltage is the battery's terminal voltage and a positive current
charges the battery. The driver sets a 16 V bus range, PGA /8 (±320 mV: ±3.2 A on 0.1 Ohm) and
128-sample averaging on both ADCs, continuous (Configuration 0x1FFF).

Obligations kept (:class:`~agent.hal.parts.PowerMonitor`):

* ``read()`` reads the configuration and calibration back before measuring: a part that reset
  (replugged, brown-out: Configuration 0x399F, Calibration 0) is configured again and waited for
  (two 68 ms conversions); a configuration that does not read back after writing it, a math
  overflow (OVF), a shunt voltage saturated at full scale or no conversion ready (CNVR) are
  :class:`~agent.hal.errors.ReadFailed`; a silent part is
  :class:`~agent.hal.errors.PartNotResponding` after the bus retries.
* Mains: with ``mains_present`` (an awaitable reading the UPS's power-fail output, a GPIO
  input read by another part) its answer decides; without it, mains is present unless the
  battery discharges by more than ``discharge_threshold_a``.
* The state of charge is :func:`li_ion_state_of_charge` of the terminal voltage per cell: a
  resting-voltage curve, good to about ten points at rest and pessimistic under load.
* ``watch()`` polls every ``poll_interval_s`` and yields at start, on a change of mains, and
  when the battery fraction moved a percentage point from the last status yielded.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from agent.hal.errors import HalError, ReadFailed
from agent.hal.parts import PowerStatus
from drivers.i2c_bus import DEFAULT_RETRY, I2CDevice, RetryPolicy, SMBusLike, to_signed16

__all__ = [
    "CELL_CURVE",
    "CONFIGURATION",
    "BusVoltage",
    "INA219PowerMonitor",
    "Measurement",
    "Reg",
    "bus_voltage_from_register",
    "calibration_value",
    "current_from_register",
    "li_ion_state_of_charge",
    "power_from_register",
    "shunt_volts_from_register",
]


class Reg(enum.IntEnum):
    """Register addresses (SBOS448 section 8.6)."""

    CONFIGURATION = 0x00
    SHUNT_VOLTAGE = 0x01
    BUS_VOLTAGE = 0x02
    POWER = 0x03
    CURRENT = 0x04
    CALIBRATION = 0x05


CONFIGURATION = 0x1FFF
"""BRNG = 0 (16 V), PG = 11 (/8, ±320 mV), BADC = SADC = 1111 (128 samples, 68.1 ms),
MODE = 111 (shunt and bus, continuous)."""

_CONVERSION_S = 0.0681
_SHUNT_LSB_V = 10e-6
_SHUNT_FULL_SCALE = 32000
"""±320 mV at PGA /8, in 10 µV counts: the register saturates there."""
_BUS_LSB_V = 0.004
_CNVR = 0b10
_OVF = 0b01
_CALIBRATION_SCALE = 0.04096

CELL_CURVE = (
    (3.00, 0.00),
    (3.30, 0.05),
    (3.45, 0.10),
    (3.60, 0.20),
    (3.75, 0.50),
    (3.95, 0.80),
    (4.20, 1.00),
)
"""(volts, state of charge) of one Li-ion cell at rest: a coarse typical discharge curve, steep
near empty, flat in the middle; the same points as the simulator's battery model
(:mod:`hal_sim.battery`), so the simulator read through this driver reports its own charge."""


@dataclass(frozen=True, slots=True)
class BusVoltage:
    """The Bus Voltage register decoded."""

    volts: float
    conversion_ready: bool
    overflow: bool


@dataclass(frozen=True, slots=True)
class Measurement:
    """One reading of the monitor: battery terminal volts, current (positive = charging)."""

    bus_volts: float
    shunt_volts: float
    current_a: float


def calibration_value(current_lsb_a: float, shunt_ohms: float) -> int:
    """The Calibration register for a current LSB and shunt (SBOS448 equation 1)."""
    if current_lsb_a <= 0 or shunt_ohms <= 0:
        raise ValueError("current LSB and shunt resistance must be positive")
    calibration = math.trunc(_CALIBRATION_SCALE / (current_lsb_a * shunt_ohms))
    if not 2 <= calibration <= 0xFFFE:
        raise ValueError(
            f"calibration {calibration} for {current_lsb_a} A/LSB on {shunt_ohms} Ohm "
            "does not fit the register (2..65534)"
        )
    return calibration & 0xFFFE


def bus_voltage_from_register(raw: int) -> BusVoltage:
    """Decode the Bus Voltage register: bits 15:3 at 4 mV, CNVR, OVF."""
    if not 0 <= raw <= 0xFFFF:
        raise ValueError(f"not a 16-bit register: {raw!r}")
    return BusVoltage(
        volts=(raw >> 3) * _BUS_LSB_V,
        conversion_ready=bool(raw & _CNVR),
        overflow=bool(raw & _OVF),
    )


def shunt_volts_from_register(raw: int) -> float:
    """The Shunt Voltage register in volts (10 µV LSB, two's complement)."""
    return to_signed16(raw) * _SHUNT_LSB_V


def current_from_register(raw: int, current_lsb_a: float) -> float:
    """The Current register in amperes."""
    return to_signed16(raw) * current_lsb_a


def power_from_register(raw: int, current_lsb_a: float) -> float:
    """The Power register in watts (its LSB is 20 x the current LSB)."""
    if not 0 <= raw <= 0xFFFF:
        raise ValueError(f"not a 16-bit register: {raw!r}")
    return raw * 20 * current_lsb_a


def li_ion_state_of_charge(volts: float, cells: int) -> float:
    """State of charge 0.0-1.0 of a ``cells``-series Li-ion pack at ``volts`` (clamped)."""
    if cells < 1:
        raise ValueError(f"a pack has at least one cell, not {cells}")
    if math.isnan(volts):
        raise ValueError("battery voltage is NaN")
    per_cell = volts / cells
    if per_cell <= CELL_CURVE[0][0]:
        return 0.0
    for (v0, f0), (v1, f1) in itertools.pairwise(CELL_CURVE):
        if per_cell <= v1:
            return f0 + (f1 - f0) * (per_cell - v0) / (v1 - v0)
    return 1.0


class INA219PowerMonitor:
    """An INA219 at ``address`` (0x40-0x4F) on ``bus`` watching a ``cells``-series Li-ion
    battery through ``shunt_ohms``; see the module docstring for the rest."""

    def __init__(
        self,
        name: str,
        bus: SMBusLike,
        address: int = 0x40,
        *,
        shunt_ohms: float = 0.1,
        current_lsb_a: float = 100e-6,
        cells: int = 2,
        mains_present: Callable[[], Awaitable[bool]] | None = None,
        discharge_threshold_a: float = 0.02,
        poll_interval_s: float = 5.0,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        if not 0x40 <= address <= 0x4F:
            raise ValueError(f"an INA219 answers at 0x40-0x4F, not {address:#x}")
        if cells < 1 or poll_interval_s <= 0 or discharge_threshold_a < 0:
            raise ValueError("need cells >= 1, poll_interval_s > 0 and discharge_threshold_a >= 0")
        self.name = name
        self.cells = cells
        self.current_lsb_a = current_lsb_a
        self.calibration = calibration_value(current_lsb_a, shunt_ohms)
        self.poll_interval_s = poll_interval_s
        self._mains_present = mains_present
        self._discharge_threshold_a = discharge_threshold_a
        self._device = I2CDevice(bus, address, name=name, retry=retry)

    async def read(self) -> PowerStatus:
        measurement = await self.measure()
        if self._mains_present is None:
            on_mains = measurement.current_a > -self._discharge_threshold_a
        else:
            try:
                on_mains = await self._mains_present()
            except HalError as error:
                raise type(error)(self.name, f"mains input: {error}") from error
        return PowerStatus(
            on_mains=on_mains,
            battery_fraction=li_ion_state_of_charge(measurement.bus_volts, self.cells),
            battery_volts=measurement.bus_volts,
        )

    async def watch(self) -> AsyncIterator[PowerStatus]:
        last = await self.read()
        yield last
        while True:
            await asyncio.sleep(self.poll_interval_s)
            status = await self.read()
            if status.on_mains != last.on_mains or _moved_a_point(last, status):
                last = status
                yield status

    async def measure(self) -> Measurement:
        """Bus voltage, shunt voltage and current, configuring the part first if it reset."""
        device = self._device
        config = await device.read_word_be(Reg.CONFIGURATION)
        calibration = await device.read_word_be(Reg.CALIBRATION)
        if config != CONFIGURATION or calibration != self.calibration:
            await self._configure()
        bus = bus_voltage_from_register(await device.read_word_be(Reg.BUS_VOLTAGE))
        if not bus.conversion_ready:
            bus = await self._wait_for_conversion()
        if bus.overflow:
            raise ReadFailed(self.name, "math overflow (OVF): current or power out of range")
        shunt_raw = await device.read_word_be(Reg.SHUNT_VOLTAGE)
        if abs(to_signed16(shunt_raw)) >= _SHUNT_FULL_SCALE:
            raise ReadFailed(self.name, "shunt voltage at full scale (±320 mV): current off range")
        shunt = shunt_volts_from_register(shunt_raw)
        current = current_from_register(await device.read_word_be(Reg.CURRENT), self.current_lsb_a)
        return Measurement(bus_volts=bus.volts, shunt_volts=shunt, current_a=current)

    async def _configure(self) -> None:
        device = self._device
        await device.write_word_be(Reg.CONFIGURATION, CONFIGURATION)
        await device.write_word_be(Reg.CALIBRATION, self.calibration)
        config = await device.read_word_be(Reg.CONFIGURATION)
        calibration = await device.read_word_be(Reg.CALIBRATION)
        if config != CONFIGURATION or calibration != self.calibration:
            raise ReadFailed(
                self.name,
                f"configuration did not read back: Configuration {config:#06x} "
                f"(wrote {CONFIGURATION:#06x}), Calibration {calibration:#06x} "
                f"(wrote {self.calibration:#06x})",
            )
        await asyncio.sleep(2 * _CONVERSION_S)

    async def _wait_for_conversion(self) -> BusVoltage:
        for _ in range(3):
            await asyncio.sleep(_CONVERSION_S)
            bus = bus_voltage_from_register(await self._device.read_word_be(Reg.BUS_VOLTAGE))
            if bus.conversion_ready:
                return bus
        raise ReadFailed(self.name, "no conversion ready (CNVR) after configuring")


def _moved_a_point(before: PowerStatus, after: PowerStatus) -> bool:
    if before.battery_fraction is None or after.battery_fraction is None:
        return before.battery_fraction != after.battery_fraction
    return abs(after.battery_fraction - before.battery_fraction) >= 0.01
