"""A register-level model of the TI TMP117 digital temperature sensor, for
:class:`~hal_sim.fakes.smbus.FakeSMBus`.

Follows the TMP117 datasheet (TI SNOSD82): register map (section 7.6) with reset values
Temp_Result 0x8000 (-256 °C until the first conversion), Configuration 0x0220 (continuous,
8 averages, 1 s cycle), THigh_Limit 0x6000 (192 °C), TLow_Limit 0x8000, Device_ID 0x0117;
registers are 16 bits, most significant byte first, behind a pointer (see
:class:`~hal_sim.fakes.smbus.WordRegisterDevice`). Temperatures are two's complement with a
7.8125 m°C LSB (Table 7-1), and Temp_Offset is added to each result.

Configuration register: HIGH_Alert (15), LOW_Alert (14), Data_Ready (13), EEPROM_Busy (12),
MOD[1:0] (11:10: 00 and 10 continuous, 01 shutdown, 11 one-shot), CONV[2:0] (9:7),
AVG[1:0] (6:5), T/nA (4), POL (3), DR/Alert (2), Soft_Reset (1). Data_Ready is set by each
conversion and cleared by reading the configuration or result register. In alert mode
(T/nA = 0) HIGH_Alert / LOW_Alert are set by a result above THigh / below TLow and cleared by
reading the configuration register; in therm mode HIGH_Alert is set above THigh and cleared
below TLow, and LOW_Alert stays 0.

Conversion timing (Table 7-7): a one-shot conversion, or the first of continuous mode, takes
15.5 ms, 125 ms, 500 ms or 1 s for AVG = 0-3; the continuous cycle is the longer of the
averaging time and the CONV standby setting (15.5 ms, 125, 250, 500 ms, 1, 4, 8, 16 s). With a
``clock`` (the virtual loop's ``time``) the model keeps that timing; without one every
conversion completes by the next transaction. Writing new MOD, CONV or AVG bits, or starting a
one-shot, starts conversions afresh.

Bench hooks: :meth:`FakeTMP117.set_temperature`, :meth:`FakeTMP117.force_result` (conversions
produce a fixed raw value, such as the reset value 0x8000 of a part that keeps resetting),
:attr:`FakeTMP117.conversions`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable

from hal_sim.fakes.smbus import WordRegisterDevice

__all__ = ["AVERAGING_TIME_S", "CONV_STANDBY_S", "FakeTMP117", "Reg"]


class Reg(enum.IntEnum):
    """Register addresses (SNOSD82 section 7.6)."""

    TEMP_RESULT = 0x00
    CONFIGURATION = 0x01
    THIGH_LIMIT = 0x02
    TLOW_LIMIT = 0x03
    EEPROM_UL = 0x04
    EEPROM1 = 0x05
    EEPROM2 = 0x06
    TEMP_OFFSET = 0x07
    EEPROM3 = 0x08
    DEVICE_ID = 0x0F


_RESET: dict[int, int] = {
    Reg.TEMP_RESULT: 0x8000,
    Reg.CONFIGURATION: 0x0220,
    Reg.THIGH_LIMIT: 0x6000,
    Reg.TLOW_LIMIT: 0x8000,
    Reg.EEPROM_UL: 0x0000,
    Reg.EEPROM1: 0x0000,
    Reg.EEPROM2: 0x0000,
    Reg.TEMP_OFFSET: 0x0000,
    Reg.EEPROM3: 0x0000,
    Reg.DEVICE_ID: 0x0117,
}

HIGH_ALERT = 1 << 15
LOW_ALERT = 1 << 14
DATA_READY = 1 << 13
THERM_MODE = 1 << 4
SOFT_RESET = 1 << 1
_WRITABLE = 0x0FFC
_CONVERSION_SETTINGS = 0x0FE0
"""MOD, CONV and AVG: writing new ones starts conversions afresh."""
_MOD_SHIFT = 10
_MODE_SHUTDOWN = 0b01
_MODE_ONE_SHOT = 0b11

AVERAGING_TIME_S = (0.0155, 0.125, 0.5, 1.0)
"""Conversion time for AVG = 0 (none), 1 (8), 2 (32), 3 (64 averages)."""

CONV_STANDBY_S = (0.0155, 0.125, 0.25, 0.5, 1.0, 4.0, 8.0, 16.0)
"""The CONV[2:0] cycle settings; the cycle is at least the averaging time."""

_LSB_C = 0.0078125


def _signed(word: int) -> int:
    return word - 0x10000 if word & 0x8000 else word


class FakeTMP117(WordRegisterDevice):
    """One TMP117 (see the module docstring)."""

    def __init__(
        self, *, temperature_c: float = 20.0, clock: Callable[[], float] | None = None
    ) -> None:
        super().__init__()
        self.temperature_c = temperature_c
        self.conversions = 0
        self._clock = clock
        self._forced: int | None = None
        self._regs: dict[int, int] = {}
        self._due: float | None = None
        self.power_on_reset()

    # --- bench hooks ----------------------------------------------------------------------------

    def set_temperature(self, celsius: float) -> None:
        """The temperature the sensor is at; the next conversion reports it."""
        self.temperature_c = celsius

    def force_result(self, raw: int | None) -> None:
        """Make every conversion produce ``raw`` (``None``: the temperature again)."""
        self._forced = raw

    def register(self, register: Reg) -> int:
        """A register's value, without the side effects of a bus read."""
        return self._regs[register]

    # --- registers ------------------------------------------------------------------------------

    def power_on_reset(self) -> None:
        self._regs = dict(_RESET)
        self.pointer = 0
        self._start(self._now())

    def read_register(self, register: int) -> int:
        self._catch_up()
        value = self._regs.get(register, 0)
        if register == Reg.CONFIGURATION:
            cleared = DATA_READY
            if not value & THERM_MODE:
                cleared |= HIGH_ALERT | LOW_ALERT
            self._regs[register] = value & ~cleared
        elif register == Reg.TEMP_RESULT:
            self._regs[Reg.CONFIGURATION] &= ~DATA_READY
        return value

    def write_register(self, register: int, value: int) -> None:
        self._catch_up()
        if register == Reg.CONFIGURATION:
            if value & SOFT_RESET:
                self.power_on_reset()
                return
            was = self._regs[register] & _CONVERSION_SETTINGS
            self._regs[register] = (self._regs[register] & ~_WRITABLE) | (value & _WRITABLE)
            changed = self._regs[register] & _CONVERSION_SETTINGS != was
            if changed or self._mode() == _MODE_ONE_SHOT:
                self._start(self._now())
        elif register in (Reg.TEMP_RESULT, Reg.DEVICE_ID) or register not in self._regs:
            return
        else:
            self._regs[register] = value

    # --- conversions ----------------------------------------------------------------------------

    def _now(self) -> float:
        return self._clock() if self._clock is not None else 0.0

    def _mode(self) -> int:
        return (self._regs[Reg.CONFIGURATION] >> _MOD_SHIFT) & 0b11

    def _averaging_s(self) -> float:
        return AVERAGING_TIME_S[(self._regs[Reg.CONFIGURATION] >> 5) & 0b11]

    def _cycle_s(self) -> float:
        conv = (self._regs[Reg.CONFIGURATION] >> 7) & 0b111
        return max(CONV_STANDBY_S[conv], self._averaging_s())

    def _start(self, now: float) -> None:
        """A conversion (or a series) starts now, or none if shut down."""
        if self._mode() == _MODE_SHUTDOWN:
            self._due = None
        else:
            self._due = now + (self._averaging_s() if self._clock is not None else 0.0)

    def _catch_up(self) -> None:
        """Complete the conversion that is due by now, if any."""
        due = self._due
        now = self._now()
        if due is None or due > now:
            return
        self._convert()
        if self._mode() == _MODE_ONE_SHOT:
            config = self._regs[Reg.CONFIGURATION]
            self._regs[Reg.CONFIGURATION] = (config & ~(0b11 << _MOD_SHIFT)) | (
                _MODE_SHUTDOWN << _MOD_SHIFT
            )
            self._due = None
        elif self._clock is None:
            self._due = now
        else:
            cycle = self._cycle_s()
            self._due = due + cycle * (math.floor((now - due) / cycle) + 1)

    def _convert(self) -> None:
        self.conversions += 1
        if self._forced is not None:
            raw = self._forced
        else:
            offset_c = _signed(self._regs[Reg.TEMP_OFFSET]) * _LSB_C
            counts = round((self.temperature_c + offset_c) / _LSB_C)
            raw = max(-0x8000, min(0x7FFF, counts)) & 0xFFFF
        self._regs[Reg.TEMP_RESULT] = raw
        config = self._regs[Reg.CONFIGURATION] | DATA_READY
        result = _signed(raw)
        above = result > _signed(self._regs[Reg.THIGH_LIMIT])
        below = result < _signed(self._regs[Reg.TLOW_LIMIT])
        if config & THERM_MODE:
            if above:
                config |= HIGH_ALERT
            elif below:
                config &= ~HIGH_ALERT
            config &= ~LOW_ALERT
        else:
            config |= (HIGH_ALERT if above else 0) | (LOW_ALERT if below else 0)
        self._regs[Reg.CONFIGURATION] = config
