"""The Maxim DS18B20 1-Wire digital thermometer, read through the Linux w1 sysfs interface.

Followed: the DS18B20 datasheet (memory map and scratchpad, "Operation - Measuring Temperature"
with its table of temperature/data relationships, "Configuration Register", "CRC Generation"),
Maxim Application Note 27 for the CRC-8 (:mod:`drivers.onewire_crc`), and the Linux
``w1_therm`` driver's ``w1_slave`` attribute. Reading ``/sys/bus/w1/devices/28-<serial>/w1_slave``
makes the kernel start a conversion, wait for it (750 ms at 12 bits) and print two lines::

    72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
    72 01 4b 46 7f ff 0e 10 57 t=23125

the nine scratchpad bytes in hex, then the CRC byte and the kernel's verdict on it, then the
bytes again and the temperature in millidegrees. (The newer ``temperature`` attribute is not
used: it prints only the number, so the checks below could not be made.)

:func:`parse_w1_slave` is a pure function that trusts nothing: it checks the format, that both
lines carry the same bytes, the CRC-8 over bytes 0-7 against byte 8 (computed here, and the
kernel's ``YES`` too), that the scratchpad is not all zeros (a shorted bus passes the CRC) or all
ones (nobody answered), the configuration register's fixed bits, the 85 °C power-on reset value
(register 0x0550: no conversion since power-up) and the datasheet's range of -55 to +125 °C
(which also rejects the -127 °C and 127.94 °C that broken probes and libraries report), and that
the kernel's ``t=`` agrees with the scratchpad. Bits the datasheet calls undefined at 9-11 bit
resolution are masked. Anything else raises :class:`BadReading` and nothing but that.

:class:`Ds18b20Probe` keeps the :class:`agent.hal.parts.TemperatureProbe` obligations: the
blocking sysfs read runs in a thread; a device gone from the bus (its directory missing, an I/O
error) is :class:`PartNotResponding`, a reading the checks refuse is :class:`ReadFailed`; each is
retried ``retries`` times with a doubling backoff before it is raised, and a probe that comes
back is simply read again (every read opens the file afresh).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from agent.hal.errors import PartNotResponding, ReadFailed
from drivers.onewire_crc import crc8

__all__ = [
    "W1_DEVICES",
    "BadReading",
    "Ds18b20Probe",
    "Ds18b20Reading",
    "decode_temperature",
    "parse_w1_slave",
]

_log = logging.getLogger(__name__)

W1_DEVICES = Path("/sys/bus/w1/devices")
"""Where the kernel lists 1-Wire devices."""

# Scratchpad byte offsets (datasheet, "Memory": DS18B20 memory map).
_TEMP_LSB = 0
_TEMP_MSB = 1
_CONFIG = 4
_CRC = 8
_SCRATCHPAD_LEN = 9

_CONFIG_FIXED_MASK = 0x9F
"""Configuration register bits that do not depend on the resolution: bit 7 reads 0, bits 0-4
read 1 (datasheet, "Configuration Register")."""
_CONFIG_FIXED_VALUE = 0x1F
_CONFIG_RESOLUTION_SHIFT = 5
"""R1 R0 (bits 6-5): 00 = 9, 01 = 10, 10 = 11, 11 = 12 bits."""

_POWER_ON_RESET = 0x0550
"""The temperature register after power-up: +85 °C."""
_MIN_C = -55.0
_MAX_C = 125.0

_DEVICE_ID = re.compile(r"28-[0-9a-f]{12}", re.ASCII)
"""Family code 0x28 (DS18B20), then the 48-bit serial number as the kernel names it."""

_HEX_BYTES = r"((?:[0-9a-fA-F]{2} ){9})"
_LINE_CRC = re.compile(_HEX_BYTES + r": crc=([0-9a-fA-F]{2}) (YES|NO)", re.ASCII)
_LINE_TEMP = re.compile(_HEX_BYTES + r"t=(-?[0-9]{1,7})", re.ASCII)


class BadReading(ValueError):
    """A ``w1_slave`` text that is not a valid DS18B20 reading; says why."""


@dataclass(frozen=True, slots=True)
class Ds18b20Reading:
    """One checked reading: degrees Celsius, the temperature register (signed, undefined bits
    masked), the resolution it was converted at, and the scratchpad it came from."""

    celsius: float
    raw: int
    resolution_bits: int
    scratchpad: bytes


def decode_temperature(register: int, resolution_bits: int = 12) -> float:
    """Degrees Celsius from the 16-bit temperature register (LSB | MSB << 8), two's complement
    in units of 1/16 °C, with the bits undefined at ``resolution_bits`` (9-12) masked."""
    if not 0 <= register <= 0xFFFF:
        raise ValueError(f"not a 16-bit register value: {register}")
    if resolution_bits not in range(9, 13):
        raise ValueError(f"resolution must be 9-12 bits, got {resolution_bits}")
    signed = register - 0x10000 if register & 0x8000 else register
    return _masked(signed, resolution_bits) / 16


def parse_w1_slave(text: str) -> Ds18b20Reading:
    """Check and decode the text of a DS18B20's ``w1_slave`` attribute. Raises only
    :class:`BadReading`."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != 2:
        raise BadReading(f"expected two lines, got {len(lines)}")
    crc_line = _LINE_CRC.fullmatch(lines[0])
    temp_line = _LINE_TEMP.fullmatch(lines[1])
    if crc_line is None or temp_line is None:
        raise BadReading(f"not the w1_slave format: {text[:120]!r}")
    scratchpad = bytes.fromhex(crc_line[1])
    if bytes.fromhex(temp_line[1]) != scratchpad:
        raise BadReading("the two lines show different scratchpads")
    if int(crc_line[2], 16) != scratchpad[_CRC]:
        raise BadReading("the crc= field is not the scratchpad's CRC byte")
    expected_crc = crc8(scratchpad[:_CRC])
    if expected_crc != scratchpad[_CRC]:
        raise BadReading(
            f"CRC mismatch: scratchpad says {scratchpad[_CRC]:02x}, bytes give {expected_crc:02x}"
        )
    if crc_line[3] != "YES":
        raise BadReading("the kernel reports a CRC failure")
    reading = _check_scratchpad(scratchpad)
    if int(temp_line[2]) != _kernel_millidegrees(_register(scratchpad)):
        raise BadReading(f"t={temp_line[2]} does not match the scratchpad")
    return reading


def _check_scratchpad(scratchpad: bytes) -> Ds18b20Reading:
    if scratchpad == bytes(_SCRATCHPAD_LEN):
        raise BadReading("scratchpad all zeros: the bus is held low")
    if scratchpad == b"\xff" * _SCRATCHPAD_LEN:
        raise BadReading("scratchpad all ones: no device answered")
    config = scratchpad[_CONFIG]
    if config & _CONFIG_FIXED_MASK != _CONFIG_FIXED_VALUE:
        raise BadReading(f"configuration register {config:02x} is not a DS18B20's")
    resolution_bits = 9 + (config >> _CONFIG_RESOLUTION_SHIFT & 0b11)
    if scratchpad[_TEMP_LSB] | scratchpad[_TEMP_MSB] << 8 == _POWER_ON_RESET:
        raise BadReading("85 °C power-on reset value: no conversion since power-up")
    raw = _masked(_register(scratchpad), resolution_bits)
    celsius = raw / 16
    if not _MIN_C <= celsius <= _MAX_C:
        raise BadReading(f"{celsius} °C is outside the DS18B20's range of -55 to +125 °C")
    return Ds18b20Reading(
        celsius=celsius, raw=raw, resolution_bits=resolution_bits, scratchpad=scratchpad
    )


def _register(scratchpad: bytes) -> int:
    """The temperature register as a signed number of 1/16 °C."""
    return int.from_bytes(scratchpad[_TEMP_LSB : _TEMP_MSB + 1], "little", signed=True)


def _masked(signed: int, resolution_bits: int) -> int:
    return signed & ~((1 << (12 - resolution_bits)) - 1)


def _kernel_millidegrees(signed: int) -> int:
    """``t=`` as w1_therm computes it: ``register * 1000 / 16`` in C (truncating toward 0),
    from the register as read, undefined bits included."""
    magnitude = abs(signed) * 1000 // 16
    return magnitude if signed >= 0 else -magnitude


class Ds18b20Probe:
    """A DS18B20 named ``device_id`` (``28-`` and 12 hex digits, as in sysfs) under
    ``base_dir``. A failed read is tried again ``retries`` times, after ``backoff_s``, then
    twice that, and so on."""

    def __init__(
        self,
        name: str,
        *,
        device_id: str,
        base_dir: Path = W1_DEVICES,
        retries: int = 2,
        backoff_s: float = 0.1,
    ) -> None:
        if _DEVICE_ID.fullmatch(device_id) is None:
            raise ValueError(
                f"{name}: {device_id!r} is not a DS18B20 id (28- and 12 lower-case hex digits)"
            )
        if retries < 0 or backoff_s < 0:
            raise ValueError(f"{name}: retries and backoff_s must be >= 0")
        self.name = name
        self.device_id = device_id
        self._path = base_dir / device_id / "w1_slave"
        self._retries = retries
        self._backoff_s = backoff_s
        self._converting = asyncio.Lock()

    async def read(self) -> float:
        """Degrees Celsius from a fresh conversion."""
        return (await self.read_checked()).celsius

    async def read_checked(self) -> Ds18b20Reading:
        """A fresh conversion with the resolution and scratchpad it came from."""
        async with self._converting:
            attempt = 0
            while True:
                try:
                    return await self._read_once()
                except (PartNotResponding, ReadFailed) as error:
                    if attempt >= self._retries:
                        raise
                    _log.debug("%s: attempt %d failed (%s), retrying", self.name, attempt, error)
                await asyncio.sleep(self._backoff_s * 2**attempt)
                attempt += 1

    async def _read_once(self) -> Ds18b20Reading:
        try:
            text = await asyncio.to_thread(self._path.read_text, encoding="ascii", errors="replace")
        except FileNotFoundError as error:
            raise PartNotResponding(self.name, f"{self.device_id} is not on the bus") from error
        except OSError as error:
            raise PartNotResponding(self.name, f"{self.device_id}: {error}") from error
        try:
            return parse_w1_slave(text)
        except BadReading as error:
            raise ReadFailed(self.name, f"{self.device_id}: {error}") from error
