"""An interrupt line on a GPIO input: chips' INT outputs (open drain, active low, sharing one
pull-up) waking the drivers that poll those chips.

The part: the mirrored, open-drain INTA/INTB outputs of the MCP23017s on one I2C bus, tied
together to one BCM pin with the Pi's internal pull-up (:mod:`drivers.mcp23017` configures
IOCON.MIRROR and IOCON.ODR for exactly this). A chip pulls the line low when one of its
interrupt-on-change inputs moves, and releases it once its GPIO or INTCAP is read.

Each consumer (a presence sensor) takes its own :meth:`InterruptLine.waiter`: a coroutine
function that returns once a falling edge has come since it last returned, so an edge that
arrives while the consumer is busy elsewhere (between two ``watch()`` items) is kept for it,
not lost. Waiters wait for edges, never for a level: a line held low by a chip nobody reads
would otherwise wake them in a busy loop. An edge that comes while a chip already holds the
line low is not seen; consumers bound each wait with a timeout (the presence sensors'
``idle_poll_s``), so a lost edge costs latency, never a change. Edge detection starts when the
line is built on a running event loop (else at the first wait); edge callbacks hop from the
RPi.GPIO library's thread onto the loop. A GPIO call the controller refuses is
:class:`~agent.hal.errors.PartNotResponding`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from drivers.gpio_api import GpioApi, refused, use_bcm
from drivers.pins import PinRegistry

__all__ = ["InterruptLine"]


class InterruptLine:
    """The active-low interrupt line on input ``pin``, named ``name`` in errors."""

    def __init__(self, name: str, *, gpio: GpioApi, pins: PinRegistry, pin: int) -> None:
        pins.claim(name, {"interrupt": pin})
        self.name = name
        self._gpio = gpio
        self._pins = pins
        self._pin = pin
        self._loop: asyncio.AbstractEventLoop | None = None
        self._edges: list[asyncio.Event] = []
        with refused(name, pin):
            use_bcm(gpio)
            gpio.setup(pin, gpio.IN, pull_up_down=gpio.PUD_UP)
        with contextlib.suppress(RuntimeError):  # no running loop: detect at the first wait
            self._detect(asyncio.get_running_loop())

    def waiter(self) -> Callable[[], Awaitable[None]]:
        """A wait of one consumer's own: returns once an edge came since it last returned."""
        edge = asyncio.Event()
        self._edges.append(edge)

        async def wait() -> None:
            self._detect(asyncio.get_running_loop())
            await edge.wait()
            edge.clear()

        return wait

    def close(self) -> None:
        """Stop edge detection and give the pin back to the controller and the registry."""
        try:
            self._stop_detecting()
            with refused(self.name, self._pin):
                self._gpio.cleanup(self._pin)
        finally:
            self._pins.release(self.name)

    def _detect(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is loop:
            return
        self._stop_detecting()
        with refused(self.name, self._pin):
            self._gpio.add_event_detect(self._pin, self._gpio.FALLING, callback=self._edge)
        self._loop = loop

    def _stop_detecting(self) -> None:
        if self._loop is None:
            return
        self._loop = None
        with refused(self.name, self._pin):
            self._gpio.remove_event_detect(self._pin)

    def _edge(self, _channel: int) -> None:
        """On the library's thread: wake the loop."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed between edge and call
                loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        for edge in self._edges:
            edge.set()
