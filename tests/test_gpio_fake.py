"""The fake RPi.GPIO module keeps the real module's semantics and errors (RPi.GPIO 0.7,
``source/py_gpio.c``), and its bench hooks do what they say."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from drivers.gpio_api import GpioApi
from hal_sim.fakes.gpio import FakeGpio


@pytest.fixture
def gpio() -> Iterator[FakeGpio]:
    fake = FakeGpio()
    yield fake
    fake.close()


def test_the_fake_satisfies_the_api_protocol_and_the_real_constants() -> None:
    api: GpioApi = FakeGpio()
    assert (api.HIGH, api.LOW, api.BOARD, api.BCM, api.OUT, api.IN) == (1, 0, 10, 11, 0, 1)
    assert (api.PUD_OFF, api.PUD_DOWN, api.PUD_UP) == (20, 21, 22)
    assert (api.RISING, api.FALLING, api.BOTH) == (31, 32, 33)


def test_every_call_needs_a_numbering_mode_first(gpio: FakeGpio) -> None:
    with pytest.raises(RuntimeError, match="set pin numbering mode"):
        gpio.setup(17, gpio.IN)


def test_setmode_refuses_a_second_different_mode_and_nonsense(gpio: FakeGpio) -> None:
    gpio.setmode(gpio.BCM)
    gpio.setmode(gpio.BCM)
    with pytest.raises(ValueError, match="different mode"):
        gpio.setmode(gpio.BOARD)
    other = FakeGpio()
    with pytest.raises(ValueError, match="invalid mode"):
        other.setmode(12)


@pytest.mark.parametrize("channel", [-1, 54])
def test_bcm_channels_outside_0_to_53_are_invalid(gpio: FakeGpio, channel: int) -> None:
    gpio.setmode(gpio.BCM)
    with pytest.raises(ValueError, match="channel sent is invalid"):
        gpio.setup(channel, gpio.IN)


def test_board_numbering_maps_header_pins(gpio: FakeGpio) -> None:
    gpio.setmode(gpio.BOARD)
    with pytest.raises(ValueError, match="channel sent is invalid"):
        gpio.setup(1, gpio.IN)  # 3V3 power, not a GPIO
    gpio.setup(11, gpio.IN, pull_up_down=gpio.PUD_UP)  # header pin 11 is GPIO17
    assert gpio.pull(17) == gpio.PUD_UP
    gpio.drive(17, gpio.LOW)
    assert gpio.input(11) == gpio.LOW


def test_setup_argument_errors(gpio: FakeGpio) -> None:
    gpio.setmode(gpio.BCM)
    with pytest.raises(ValueError, match="invalid direction"):
        gpio.setup(17, 5)
    with pytest.raises(ValueError, match="not valid for outputs"):
        gpio.setup(17, gpio.OUT, pull_up_down=gpio.PUD_UP)
    with pytest.raises(ValueError, match="not valid for inputs"):
        gpio.setup(17, gpio.IN, initial=gpio.HIGH)
    with pytest.raises(ValueError, match="Invalid value for pull_up_down"):
        gpio.setup(17, gpio.IN, pull_up_down=99)


def test_input_and_output_direction_errors(gpio: FakeGpio) -> None:
    gpio.setmode(gpio.BCM)
    with pytest.raises(RuntimeError, match="must setup"):
        gpio.input(17)
    gpio.setup(17, gpio.IN)
    with pytest.raises(RuntimeError, match="not been set up as an OUTPUT"):
        gpio.output(17, gpio.HIGH)


def test_inputs_read_their_pull_or_what_drives_them(gpio: FakeGpio) -> None:
    gpio.setmode(gpio.BCM)
    gpio.setup(5, gpio.IN, pull_up_down=gpio.PUD_UP)
    gpio.setup(6, gpio.IN, pull_up_down=gpio.PUD_DOWN)
    gpio.setup(13, gpio.IN)
    assert (gpio.input(5), gpio.input(6), gpio.input(13)) == (1, 0, 0)
    gpio.drive(5, gpio.LOW)
    gpio.drive(6, gpio.HIGH)
    assert (gpio.input(5), gpio.input(6)) == (0, 1)
    gpio.let_float(5)
    assert gpio.input(5) == 1


def test_outputs_read_back_what_they_drive(gpio: FakeGpio) -> None:
    gpio.setmode(gpio.BCM)
    gpio.setup(18, gpio.OUT, initial=gpio.HIGH)
    assert gpio.input(18) == gpio.HIGH
    gpio.output(18, False)
    assert gpio.level(18) == gpio.LOW
    gpio.output(18, 1)
    assert gpio.writes(18) == (0, 1)


def test_edge_callbacks_run_on_another_thread_with_the_channel(gpio: FakeGpio) -> None:
    gpio.setmode(gpio.BCM)
    gpio.setup(17, gpio.IN, pull_up_down=gpio.PUD_UP)
    calls: list[tuple[int, str]] = []
    gpio.add_event_detect(
        17, gpio.FALLING, callback=lambda ch: calls.append((ch, threading.current_thread().name))
    )
    gpio.drive(17, gpio.HIGH)  # no edge: already high
    gpio.drive(17, gpio.LOW)  # falling
    gpio.drive(17, gpio.HIGH)  # rising: not asked for
    assert len(calls) == 1
    channel, thread = calls[0]
    assert channel == 17
    assert thread != threading.current_thread().name


def test_event_detected_latches_an_edge_until_read(gpio: FakeGpio) -> None:
    gpio.setmode(gpio.BCM)
    gpio.setup(17, gpio.IN)
    assert gpio.event_detected(17) is False
    gpio.add_event_detect(17, gpio.RISING)
    gpio.drive(17, gpio.HIGH)
    assert gpio.event_detected(17) is True
    assert gpio.event_detected(17) is False


def test_edge_detection_errors(gpio: FakeGpio) -> None:
    gpio.setmode(gpio.BCM)
    gpio.setup(18, gpio.OUT)
    with pytest.raises(RuntimeError, match="as an input first"):
        gpio.add_event_detect(18, gpio.BOTH)
    gpio.setup(17, gpio.IN)
    with pytest.raises(ValueError, match="RISING, FALLING or BOTH"):
        gpio.add_event_detect(17, 7)
    with pytest.raises(ValueError, match="Bouncetime must be greater than 0"):
        gpio.add_event_detect(17, gpio.BOTH, bouncetime=0)
    with pytest.raises(TypeError, match="callable"):
        gpio.add_event_detect(17, gpio.BOTH, callback=42)  # type: ignore[arg-type]
    gpio.add_event_detect(17, gpio.BOTH)
    with pytest.raises(RuntimeError, match="Conflicting edge detection"):
        gpio.add_event_detect(17, gpio.BOTH)
    gpio.remove_event_detect(17)
    gpio.add_event_detect(17, gpio.RISING)


def test_bouncetime_drops_edges_even_the_one_a_contact_settles_on() -> None:
    now = [0.0]
    gpio = FakeGpio(clock=lambda: now[0])
    try:
        gpio.setmode(gpio.BCM)
        gpio.setup(17, gpio.IN, pull_up_down=gpio.PUD_UP)
        levels: list[int] = []
        gpio.add_event_detect(
            17, gpio.BOTH, callback=lambda ch: levels.append(gpio.input(ch)), bouncetime=50
        )
        gpio.drive(17, gpio.LOW, bounces=3)  # seven edges at one instant
        assert len(levels) == 1
        now[0] = 0.030
        gpio.drive(17, gpio.HIGH)  # 30 ms later: dropped, although it is a real change
        assert len(levels) == 1
        now[0] = 0.100
        gpio.drive(17, gpio.LOW)
        assert len(levels) == 2
    finally:
        gpio.close()


def test_a_bouncing_drive_makes_a_burst_of_edges(gpio: FakeGpio) -> None:
    gpio.setmode(gpio.BCM)
    gpio.setup(17, gpio.IN, pull_up_down=gpio.PUD_UP)
    edges: list[int] = []
    gpio.add_event_detect(17, gpio.BOTH, callback=edges.append)
    gpio.drive(17, gpio.LOW, bounces=2)
    assert len(edges) == 5
    assert gpio.input(17) == gpio.LOW


def test_a_callback_error_is_raised_by_the_bench_hook(gpio: FakeGpio) -> None:
    gpio.setmode(gpio.BCM)
    gpio.setup(17, gpio.IN)

    def broken(_channel: int) -> None:
        raise ZeroDivisionError

    gpio.add_event_detect(17, gpio.RISING, callback=broken)
    with pytest.raises(ZeroDivisionError):
        gpio.drive(17, gpio.HIGH)


def test_a_stuck_input_ignores_what_drives_it(gpio: FakeGpio) -> None:
    gpio.setmode(gpio.BCM)
    gpio.setup(17, gpio.IN, pull_up_down=gpio.PUD_UP)
    gpio.stick(17, gpio.LOW)
    gpio.drive(17, gpio.HIGH)
    assert gpio.input(17) == gpio.LOW
    gpio.unstick(17)
    assert gpio.input(17) == gpio.HIGH


def test_a_failed_channel_refuses_every_call_until_repaired(gpio: FakeGpio) -> None:
    gpio.setmode(gpio.BCM)
    gpio.setup(17, gpio.IN)
    gpio.fail(17)
    with pytest.raises(RuntimeError):
        gpio.input(17)
    with pytest.raises(RuntimeError, match="Failed to add edge detection"):
        gpio.add_event_detect(17, gpio.BOTH)
    gpio.repair(17)
    assert gpio.input(17) == gpio.LOW


def test_cleanup_returns_channels_to_unconfigured_inputs(gpio: FakeGpio) -> None:
    gpio.setmode(gpio.BCM)
    gpio.setup(18, gpio.OUT, initial=gpio.HIGH)
    gpio.setup(17, gpio.IN)
    gpio.add_event_detect(17, gpio.BOTH)
    gpio.cleanup(18)
    assert not gpio.is_set_up(18)
    assert gpio.is_set_up(17)
    gpio.cleanup()
    assert not gpio.is_set_up(17)
    assert gpio.getmode() is None
    with pytest.warns(RuntimeWarning, match="nothing to clean up"):
        gpio.cleanup()


def test_a_latch_follows_its_coil_at_once_without_an_event_loop(gpio: FakeGpio) -> None:
    latch = gpio.wire_lock(coil=23, feedback=24, feedback_locked_level=gpio.LOW)
    gpio.setmode(gpio.BCM)
    gpio.setup(24, gpio.IN, pull_up_down=gpio.PUD_UP)
    gpio.setup(23, gpio.OUT, initial=gpio.LOW)
    assert latch.locked
    assert gpio.input(24) == gpio.LOW
    gpio.output(23, gpio.HIGH)
    assert latch.energised
    assert not latch.locked
    assert gpio.input(24) == gpio.HIGH
    latch.jam()
    gpio.output(23, gpio.LOW)
    assert not latch.locked, "a jammed latch stays where it is"
    latch.free()
    assert latch.locked


def test_a_latch_moves_after_its_delay_on_the_event_loop(gpio: FakeGpio, run_virtual: Any) -> None:
    latch = gpio.wire_lock(coil=23, feedback=24, delay_s=0.05)
    gpio.setmode(gpio.BCM)
    gpio.setup(24, gpio.IN, pull_up_down=gpio.PUD_UP)
    gpio.setup(23, gpio.OUT, initial=gpio.LOW)

    async def body() -> None:
        gpio.output(23, gpio.HIGH)
        await asyncio.sleep(0.04)
        assert latch.locked
        await asyncio.sleep(0.02)
        assert not latch.locked

    run_virtual(body())


def test_door_and_ups_wiring(gpio: FakeGpio) -> None:
    door = gpio.wire_door(17)
    ups = gpio.wire_ups(27, mains_level=gpio.HIGH)
    gpio.setmode(gpio.BCM)
    gpio.setup(17, gpio.IN, pull_up_down=gpio.PUD_UP)
    gpio.setup(27, gpio.IN, pull_up_down=gpio.PUD_UP)
    assert gpio.input(17) == gpio.LOW
    door.open()
    assert gpio.input(17) == gpio.HIGH
    assert door.is_open
    assert gpio.input(27) == gpio.HIGH
    ups.cut_mains()
    assert gpio.input(27) == gpio.LOW
    assert not ups.mains


def test_bench_hooks_refuse_a_pin_that_is_not_a_gpio(gpio: FakeGpio) -> None:
    with pytest.raises(ValueError, match="not a BCM GPIO"):
        gpio.drive(60, gpio.HIGH)
    with pytest.raises(ValueError, match="bounces"):
        gpio.drive(17, gpio.HIGH, bounces=-1)
