"""The part of the ``RPi.GPIO`` API the GPIO drivers use, as a typed protocol, and its loader.

The drivers never import ``RPi.GPIO`` themselves: the module refuses to import off a Raspberry Pi
(``RuntimeError: This module can only be run on a Raspberry Pi!``), so it is passed in. On the
device :func:`load_rpi_gpio` imports it (``RPi.GPIO``, or the drop-in ``rpi-lgpio`` on a
Raspberry Pi 5); tests pass :class:`hal_sim.fakes.gpio.FakeGpio`, which keeps the same semantics.

Semantics relied on (RPi.GPIO 0.7, ``source/py_gpio.c``): channels are BCM numbers after
``setmode(BCM)``; ``setmode`` with the mode already set is harmless, with another mode a
``ValueError``; ``input()`` of an output reads back the level it drives; edge callbacks run on
the library's own thread, with the channel as their argument; a call the GPIO controller refuses
raises ``RuntimeError``. :func:`refused` turns that ``RuntimeError`` into the HAL's
:class:`~agent.hal.errors.PartNotResponding`, the one error the HAL lets through for silence.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, cast

from agent.hal.errors import PartNotResponding

__all__ = ["EdgeCallback", "GpioApi", "load_rpi_gpio", "refused", "use_bcm"]

EdgeCallback = Callable[[int], object]
"""An edge callback: called on the library's thread with the channel that saw the edge."""


class GpioApi(Protocol):
    """The subset of the ``RPi.GPIO`` module the drivers call; the module itself satisfies it."""

    HIGH: int
    LOW: int
    BCM: int
    BOARD: int
    IN: int
    OUT: int
    PUD_OFF: int
    PUD_UP: int
    PUD_DOWN: int
    RISING: int
    FALLING: int
    BOTH: int

    def setmode(self, mode: int) -> None: ...

    def setwarnings(self, flag: bool) -> None: ...

    def setup(
        self, channel: int, direction: int, pull_up_down: int = ..., initial: int = ...
    ) -> None: ...

    def input(self, channel: int) -> int: ...

    def output(self, channel: int, value: int) -> None: ...

    def add_event_detect(
        self, channel: int, edge: int, callback: EdgeCallback | None = ..., bouncetime: int = ...
    ) -> None: ...

    def remove_event_detect(self, channel: int) -> None: ...

    def event_detected(self, channel: int) -> bool: ...

    def cleanup(self, channel: int | None = ...) -> None: ...


def load_rpi_gpio() -> GpioApi:
    """Import the real ``RPi.GPIO`` (or rpi-lgpio's module of the same name), in BCM numbering.

    Raises :class:`PartNotResponding` (part ``"gpio"``) when it cannot be loaded: not installed,
    or not running on a Raspberry Pi.
    """
    try:
        module = importlib.import_module("RPi.GPIO")
    except (ImportError, RuntimeError) as error:
        raise PartNotResponding("gpio", f"RPi.GPIO cannot be loaded: {error}") from error
    gpio = cast(GpioApi, module)
    with refused("gpio", None):
        use_bcm(gpio)
    return gpio


def use_bcm(gpio: GpioApi) -> None:
    """Select BCM numbering (every driver names pins by their BCM number) and silence the
    library's "channel already in use" warning, which a restart after a crash triggers; a
    double claim inside one agent is caught by :class:`drivers.pins.PinRegistry` instead."""
    gpio.setmode(gpio.BCM)
    gpio.setwarnings(False)


@contextmanager
def refused(part: str, pin: int | None) -> Iterator[None]:
    """Report a GPIO call the controller refused (``RuntimeError``) as the part not answering."""
    try:
        yield
    except RuntimeError as error:
        where = "GPIO" if pin is None else f"GPIO{pin}"
        raise PartNotResponding(part, f"{where}: {error}") from error
