"""A fake Linux I2C bus with the ``smbus2.SMBus`` methods, routing each transaction to a device
model by address.

What a transaction looks like on the wire is modelled, not just register values: every SMBus
call becomes an I2C write of the register pointer (plus data) and, for reads, a read after a
repeated start, handed to an :class:`I2CTarget` as bytes. So the byte order of SMBus words
(first byte on the wire = low byte) and a device's own register order (the TMP117 and INA219
send their most significant byte first) meet here exactly as on a Pi, and a driver that forgets
to swap reads the wrong value.

Errors are the ones Linux's i2c-dev gives: an address nobody acknowledges raises
``OSError(EREMOTEIO)`` (the Pi's i2c-bcm2835; other adapters say ``ENXIO``), a bus held low
``OSError(ETIMEDOUT)``, a closed bus ``OSError(EBADF)``.

Bench hooks, per address: :meth:`FakeSMBus.unplug` / :meth:`FakeSMBus.plug` (a plugged device
comes back from a power-on reset, as a real part does), :meth:`FakeSMBus.inject` a
:class:`BusFault` (``NACK``, ``TIMEOUT``, ``GARBAGE``: writes reach the device, reads return
junk), for good or for the next ``count`` transactions, and :attr:`FakeSMBus.transactions` to
count what the driver did.
"""

from __future__ import annotations

import abc
import enum
import errno
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["BusFault", "FakeSMBus", "I2CTarget", "WordRegisterDevice"]


class I2CTarget(Protocol):
    """A device model, at the level of I2C transactions (what follows the address byte)."""

    def write(self, data: bytes) -> None:
        """A write transaction: the register pointer, then any data bytes."""
        ...

    def read(self, length: int) -> bytes:
        """A read transaction of ``length`` bytes from the current register pointer."""
        ...

    def power_on_reset(self) -> None:
        """Return to the power-on state (registers at their reset values)."""
        ...


class WordRegisterDevice(abc.ABC):
    """A device with 16-bit registers behind a pointer register, most significant byte first
    (TI's TMP11x and INA2xx): a write of one byte sets the pointer, a write of three sets the
    pointer and writes the register; a read returns the pointed-to register, MSB first (a
    longer read repeats it; the datasheets leave that undefined)."""

    def __init__(self) -> None:
        self.pointer = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.pointer = data[0]
        if len(data) >= 3:
            self.write_register(self.pointer, data[1] << 8 | data[2])

    def read(self, length: int) -> bytes:
        value = self.read_register(self.pointer)
        word = bytes([value >> 8, value & 0xFF])
        return (word * length)[:length]

    @abc.abstractmethod
    def read_register(self, register: int) -> int:
        """The register's value as the device sends it (reading may clear flags)."""

    @abc.abstractmethod
    def write_register(self, register: int, value: int) -> None:
        """A write from the bus (read-only registers ignore it)."""

    @abc.abstractmethod
    def power_on_reset(self) -> None:
        """Registers back to their reset values."""


class BusFault(enum.StrEnum):
    """What a device's bus transactions do instead of succeeding."""

    NONE = "none"
    NACK = "nack"
    TIMEOUT = "timeout"
    GARBAGE = "garbage"


@dataclass
class _Attached:
    device: I2CTarget
    plugged: bool = True
    fault: BusFault = BusFault.NONE
    fault_count: int | None = None
    transactions: int = 0


def _os_error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


class FakeSMBus:
    """One I2C bus (``/dev/i2c-<number>``) with device models attached at addresses."""

    def __init__(self, number: int = 1, *, rng: random.Random | None = None) -> None:
        self.number = number
        self.closed = False
        self._devices: dict[int, _Attached] = {}
        self._rng = rng if rng is not None else random.Random(number)

    # --- wiring and bench hooks -------------------------------------------------------------

    def attach(self, address: int, device: I2CTarget) -> None:
        """Wire ``device`` to the bus at ``address`` (7-bit)."""
        if not 0x03 <= address <= 0x77:
            raise ValueError(f"{address:#x} is not a 7-bit I2C device address")
        if address in self._devices:
            raise ValueError(f"i2c-{self.number}: address {address:#04x} is already taken")
        self._devices[address] = _Attached(device)

    def device(self, address: int) -> I2CTarget:
        return self._attached(address).device

    def unplug(self, address: int) -> None:
        """The device stops answering (every transaction is NACKed)."""
        self._attached(address).plugged = False

    def plug(self, address: int) -> None:
        """The device answers again, fresh from a power-on reset."""
        attached = self._attached(address)
        if not attached.plugged:
            attached.device.power_on_reset()
        attached.plugged = True

    def inject(self, address: int, fault: BusFault, *, count: int | None = None) -> None:
        """Make the device's transactions fail with ``fault``: the next ``count`` of them, or
        all of them until :meth:`heal` (``count=None``)."""
        if count is not None and count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        attached = self._attached(address)
        attached.fault = fault
        attached.fault_count = count

    def heal(self, address: int) -> None:
        """Remove an injected fault."""
        self.inject(address, BusFault.NONE)

    def transactions(self, address: int) -> int:
        """How many transactions were addressed to ``address`` (failed ones included)."""
        return self._attached(address).transactions

    def _attached(self, address: int) -> _Attached:
        try:
            return self._devices[address]
        except KeyError:
            raise ValueError(f"i2c-{self.number}: nothing attached at {address:#04x}") from None

    # --- transactions -----------------------------------------------------------------------

    def _begin(self, address: int) -> tuple[I2CTarget, bool]:
        """Address the device: raise as Linux does if nobody answers; tell whether its reads
        are garbage."""
        if self.closed:
            raise _os_error(errno.EBADF)
        attached = self._devices.get(address)
        if attached is None or not attached.plugged:
            raise _os_error(errno.EREMOTEIO)
        attached.transactions += 1
        fault = attached.fault
        if attached.fault_count is not None:
            attached.fault_count -= 1
            if attached.fault_count <= 0:
                attached.fault = BusFault.NONE
                attached.fault_count = None
        if fault is BusFault.NACK:
            raise _os_error(errno.EREMOTEIO)
        if fault is BusFault.TIMEOUT:
            raise _os_error(errno.ETIMEDOUT)
        return attached.device, fault is BusFault.GARBAGE

    def _write(self, address: int, data: bytes) -> None:
        device, _garbage = self._begin(address)
        device.write(data)

    def _read(self, address: int, register: int, length: int) -> bytes:
        device, garbage = self._begin(address)
        device.write(bytes([_byte(register, "register")]))
        data = device.read(length)
        if garbage:
            return self._rng.randbytes(length)
        return data

    def read_byte_data(self, i2c_addr: int, register: int) -> int:
        return self._read(i2c_addr, register, 1)[0]

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None:
        self._write(i2c_addr, bytes([_byte(register, "register"), _byte(value, "value")]))

    def read_word_data(self, i2c_addr: int, register: int) -> int:
        low, high = self._read(i2c_addr, register, 2)
        return low | high << 8

    def write_word_data(self, i2c_addr: int, register: int, value: int) -> None:
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"not a 16-bit word: {value!r}")
        self._write(i2c_addr, bytes([_byte(register, "register"), value & 0xFF, value >> 8]))

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]:
        if not 1 <= length <= 32:
            raise ValueError(f"an I2C block is 1-32 bytes, not {length}")
        return list(self._read(i2c_addr, register, length))

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: Sequence[int]) -> None:
        if not 1 <= len(data) <= 32:
            raise ValueError(f"an I2C block is 1-32 bytes, not {len(data)}")
        payload = bytes(_byte(value, "value") for value in data)
        self._write(i2c_addr, bytes([_byte(register, "register")]) + payload)

    def close(self) -> None:
        self.closed = True


def _byte(value: int, what: str) -> int:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{what} {value!r} is not a byte")
    return value
