"""A register-level model of the TI INA219 current/power monitor, for
:class:`~hal_sim.fakes.smbus.FakeSMBus`.

Follows the INA219 datasheet (TI SBOS448): registers of section 8.6 - Configuration 0x00
(reset 0x399F: 32 V range, PGA /8, 12-bit ADCs, shunt and bus continuous), Shunt Voltage 0x01
(two's complement, 10 µV LSB, saturating at the PGA range: ±40, 80, 160, 320 mV), Bus Voltage
0x02 (bits 15:3 at 4 mV, bit 1 CNVR, bit 0 OVF), Power 0x03, Current 0x04 and Calibration 0x05
(bit 0 reads 0); 16 bits, most significant byte first (see
:class:`~hal_sim.fakes.smbus.WordRegisterDevice`).

The device's arithmetic (section 8.5): Current = Shunt Voltage x Calibration / 4096 and
Power = Current x Bus Voltage / 5000, both in register counts; either is 0 while Calibration is
0 (its reset value). OVF is set when a result does not fit its register. CNVR is set when a
conversion completes and cleared by reading Power (or writing Configuration). A conversion
takes at most 69 ms (128 averages); the model completes one by each transaction in the
continuous modes (5-7), once after a write of a triggered mode (1-3), and never in the
power-down modes (0, 4).

Bench hooks: :meth:`FakeINA219.set_bus_voltage`, :meth:`FakeINA219.set_current` (through the
shunt of ``shunt_ohms``; positive flows from IN+ to IN-).
"""

from __future__ import annotations

import enum

from hal_sim.fakes.smbus import WordRegisterDevice

__all__ = ["FakeINA219", "Reg"]


class Reg(enum.IntEnum):
    """Register addresses (SBOS448 section 8.6)."""

    CONFIGURATION = 0x00
    SHUNT_VOLTAGE = 0x01
    BUS_VOLTAGE = 0x02
    POWER = 0x03
    CURRENT = 0x04
    CALIBRATION = 0x05


CONFIG_RESET = 0x399F
_RST = 1 << 15
_BRNG = 1 << 13
_PG_SHIFT = 11
_SHUNT_RANGE_COUNTS = (4000, 8000, 16000, 32000)
"""PGA /1, /2, /4, /8: ±40, 80, 160, 320 mV in 10 µV counts."""
_SHUNT_LSB_V = 10e-6
_BUS_LSB_V = 0.004
_CNVR = 0b10
_OVF = 0b01
_CONTINUOUS_MODES = frozenset({5, 6, 7})
_TRIGGERED_MODES = frozenset({1, 2, 3})


def _trunc_div(numerator: int, denominator: int) -> int:
    """Integer division rounding toward zero, as the device's arithmetic does."""
    quotient = abs(numerator) // denominator
    return quotient if numerator >= 0 else -quotient


class FakeINA219(WordRegisterDevice):
    """One INA219 measuring a shunt of ``shunt_ohms`` (see the module docstring)."""

    def __init__(
        self, *, shunt_ohms: float = 0.1, bus_volts: float = 0.0, current_a: float = 0.0
    ) -> None:
        super().__init__()
        if shunt_ohms <= 0:
            raise ValueError(f"shunt_ohms must be positive, got {shunt_ohms}")
        self.shunt_ohms = shunt_ohms
        self.bus_volts = bus_volts
        self.current_a = current_a
        self._config = CONFIG_RESET
        self._calibration = 0
        self._results: dict[int, int] = {}
        self._pending = False
        self.power_on_reset()

    # --- bench hooks ----------------------------------------------------------------------------

    def set_bus_voltage(self, volts: float) -> None:
        """The voltage on IN- (the bus), as the next conversion will measure it."""
        self.bus_volts = volts

    def set_current(self, amps: float) -> None:
        """The current through the shunt, IN+ to IN- positive."""
        self.current_a = amps

    # --- registers ------------------------------------------------------------------------------

    def power_on_reset(self) -> None:
        self.pointer = 0
        self._config = CONFIG_RESET
        self._calibration = 0
        self._results = {Reg.SHUNT_VOLTAGE: 0, Reg.BUS_VOLTAGE: 0, Reg.POWER: 0, Reg.CURRENT: 0}
        self._pending = True

    def read_register(self, register: int) -> int:
        self._maybe_convert()
        if register == Reg.CONFIGURATION:
            return self._config
        if register == Reg.CALIBRATION:
            return self._calibration
        value = self._results.get(register, 0)
        if register == Reg.POWER:
            self._results[Reg.BUS_VOLTAGE] &= ~_CNVR
        return value

    def write_register(self, register: int, value: int) -> None:
        if register == Reg.CONFIGURATION:
            if value & _RST:
                self.power_on_reset()
                return
            self._config = value & 0x3FFF
            self._results[Reg.BUS_VOLTAGE] &= ~_CNVR
            self._pending = self._mode() in _TRIGGERED_MODES or self._mode() in _CONTINUOUS_MODES
        elif register == Reg.CALIBRATION:
            self._calibration = value & 0xFFFE

    # --- conversions ----------------------------------------------------------------------------

    def _mode(self) -> int:
        return self._config & 0b111

    def _maybe_convert(self) -> None:
        if self._pending or self._mode() in _CONTINUOUS_MODES:
            self._pending = False
            self._convert()

    def _convert(self) -> None:
        shunt_range = _SHUNT_RANGE_COUNTS[(self._config >> _PG_SHIFT) & 0b11]
        shunt = round(self.current_a * self.shunt_ohms / _SHUNT_LSB_V)
        shunt = max(-shunt_range, min(shunt_range, shunt))
        bus_max_v = 32.0 if self._config & _BRNG else 16.0
        bus = round(max(0.0, min(bus_max_v, self.bus_volts)) / _BUS_LSB_V)
        current = _trunc_div(shunt * self._calibration, 4096)
        power = _trunc_div(abs(current) * bus, 5000)
        overflow = not -0x8000 <= current <= 0x7FFF or power > 0xFFFF
        current = max(-0x8000, min(0x7FFF, current))
        power = min(0xFFFF, power)
        self._results = {
            Reg.SHUNT_VOLTAGE: shunt & 0xFFFF,
            Reg.BUS_VOLTAGE: (bus << 3) | _CNVR | (_OVF if overflow else 0),
            Reg.POWER: power,
            Reg.CURRENT: current & 0xFFFF,
        }
