"""The GPIO door sensor and UPS mains input against the fake RPi.GPIO, on virtual time.

The fake's edge callbacks run on a real thread; its bench hooks return once the callbacks have
run, so each edge is on the event loop before the test goes on - no wall-clock sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

import pytest

from agent.hal.errors import PartInUse, PartNotResponding
from agent.hal.parts import DoorSensor, PowerMonitor, PowerStatus
from drivers.gpio_inputs import GpioDoorSensor, GpioPowerMonitor, MainsInput
from drivers.pins import PinRegistry
from hal_sim.fakes.gpio import FakeGpio

T = TypeVar("T")

DOOR = 17
MAINS = 27


@pytest.fixture
def gpio() -> Iterator[FakeGpio]:
    fake = FakeGpio()
    yield fake
    fake.close()


@pytest.fixture
def pins() -> PinRegistry:
    return PinRegistry()


async def _next(iterator: AsyncIterator[T]) -> T:
    async with asyncio.timeout(5.0):
        return await anext(iterator)


async def _collect(iterator: AsyncIterator[T], into: list[T]) -> None:
    async for value in iterator:
        into.append(value)  # noqa: PERF401 - each value must land as it comes, not at the end


# --- door sensor ---------------------------------------------------------------------------------


def _door(gpio: FakeGpio, pins: PinRegistry, **kwargs: Any) -> GpioDoorSensor:
    return GpioDoorSensor("fridge-door", gpio=gpio, pins=pins, pin=DOOR, **kwargs)


def test_door_reads_and_watches_opening_and_closing(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    contact = gpio.wire_door(DOOR)
    sensor: DoorSensor = _door(gpio, pins)

    async def body() -> None:
        assert gpio.pull(DOOR) == gpio.PUD_UP
        assert await sensor.is_open() is False
        changes = sensor.watch()
        assert await _next(changes) is False, "watch() starts with the current state"
        contact.open()
        assert await _next(changes) is True
        assert await sensor.is_open() is True
        contact.close()
        assert await _next(changes) is False
        await changes.aclose()  # type: ignore[attr-defined]

    run_virtual(body())


def test_an_unplugged_reed_switch_reads_open(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    sensor = _door(gpio, pins)  # nothing wired: the pull-up wins

    async def body() -> None:
        assert await sensor.is_open() is True

    run_virtual(body())


def test_a_bouncing_contact_is_one_change(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    contact = gpio.wire_door(DOOR)
    sensor = _door(gpio, pins, debounce_s=0.05)

    async def body() -> None:
        seen: list[bool] = []
        watcher = asyncio.create_task(_collect(sensor.watch(), seen))
        await asyncio.sleep(0.2)
        contact.open(bounces=5)  # eleven edges at one instant
        await asyncio.sleep(0.2)
        for _ in range(4):  # then a contact chattering over 40 ms before it settles closed
            gpio.drive(DOOR, gpio.LOW)
            await asyncio.sleep(0.005)
            gpio.drive(DOOR, gpio.HIGH)
            await asyncio.sleep(0.005)
        contact.close()
        await asyncio.sleep(0.5)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        assert seen == [False, True, False]

    run_virtual(body())


def test_a_glitch_shorter_than_the_debounce_time_is_no_change(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    contact = gpio.wire_door(DOOR)
    sensor = _door(gpio, pins, debounce_s=0.05)

    async def body() -> None:
        seen: list[bool] = []
        watcher = asyncio.create_task(_collect(sensor.watch(), seen))
        await asyncio.sleep(0.1)
        contact.open()
        await asyncio.sleep(0.02)
        contact.close()
        await asyncio.sleep(2.0)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        assert seen == [False]

    run_virtual(body())


def test_is_open_waits_for_a_bouncing_contact_to_settle(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    contact = gpio.wire_door(DOOR)
    sensor = _door(gpio, pins, debounce_s=0.05)

    async def body() -> None:
        loop = asyncio.get_running_loop()
        assert await sensor.is_open() is False  # edge detection starts with the first read
        contact.open(bounces=3)
        started = loop.time()
        assert await sensor.is_open() is True
        assert loop.time() - started == pytest.approx(0.05)

    run_virtual(body())


def test_a_missed_edge_is_caught_by_the_poll(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    contact = gpio.wire_door(DOOR)
    sensor = _door(gpio, pins, poll_s=1.0)

    async def body() -> None:
        loop = asyncio.get_running_loop()
        changes = sensor.watch()
        assert await _next(changes) is False
        gpio.remove_event_detect(DOOR)  # the library loses its edge detection
        contact.open()
        started = loop.time()
        assert await _next(changes) is True
        assert loop.time() - started <= 1.0 + 0.05 + 1e-9

    run_virtual(body())


def test_two_watchers_each_see_every_change(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    contact = gpio.wire_door(DOOR)
    sensor = _door(gpio, pins)

    async def body() -> None:
        first, second = sensor.watch(), sensor.watch()
        assert await _next(first) is False
        assert await _next(second) is False
        contact.open()
        assert await _next(first) is True
        assert await _next(second) is True
        await first.aclose()  # type: ignore[attr-defined]
        contact.close()
        assert await _next(second) is False, "closing one watcher leaves the other working"
        await second.aclose()  # type: ignore[attr-defined]

    run_virtual(body())


def test_a_stuck_contact_hides_the_door(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    contact = gpio.wire_door(DOOR)
    sensor = _door(gpio, pins)

    async def body() -> None:
        gpio.stick(DOOR, gpio.LOW)
        contact.open()
        assert await sensor.is_open() is False
        gpio.unstick(DOOR)
        assert await sensor.is_open() is True

    run_virtual(body())


def test_a_refused_input_is_part_not_responding_then_recovers(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    contact = gpio.wire_door(DOOR)
    sensor = _door(gpio, pins)

    async def body() -> None:
        gpio.fail(DOOR)
        with pytest.raises(PartNotResponding) as raised:
            await sensor.is_open()
        assert raised.value.part == "fridge-door"
        with pytest.raises(PartNotResponding):
            await _next(sensor.watch())
        gpio.repair(DOOR)
        contact.open()
        assert await sensor.is_open() is True
        assert await _next(sensor.watch()) is True

    run_virtual(body())


def test_a_watched_input_that_fails_raises_from_the_iterator(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    gpio.wire_door(DOOR)
    sensor = _door(gpio, pins, poll_s=1.0)

    async def body() -> None:
        changes = sensor.watch()
        assert await _next(changes) is False
        gpio.fail(DOOR)
        with pytest.raises(PartNotResponding):
            await _next(changes)
        gpio.repair(DOOR)
        again = sensor.watch()
        assert await _next(again) is False
        await again.aclose()  # type: ignore[attr-defined]

    run_virtual(body())


def test_close_frees_the_pin(gpio: FakeGpio, pins: PinRegistry, run_virtual: Any) -> None:
    sensor = _door(gpio, pins)

    async def body() -> None:
        await sensor.is_open()
        sensor.close()
        assert not gpio.is_set_up(DOOR)
        assert pins.owner(DOOR) is None
        _door(gpio, pins)  # the pin can be claimed and set up again

    run_virtual(body())


def test_a_door_on_a_claimed_pin_is_part_in_use(gpio: FakeGpio, pins: PinRegistry) -> None:
    _door(gpio, pins)
    with pytest.raises(PartInUse, match="contact of fridge-door"):
        MainsInput("ups", gpio=gpio, pins=pins, pin=DOOR)


def test_debounce_must_be_shorter_than_the_poll(gpio: FakeGpio, pins: PinRegistry) -> None:
    with pytest.raises(ValueError, match="debounce_s < poll_s"):
        _door(gpio, pins, debounce_s=1.0, poll_s=1.0)


# --- mains input and the power monitor without a gauge -----------------------------------------


def test_power_monitor_reports_mains_loss_and_return(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    ups = gpio.wire_ups(MAINS)
    mains = MainsInput("ups", gpio=gpio, pins=pins, pin=MAINS)
    power: PowerMonitor = GpioPowerMonitor(mains)

    async def body() -> None:
        assert power.name == "ups"
        assert await mains.mains_present() is True
        assert await power.read() == PowerStatus(
            on_mains=True, battery_fraction=None, battery_volts=None
        )
        changes = power.watch()
        assert (await _next(changes)).on_mains
        ups.cut_mains()
        assert not (await _next(changes)).on_mains
        assert not (await power.read()).on_mains
        ups.restore_mains()
        assert (await _next(changes)).on_mains
        await changes.aclose()  # type: ignore[attr-defined]

    run_virtual(body())


def test_a_flickering_supply_is_one_change_and_a_short_dip_none(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    ups = gpio.wire_ups(MAINS)
    mains = MainsInput("ups", gpio=gpio, pins=pins, pin=MAINS, debounce_s=0.5)

    async def body() -> None:
        seen: list[bool] = []
        watcher = asyncio.create_task(_collect(mains.watch(), seen))
        await asyncio.sleep(1.0)
        ups.cut_mains()
        await asyncio.sleep(0.2)  # a 200 ms dip: absorbed
        ups.restore_mains()
        await asyncio.sleep(2.0)
        ups.cut_mains(bounces=4)
        await asyncio.sleep(2.0)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        assert seen == [True, False]

    run_virtual(body())


def test_an_active_low_mains_signal_with_pull_down(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    ups = gpio.wire_ups(MAINS, mains_level=gpio.LOW)
    mains = MainsInput("ups", gpio=gpio, pins=pins, pin=MAINS, present_high=False, pull_up=False)

    async def body() -> None:
        assert gpio.pull(MAINS) == gpio.PUD_DOWN
        assert await mains.mains_present() is True
        ups.cut_mains()
        assert await mains.mains_present() is False

    run_virtual(body())
