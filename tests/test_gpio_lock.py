"""The GPIO solenoid lock against the fake RPi.GPIO with a latch wired to its coil, on virtual
time: release confirmed by feedback, jams, the bounded energised time, pins claimed once."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from agent.hal.errors import LockJammed, PartInUse, PartNotResponding
from agent.hal.parts import Lock
from drivers.gpio_api import load_rpi_gpio
from drivers.gpio_lock import GpioLock
from drivers.pins import PinRegistry
from hal_sim.fakes.gpio import FakeGpio, FakeLatch

COIL = 23
FEEDBACK = 24


@pytest.fixture
def gpio() -> Iterator[FakeGpio]:
    fake = FakeGpio()
    yield fake
    fake.close()


@pytest.fixture
def pins() -> PinRegistry:
    return PinRegistry()


def _lock(gpio: FakeGpio, pins: PinRegistry, **kwargs: Any) -> tuple[GpioLock, FakeLatch]:
    latch = gpio.wire_lock(
        coil=COIL, feedback=FEEDBACK, feedback_locked_level=gpio.HIGH, delay_s=0.02
    )
    lock = GpioLock(
        "door-lock",
        gpio=gpio,
        pins=pins,
        coil_pin=COIL,
        feedback_pin=FEEDBACK,
        max_release_s=5.0,
        **kwargs,
    )
    return lock, latch


def test_starts_locked_releases_and_engages(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    lock, latch = _lock(gpio, pins)
    typed: Lock = lock

    async def body() -> None:
        assert await typed.is_locked()
        assert gpio.pull(FEEDBACK) == gpio.PUD_UP
        await typed.release()
        assert latch.energised
        assert not await typed.is_locked()
        await typed.engage()
        assert not latch.energised
        assert await typed.is_locked()

    run_virtual(body())


def test_is_locked_reads_the_feedback_not_the_command(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    lock, _ = _lock(gpio, pins)

    async def body() -> None:
        gpio.stick(FEEDBACK, gpio.LOW)  # someone forced the bolt back
        assert not await lock.is_locked()
        gpio.unstick(FEEDBACK)
        assert await lock.is_locked()

    run_virtual(body())


def test_a_released_lock_engages_itself_after_max_release_s(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    lock, latch = _lock(gpio, pins)

    async def body() -> None:
        await lock.release()
        await asyncio.sleep(lock.max_release_s * 0.5)
        assert latch.energised
        assert not await lock.is_locked()
        await asyncio.sleep(lock.max_release_s * 0.5 + 0.1)
        assert not latch.energised, "a solenoid left energised past max_release_s burns out"
        assert await lock.is_locked()

    run_virtual(body())


def test_releasing_again_does_not_extend_the_energised_time(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    lock, latch = _lock(gpio, pins)

    async def body() -> None:
        loop = asyncio.get_running_loop()
        energised_at = loop.time()
        await lock.release()
        await asyncio.sleep(3.0)
        await lock.release()
        await asyncio.sleep(energised_at + lock.max_release_s + 0.001 - loop.time())
        assert not latch.energised
        await asyncio.sleep(0.05)
        assert await lock.is_locked()
        await lock.release()  # a fresh release after the timer energises again
        assert latch.energised

    run_virtual(body())


def test_a_jammed_lock_raises_de_energises_and_reads_locked(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    lock, latch = _lock(gpio, pins, confirm_s=0.5)
    latch.jam()

    async def body() -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(LockJammed) as raised:
            await lock.release()
        assert raised.value.part == "door-lock"
        assert 0.5 <= loop.time() - started < 0.6
        assert not latch.energised
        assert gpio.level(COIL) == gpio.LOW
        assert await lock.is_locked()
        latch.free()
        await lock.release()
        assert not await lock.is_locked()

    run_virtual(body())


def test_a_cancelled_release_de_energises(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    lock, latch = _lock(gpio, pins)
    latch.jam()

    async def body() -> None:
        releasing = asyncio.create_task(lock.release())
        await asyncio.sleep(0.1)
        assert latch.energised
        releasing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await releasing
        assert not latch.energised

    run_virtual(body())


def test_an_active_low_coil_and_a_feedback_low_when_locked(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    latch = gpio.wire_lock(
        coil=5, feedback=6, coil_active_high=False, feedback_locked_level=gpio.LOW, delay_s=0.02
    )
    lock = GpioLock(
        "lid-lock",
        gpio=gpio,
        pins=pins,
        coil_pin=5,
        feedback_pin=6,
        coil_active_high=False,
        feedback_high_when_locked=False,
        max_release_s=3.0,
    )

    async def body() -> None:
        assert gpio.level(5) == gpio.HIGH, "set up de-energised"
        assert await lock.is_locked()
        await lock.release()
        assert gpio.level(5) == gpio.LOW
        assert latch.energised
        assert not await lock.is_locked()
        await lock.engage()
        assert await lock.is_locked()

    run_virtual(body())


def test_a_lock_without_feedback_reads_its_coil(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    lock = GpioLock("slot-1", gpio=gpio, pins=pins, coil_pin=COIL, max_release_s=2.0)

    async def body() -> None:
        assert await lock.is_locked()
        await lock.release()
        assert not await lock.is_locked()
        await asyncio.sleep(2.01)
        assert await lock.is_locked()

    run_virtual(body())


def test_a_refused_gpio_call_is_part_not_responding_then_recovers(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    lock, _ = _lock(gpio, pins)

    async def body() -> None:
        gpio.fail(COIL)
        for call in (lock.release, lock.engage):
            with pytest.raises(PartNotResponding) as raised:
                await call()
            assert raised.value.part == "door-lock"
        gpio.repair(COIL)
        gpio.fail(FEEDBACK)
        with pytest.raises(PartNotResponding):
            await lock.is_locked()
        gpio.repair(FEEDBACK)
        await lock.release()
        await lock.engage()
        assert await lock.is_locked()

    run_virtual(body())


def test_a_pin_claimed_twice_is_part_in_use_at_assembly(gpio: FakeGpio, pins: PinRegistry) -> None:
    GpioLock("slot-1", gpio=gpio, pins=pins, coil_pin=COIL, feedback_pin=FEEDBACK)
    with pytest.raises(PartInUse) as raised:
        GpioLock("slot-2", gpio=gpio, pins=pins, coil_pin=25, feedback_pin=FEEDBACK)
    assert raised.value.part == "slot-2"
    assert "feedback of slot-1" in raised.value.detail
    assert pins.owner(25) is None, "a failed claim claims nothing"
    with pytest.raises(PartInUse, match="both its coil and its feedback"):
        GpioLock("slot-3", gpio=gpio, pins=pins, coil_pin=26, feedback_pin=26)


def test_close_de_energises_and_frees_the_pins(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    lock, latch = _lock(gpio, pins)

    async def body() -> None:
        await lock.release()
        lock.close()
        assert not latch.energised
        assert not gpio.is_set_up(COIL)
        assert pins.owner(COIL) is None
        again = GpioLock("door-lock", gpio=gpio, pins=pins, coil_pin=COIL)
        assert await again.is_locked()

    run_virtual(body())


def test_timing_arguments_are_checked(gpio: FakeGpio, pins: PinRegistry) -> None:
    with pytest.raises(ValueError, match="confirm_s"):
        GpioLock("l", gpio=gpio, pins=pins, coil_pin=1, max_release_s=0.5, confirm_s=0.5)
    with pytest.raises(ValueError, match="poll_s"):
        GpioLock("l", gpio=gpio, pins=pins, coil_pin=1, poll_s=0)
    assert pins.owner(1) is None


def test_the_real_module_is_imported_only_when_asked_and_fails_typed_off_a_pi() -> None:
    assert "RPi.GPIO" not in sys.modules
    with pytest.raises(PartNotResponding, match=r"RPi\.GPIO cannot be loaded") as raised:
        load_rpi_gpio()
    assert raised.value.part == "gpio"
