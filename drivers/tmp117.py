"""Driver for the TI TMP117 ±0.1 °C digital temperature sensor (smbus2):
:class:`TMP117Probe`, a :class:`~agent.hal.parts.TemperatureProbe`.

Follows the TMP117 datasheet (TI SNOSD82): registers named as in section 7.6, 16 bits sent most
significant byte first (so every SMBus word is byte-swapped, :func:`drivers.i2c_bus.swap16`),
temperatures in two's complement with a 7.8125 m°C LSB (Table 7-1: 0x0C80 = 25 °C,
0xF380 = -25 °C), Device_ID 0x0117 in bits 11:0 (bits 15:12 are the die revision). Addresses
0x48-0x4B (ADD0 to GND, V+, SDA, SCL).

Obligations kept (:class:`~agent.hal.parts.TemperatureProbe`): ``read()`` returns degrees
Celsius from a fresh conversion - in one-shot mode (the default, least self-heating) it starts
one and waits for it, in continuous mode it waits for the next Data_Ready - and raises
:class:`~agent.hal.errors.ReadFailed` for what the part marks as invalid: the reset value 0x8000
(-256 °C, no conversion since power-on), a Device_ID that is not 0x0117 (a different part at
the address, or garbage on the bus; checked before every read, one transaction), no Data_Ready
within twice the conversion time. A silent part is
:class:`~agent.hal.errors.PartNotResponding` after the bus retries of :mod:`drivers.i2c_bus`.
Waits are ``asyncio.sleep``: a conversion takes 15.5 ms to 1 s, far longer than a bus
transaction, and never blocks the loop.

Alerts: reading the configuration register clears HIGH_Alert and LOW_Alert (alert mode), and
the driver reads it while waiting for Data_Ready, so :attr:`TMP117Probe.alerts` keeps what the
last ``read()`` saw: whether that conversion was above THigh_Limit or below TLow_Limit, as set
with :meth:`TMP117Probe.set_limits`.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

from agent.hal.errors import ReadFailed
from drivers.i2c_bus import DEFAULT_RETRY, I2CDevice, RetryPolicy, SMBusLike, to_signed16

__all__ = [
    "DEVICE_ID",
    "LSB_C",
    "RESET_RESULT",
    "AlertFlags",
    "Averaging",
    "ConversionMode",
    "Reg",
    "TMP117Probe",
    "celsius_from_register",
    "register_from_celsius",
]


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


LSB_C = 0.0078125
"""One LSB of a temperature register: 7.8125 m°C."""

DEVICE_ID = 0x0117
_DEVICE_ID_MASK = 0x0FFF
RESET_RESULT = 0x8000
"""Temp_Result before the first conversion: -256 °C, never a measurement."""

HIGH_ALERT = 1 << 15
LOW_ALERT = 1 << 14
DATA_READY = 1 << 13
_MOD_SHIFT = 10
_AVG_SHIFT = 5
_MODE_MASK = 0b11 << _MOD_SHIFT
_SETTINGS_MASK = 0x0FFC
"""Configuration bits 11:2, the ones a write sets (MOD, CONV, AVG, T/nA, POL, DR/Alert)."""

_DATA_READY_POLL_S = 0.005


class ConversionMode(enum.IntEnum):
    """MOD[1:0]: continuous conversions, or one conversion per ``read()``."""

    CONTINUOUS = 0b00
    ONE_SHOT = 0b11


class Averaging(enum.IntEnum):
    """AVG[1:0]: conversions averaged per result."""

    NONE = 0
    AVG_8 = 1
    AVG_32 = 2
    AVG_64 = 3

    @property
    def conversion_s(self) -> float:
        """Active conversion time (Table 7-7): 15.5 ms, 125 ms, 500 ms, 1 s."""
        return (0.0155, 0.125, 0.5, 1.0)[self.value]


@dataclass(frozen=True, slots=True)
class AlertFlags:
    """HIGH_Alert and LOW_Alert as the configuration register reported them."""

    high: bool = False
    low: bool = False


def celsius_from_register(raw: int) -> float:
    """Degrees Celsius of a 16-bit temperature register (Temp_Result, THigh, TLow)."""
    return to_signed16(raw) * LSB_C


def register_from_celsius(celsius: float) -> int:
    """The 16-bit register value nearest ``celsius``; ``ValueError`` outside -256..255.99 °C."""
    counts = round(celsius / LSB_C)
    if not -0x8000 <= counts <= 0x7FFF:
        raise ValueError(f"{celsius} °C is outside the TMP117's -256..255.9921875 °C")
    return counts & 0xFFFF


class TMP117Probe:
    """A TMP117 at ``address`` on ``bus``, read as a HAL temperature probe named ``name``."""

    def __init__(
        self,
        name: str,
        bus: SMBusLike,
        address: int = 0x48,
        *,
        mode: ConversionMode = ConversionMode.ONE_SHOT,
        averaging: Averaging = Averaging.AVG_8,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        if not 0x48 <= address <= 0x4B:
            raise ValueError(f"a TMP117 answers at 0x48-0x4B, not {address:#x}")
        self.name = name
        self.mode = mode
        self.averaging = averaging
        self._device = I2CDevice(bus, address, name=name, retry=retry)
        self._alerts = AlertFlags()
        self._seen = 0

    @property
    def alerts(self) -> AlertFlags:
        """The alert flags seen during the last ``read()``."""
        return self._alerts

    @property
    def _settings(self) -> int:
        """Configuration bits 11:2 this driver writes: MOD, AVG; CONV 0 (the shortest cycle
        the averaging allows); alert mode, active-low ALERT pin showing alerts."""
        return self.mode << _MOD_SHIFT | self.averaging << _AVG_SHIFT

    async def read(self) -> float:
        await self._check_device_id()
        self._seen = 0
        if self.mode is ConversionMode.ONE_SHOT:
            await self._device.write_word_be(Reg.CONFIGURATION, self._settings)
        else:
            config = await self._read_configuration()
            if config & _SETTINGS_MASK != self._settings:
                await self._device.write_word_be(Reg.CONFIGURATION, self._settings)
        await self._wait_for_data_ready()
        raw = await self._device.read_word_be(Reg.TEMP_RESULT)
        self._alerts = AlertFlags(
            high=bool(self._seen & HIGH_ALERT), low=bool(self._seen & LOW_ALERT)
        )
        if raw == RESET_RESULT:
            raise ReadFailed(
                self.name, "Temp_Result holds its reset value 0x8000 (-256 °C): no conversion"
            )
        return celsius_from_register(raw)

    async def set_limits(self, *, low_c: float, high_c: float) -> None:
        """Write TLow_Limit and THigh_Limit, verified by reading them back."""
        if not low_c < high_c:
            raise ValueError(f"low limit {low_c} °C must be below high limit {high_c} °C")
        limits = {
            Reg.TLOW_LIMIT: register_from_celsius(low_c),
            Reg.THIGH_LIMIT: register_from_celsius(high_c),
        }
        for register, value in limits.items():
            await self._device.write_word_be(register, value)
            found = await self._device.read_word_be(register)
            if found != value:
                raise ReadFailed(
                    self.name, f"{register.name} read back {found:#06x} after writing {value:#06x}"
                )

    async def _check_device_id(self) -> None:
        found = await self._device.read_word_be(Reg.DEVICE_ID)
        if found & _DEVICE_ID_MASK != DEVICE_ID:
            raise ReadFailed(
                self.name, f"Device_ID reads {found:#06x}, a TMP117 has {DEVICE_ID:#06x}"
            )

    async def _read_configuration(self) -> int:
        config = await self._device.read_word_be(Reg.CONFIGURATION)
        self._seen |= config
        return config

    async def _wait_for_data_ready(self) -> None:
        conversion_s = self.averaging.conversion_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2 * conversion_s
        await asyncio.sleep(conversion_s)
        while not await self._read_configuration() & DATA_READY:
            if loop.time() >= deadline:
                raise ReadFailed(
                    self.name, f"no conversion completed within {2 * conversion_s:g} s"
                )
            await asyncio.sleep(_DATA_READY_POLL_S)
