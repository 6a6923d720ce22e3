"""The fake SMBus (wire-level semantics, Linux errors, fault injection) and the drivers' bus
layer (byte order, bounded retries on virtual time)."""

from __future__ import annotations

import asyncio
import errno
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.hal.errors import PartNotResponding
from drivers.i2c_bus import (
    I2CDevice,
    RetryPolicy,
    describe_os_error,
    from_signed16,
    swap16,
    to_signed16,
)
from hal_sim.fakes.smbus import BusFault, FakeSMBus, WordRegisterDevice


class Scratch(WordRegisterDevice):
    """A big-endian word-register device with eight scratch registers."""

    def __init__(self) -> None:
        super().__init__()
        self.regs = [0] * 8
        self.resets = 0

    def read_register(self, register: int) -> int:
        return self.regs[register]

    def write_register(self, register: int, value: int) -> None:
        self.regs[register] = value

    def power_on_reset(self) -> None:
        self.regs = [0] * 8
        self.resets += 1


def _bus_with_scratch() -> tuple[FakeSMBus, Scratch]:
    bus = FakeSMBus(1)
    device = Scratch()
    bus.attach(0x48, device)
    return bus, device


# --- pure helpers -------------------------------------------------------------------------------


def test_swap16_and_twos_complement_examples() -> None:
    assert swap16(0x0117) == 0x1701
    assert to_signed16(0xFFFF) == -1
    assert to_signed16(0x8000) == -32768
    assert to_signed16(0x7FFF) == 32767
    assert from_signed16(-1) == 0xFFFF
    with pytest.raises(ValueError, match="16-bit"):
        swap16(0x10000)
    with pytest.raises(ValueError, match="signed 16-bit"):
        from_signed16(40000)


@given(st.integers(0, 0xFFFF))
def test_swap16_is_an_involution(word: int) -> None:
    assert swap16(swap16(word)) == word


@given(st.integers(-0x8000, 0x7FFF))
def test_signed16_round_trips(value: int) -> None:
    assert to_signed16(from_signed16(value)) == value


def test_os_errors_are_described_as_linux_means_them() -> None:
    assert "NACK" in describe_os_error(OSError(errno.EREMOTEIO, "Remote I/O error"))
    assert "NACK" in describe_os_error(OSError(errno.ENXIO, "No such device or address"))
    assert "timed out" in describe_os_error(OSError(errno.ETIMEDOUT, "Connection timed out"))


# --- the fake bus -------------------------------------------------------------------------------


def test_an_absent_address_is_a_nack_as_linux_reports_it() -> None:
    bus = FakeSMBus(1)
    with pytest.raises(OSError, match="Remote I/O") as raised:
        bus.read_byte_data(0x20, 0)
    assert raised.value.errno == errno.EREMOTEIO


def test_smbus_words_are_little_endian_on_the_wire() -> None:
    bus, device = _bus_with_scratch()
    device.regs[1] = 0x0C80
    assert bus.read_word_data(0x48, 1) == 0x800C, "the first byte on the wire is the low byte"
    assert bus.read_i2c_block_data(0x48, 1, 2) == [0x0C, 0x80]
    bus.write_word_data(0x48, 2, 0x3412)
    assert device.regs[2] == 0x1234
    bus.write_i2c_block_data(0x48, 3, [0xAB, 0xCD])
    assert device.regs[3] == 0xABCD
    bus.write_byte_data(0x48, 4, 0x55)
    assert device.pointer == 4, "a two-byte write only moves the pointer of a word device"


def test_fault_injection_nack_timeout_garbage_and_count() -> None:
    bus, device = _bus_with_scratch()
    device.regs[0] = 0x1234
    bus.inject(0x48, BusFault.TIMEOUT)
    with pytest.raises(OSError, match="timed out") as raised:
        bus.read_word_data(0x48, 0)
    assert raised.value.errno == errno.ETIMEDOUT
    bus.inject(0x48, BusFault.NACK, count=2)
    for _ in range(2):
        with pytest.raises(OSError, match="Remote I/O"):
            bus.read_word_data(0x48, 0)
    assert bus.read_word_data(0x48, 0) == 0x3412, "a counted fault heals by itself"
    bus.inject(0x48, BusFault.GARBAGE)
    junk = {bus.read_word_data(0x48, 0) for _ in range(20)}
    assert junk != {0x3412}
    bus.write_word_data(0x48, 5, 0x0100)
    assert device.regs[5] == 0x0001, "writes still reach a device whose reads are garbage"
    bus.heal(0x48)
    assert bus.read_word_data(0x48, 0) == 0x3412
    assert bus.transactions(0x48) == 26


def test_unplug_then_plug_is_a_power_on_reset() -> None:
    bus, device = _bus_with_scratch()
    device.regs[0] = 7
    bus.unplug(0x48)
    with pytest.raises(OSError, match="Remote I/O"):
        bus.read_word_data(0x48, 0)
    bus.plug(0x48)
    assert device.resets == 1
    assert bus.read_word_data(0x48, 0) == 0


def test_a_closed_bus_refuses_transactions() -> None:
    bus, _device = _bus_with_scratch()
    bus.close()
    with pytest.raises(OSError, match="Bad file descriptor") as raised:
        bus.read_byte_data(0x48, 0)
    assert raised.value.errno == errno.EBADF


def test_bus_rejects_bad_arguments() -> None:
    bus, _device = _bus_with_scratch()
    with pytest.raises(ValueError, match="already taken"):
        bus.attach(0x48, Scratch())
    with pytest.raises(ValueError, match="not a byte"):
        bus.write_byte_data(0x48, 0, 256)
    with pytest.raises(ValueError, match="1-32 bytes"):
        bus.read_i2c_block_data(0x48, 0, 33)


# --- retries ------------------------------------------------------------------------------------


def test_transient_nacks_are_retried_with_backoff(run_virtual: Any) -> None:
    async def body() -> None:
        bus, device = _bus_with_scratch()
        device.regs[0] = 0x0117
        i2c = I2CDevice(bus, 0x48, name="probe")
        bus.inject(0x48, BusFault.NACK, count=2)
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert await i2c.read_word_be(0) == 0x0117
        assert loop.time() - start == pytest.approx(0.015), "slept 5 ms, then 10 ms"
        assert bus.transactions(0x48) == 3

    run_virtual(body())


def test_a_silent_device_is_part_not_responding_after_bounded_retries(run_virtual: Any) -> None:
    async def body() -> None:
        bus, _device = _bus_with_scratch()
        i2c = I2CDevice(bus, 0x48, name="probe", retry=RetryPolicy(backoff_s=(0.005, 0.010)))
        bus.inject(0x48, BusFault.TIMEOUT)
        with pytest.raises(PartNotResponding, match="timed out after 3 attempts") as raised:
            await i2c.read_word_be(0)
        assert raised.value.part == "probe"
        assert bus.transactions(0x48) == 3
        bus.heal(0x48)
        assert await i2c.read_word_be(0) == 0, "the next call tries again"

    run_virtual(body())


def test_retry_policy_and_address_validation() -> None:
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(backoff_s=(-1.0,))
    with pytest.raises(ValueError, match="7-bit"):
        I2CDevice(FakeSMBus(), 0x80, name="x")
    assert RetryPolicy().attempts == 4
