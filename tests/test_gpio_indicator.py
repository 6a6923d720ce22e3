"""The GPIO buzzer and status light against the fake RPi.GPIO, on virtual time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from agent.hal.errors import PartInUse, PartNotResponding
from agent.hal.parts import Indicator, IndicatorState
from drivers.gpio_indicator import GpioIndicator
from drivers.pins import PinRegistry
from hal_sim.fakes.gpio import FakeGpio

BUZZER = 12
RED = 20
AMBER = 21


@pytest.fixture
def gpio() -> Iterator[FakeGpio]:
    fake = FakeGpio()
    yield fake
    fake.close()


@pytest.fixture
def pins() -> PinRegistry:
    return PinRegistry()


def _indicator(gpio: FakeGpio, pins: PinRegistry, **kwargs: Any) -> GpioIndicator:
    return GpioIndicator(
        "indicator", gpio=gpio, pins=pins, buzzer_pin=BUZZER, red_pin=RED, amber_pin=AMBER, **kwargs
    )


def test_shows_what_it_was_told(gpio: FakeGpio, pins: PinRegistry, run_virtual: Any) -> None:
    indicator: Indicator = _indicator(gpio, pins)

    async def body() -> None:
        assert await indicator.state() is IndicatorState.QUIET
        for state in IndicatorState:
            await indicator.show(state)
            assert await indicator.state() is state
        await indicator.show(IndicatorState.QUIET)

    run_virtual(body())


def test_alarm_is_red_and_a_continuous_tone(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    indicator = _indicator(gpio, pins)

    async def body() -> None:
        await indicator.show(IndicatorState.ALARM)
        await asyncio.sleep(30.0)
        assert (gpio.level(RED), gpio.level(AMBER), gpio.level(BUZZER)) == (1, 0, 1)
        assert gpio.writes(BUZZER) == (1,), "continuous: switched on once"

    run_virtual(body())


def test_attention_is_amber_and_a_chirp(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    indicator = _indicator(gpio, pins, chirp_s=0.1, chirp_every_s=2.0)

    async def body() -> None:
        await indicator.show(IndicatorState.ATTENTION)
        samples = []
        await asyncio.sleep(0.025)
        for _ in range(100):  # every 50 ms for 5 s, between the edges
            samples.append(gpio.level(BUZZER))
            await asyncio.sleep(0.05)
        assert gpio.level(AMBER) == 1
        assert gpio.level(RED) == 0
        assert gpio.writes(BUZZER) == (1, 0, 1, 0, 1, 0), "three chirps in 5 s"
        assert sum(samples) == 6, "each chirp lasts 100 ms: two samples each"
        await indicator.show(IndicatorState.QUIET)
        await asyncio.sleep(10.0)
        assert gpio.level(BUZZER) == 0
        assert gpio.level(AMBER) == 0
        assert len(gpio.writes(BUZZER)) == 6, "quiet stops the chirping"

    run_virtual(body())


def test_alarm_after_attention_stops_the_chirp_and_holds_the_tone(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    indicator = _indicator(gpio, pins)

    async def body() -> None:
        await indicator.show(IndicatorState.ATTENTION)
        await asyncio.sleep(0.05)  # mid-chirp
        await indicator.show(IndicatorState.ALARM)
        await asyncio.sleep(5.0)
        assert gpio.level(BUZZER) == 1
        assert await indicator.state() is IndicatorState.ALARM

    run_virtual(body())


def test_active_low_outputs(gpio: FakeGpio, pins: PinRegistry, run_virtual: Any) -> None:
    indicator = _indicator(gpio, pins, active_high=False)

    async def body() -> None:
        assert (gpio.level(RED), gpio.level(AMBER), gpio.level(BUZZER)) == (1, 1, 1)
        await indicator.show(IndicatorState.ALARM)
        assert (gpio.level(RED), gpio.level(AMBER), gpio.level(BUZZER)) == (0, 1, 0)
        assert await indicator.state() is IndicatorState.ALARM

    run_virtual(body())


def test_a_refused_output_is_part_not_responding_then_recovers(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    indicator = _indicator(gpio, pins)

    async def body() -> None:
        gpio.fail(RED)
        with pytest.raises(PartNotResponding) as raised:
            await indicator.show(IndicatorState.ALARM)
        assert raised.value.part == "indicator"
        with pytest.raises(PartNotResponding):
            await indicator.state()
        gpio.repair(RED)
        await indicator.show(IndicatorState.ALARM)
        assert await indicator.state() is IndicatorState.ALARM

    run_virtual(body())


def test_a_buzzer_failing_mid_chirp_stops_the_chirp_and_is_logged(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any, caplog: pytest.LogCaptureFixture
) -> None:
    indicator = _indicator(gpio, pins)

    async def body() -> None:
        await indicator.show(IndicatorState.ATTENTION)
        gpio.fail(BUZZER)
        with caplog.at_level(logging.ERROR, logger="drivers.gpio_indicator"):
            await asyncio.sleep(5.0)
        assert "chirping stopped" in caplog.text
        with pytest.raises(PartNotResponding):
            await indicator.show(IndicatorState.QUIET)
        gpio.repair(BUZZER)
        await indicator.show(IndicatorState.QUIET)
        assert await indicator.state() is IndicatorState.QUIET

    run_virtual(body())


def test_close_switches_off_and_frees_the_pins(
    gpio: FakeGpio, pins: PinRegistry, run_virtual: Any
) -> None:
    indicator = _indicator(gpio, pins)

    async def body() -> None:
        await indicator.show(IndicatorState.ATTENTION)
        indicator.close()
        assert not gpio.is_set_up(BUZZER)
        assert pins.owner(AMBER) is None
        assert gpio.writes(AMBER)[-1] == 0

    run_virtual(body())


def test_pins_claimed_twice_and_bad_timing_are_refused(gpio: FakeGpio, pins: PinRegistry) -> None:
    with pytest.raises(ValueError, match="chirp_s"):
        _indicator(gpio, pins, chirp_s=2.0, chirp_every_s=2.0)
    _indicator(gpio, pins)
    with pytest.raises(PartInUse, match="buzzer of indicator"):
        GpioIndicator("second", gpio=gpio, pins=pins, buzzer_pin=5, red_pin=6, amber_pin=BUZZER)
