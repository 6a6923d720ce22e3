"""The I2C bus as the drivers see it: the ``smbus2.SMBus`` methods they call, and bounded retries.

The bus is passed in, never opened by a driver: on a Pi an ``smbus2.SMBus(1)``, in tests a
:class:`hal_sim.fakes.smbus.FakeSMBus`. smbus2 is not imported here, so the drivers type-check
and run without it; :class:`SMBusLike` names the methods they use, with smbus2's signatures.

Blocking calls on the event loop. Each smbus2 call is one ``ioctl`` and one I2C transaction of a
few bytes: a word read is about 50 bit times (address, register, repeated start, address, two
data bytes), 0.5 ms at 100 kHz and 0.13 ms at 400 kHz. That is well under the few milliseconds
:mod:`agent.hal.parts` allows a method to hold the loop, so the drivers call the bus inline
instead of paying a thread hop per register. Everything longer - conversion times, retry
backoff, debounce - is ``await asyncio.sleep``.

Errors (obligation of :mod:`agent.hal.parts`: nothing but ``HalError`` escapes, and a failed
call leaves the part usable). Linux reports a NACK as ``OSError`` with ``EREMOTEIO`` (i2c-bcm2835)
or ``ENXIO`` (most other adapters), a stuck bus as ``ETIMEDOUT``. :class:`I2CDevice` retries any
``OSError`` after each delay of :attr:`RetryPolicy.backoff_s` (5, 10, 20 ms: four attempts,
35 ms at most) and then raises :class:`~agent.hal.errors.PartNotResponding` naming the device.
Nothing is remembered between calls, so the next call tries the bus afresh: a replugged part
is back at its first answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from agent.hal.errors import PartNotResponding

__all__ = [
    "DEFAULT_RETRY",
    "I2CDevice",
    "RetryPolicy",
    "SMBusLike",
    "describe_os_error",
    "from_signed16",
    "swap16",
    "to_signed16",
]

T = TypeVar("T")


class SMBusLike(Protocol):
    """The ``smbus2.SMBus`` methods the drivers use (same names, same argument order).

    SMBus words are little-endian on the wire: ``read_word_data`` returns the first byte the
    device sent as the low byte. Devices whose registers are big-endian (TMP117, INA219) need
    :func:`swap16` around word transfers; the MCP23017's A/B register pairs read as one word
    with port A in the low byte.
    """

    def read_byte_data(self, i2c_addr: int, register: int) -> int: ...

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None: ...

    def read_word_data(self, i2c_addr: int, register: int) -> int: ...

    def write_word_data(self, i2c_addr: int, register: int, value: int) -> None: ...

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]: ...

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: Sequence[int]) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a transaction that raised ``OSError`` is retried: once after each delay in
    ``backoff_s`` (seconds), then given up as :class:`PartNotResponding`."""

    backoff_s: tuple[float, ...] = (0.005, 0.010, 0.020)

    def __post_init__(self) -> None:
        if any(delay < 0 for delay in self.backoff_s):
            raise ValueError(f"retry delays must not be negative, got {self.backoff_s}")

    @property
    def attempts(self) -> int:
        return len(self.backoff_s) + 1


DEFAULT_RETRY = RetryPolicy()


def swap16(word: int) -> int:
    """Swap the two bytes of a 16-bit word (SMBus little-endian <-> register big-endian)."""
    if not 0 <= word <= 0xFFFF:
        raise ValueError(f"not a 16-bit word: {word!r}")
    return ((word & 0xFF) << 8) | (word >> 8)


def to_signed16(word: int) -> int:
    """Read a 16-bit register as two's complement."""
    if not 0 <= word <= 0xFFFF:
        raise ValueError(f"not a 16-bit word: {word!r}")
    return word - 0x10000 if word & 0x8000 else word


def from_signed16(value: int) -> int:
    """Encode -32768..32767 as a 16-bit two's complement register value."""
    if not -0x8000 <= value <= 0x7FFF:
        raise ValueError(f"{value} does not fit a signed 16-bit register")
    return value & 0xFFFF


def describe_os_error(error: OSError) -> str:
    """What an I2C ``OSError`` means, for an error's detail."""
    if error.errno in (errno.EREMOTEIO, errno.ENXIO):
        return "no acknowledge (NACK)"
    if error.errno == errno.ETIMEDOUT:
        return "bus timed out"
    return f"bus error ({error.strerror or error})"


class I2CDevice:
    """Register access to one device at one address, with bounded retries.

    ``name`` is what errors carry: the HAL part's name when the device is one part (a probe,
    a power monitor), the chip's when several parts share it (an expander).
    """

    def __init__(
        self, bus: SMBusLike, address: int, *, name: str, retry: RetryPolicy = DEFAULT_RETRY
    ) -> None:
        if not 0x03 <= address <= 0x77:
            raise ValueError(f"{address:#x} is not a 7-bit I2C device address")
        self.bus = bus
        self.address = address
        self.name = name
        self.retry = retry

    async def read_byte(self, register: int) -> int:
        return await self.transact(lambda: self.bus.read_byte_data(self.address, register))

    async def write_byte(self, register: int, value: int) -> None:
        await self.transact(lambda: self.bus.write_byte_data(self.address, register, value))

    async def read_word_le(self, register: int) -> int:
        """An SMBus word: the first byte on the wire is the low byte."""
        return await self.transact(lambda: self.bus.read_word_data(self.address, register))

    async def write_word_le(self, register: int, value: int) -> None:
        await self.transact(lambda: self.bus.write_word_data(self.address, register, value))

    async def read_word_be(self, register: int) -> int:
        """A big-endian 16-bit register (most significant byte first on the wire)."""
        return swap16(await self.read_word_le(register) & 0xFFFF)

    async def write_word_be(self, register: int, value: int) -> None:
        await self.write_word_le(register, swap16(value))

    async def transact(self, operation: Callable[[], T]) -> T:
        """Run one bus transaction, retrying ``OSError`` per :attr:`retry`."""
        for delay in self.retry.backoff_s:
            with contextlib.suppress(OSError):
                return operation()
            await asyncio.sleep(delay)
        try:
            return operation()
        except OSError as error:
            raise PartNotResponding(
                self.name,
                f"I2C address {self.address:#04x}: {describe_os_error(error)} "
                f"after {self.retry.attempts} attempts",
            ) from error
