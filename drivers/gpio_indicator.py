"""The buzzer and status light on GPIO outputs.

The part, as wired: an active buzzer (it sounds while its input is driven; no PWM needed) and a
red and an amber LED (or a stack light's red and amber lamps through a driver transistor), each
on one GPIO output, all active-high or all active-low. Driven through the RPi.GPIO API
(:mod:`drivers.gpio_api`).

What it shows (:class:`agent.hal.parts.Indicator`): QUIET - everything off; ATTENTION - amber
on, the buzzer chirping (``chirp_s`` of tone every ``chirp_every_s``, from a task on the event
loop); ALARM - red on, the buzzer continuous. ``state()`` reads back the lamp outputs, so it
reports what the outputs carry, not what was last asked. A GPIO call the controller refuses is
:class:`PartNotResponding`; if the chirp task meets one it stops, and the next ``show()`` or
``state()`` reports it.
"""

from __future__ import annotations

import asyncio
import logging

from agent.hal.errors import PartNotResponding
from agent.hal.parts import IndicatorState
from drivers.gpio_api import GpioApi, refused, use_bcm
from drivers.pins import PinRegistry

__all__ = ["GpioIndicator"]

_log = logging.getLogger(__name__)


class GpioIndicator:
    """Buzzer on ``buzzer_pin``, red lamp on ``red_pin``, amber lamp on ``amber_pin``.

    ``active_high``: the outputs are on when HIGH (False: when LOW). The pins are claimed in
    ``pins`` and set up off at once.
    """

    def __init__(
        self,
        name: str,
        *,
        gpio: GpioApi,
        pins: PinRegistry,
        buzzer_pin: int,
        red_pin: int,
        amber_pin: int,
        active_high: bool = True,
        chirp_s: float = 0.1,
        chirp_every_s: float = 2.0,
    ) -> None:
        if not 0 < chirp_s < chirp_every_s:
            raise ValueError(
                f"{name}: need 0 < chirp_s < chirp_every_s, got {chirp_s} and {chirp_every_s}"
            )
        pins.claim(name, {"buzzer": buzzer_pin, "red": red_pin, "amber": amber_pin})
        self.name = name
        self._gpio = gpio
        self._pins = pins
        self._buzzer = buzzer_pin
        self._red = red_pin
        self._amber = amber_pin
        self._on = gpio.HIGH if active_high else gpio.LOW
        self._off = gpio.LOW if active_high else gpio.HIGH
        self._chirp_s = chirp_s
        self._chirp_every_s = chirp_every_s
        self._chirping: asyncio.Task[None] | None = None
        try:
            with refused(name, None):
                use_bcm(gpio)
            for pin in (buzzer_pin, red_pin, amber_pin):
                with refused(name, pin):
                    gpio.setup(pin, gpio.OUT, initial=self._off)
        except PartNotResponding:
            pins.release(name)
            raise

    async def show(self, state: IndicatorState) -> None:
        """Show ``state`` until told otherwise."""
        self._stop_chirping()
        self._set(self._red, on=state is IndicatorState.ALARM)
        self._set(self._amber, on=state is IndicatorState.ATTENTION)
        self._set(self._buzzer, on=state is IndicatorState.ALARM)
        if state is IndicatorState.ATTENTION:
            self._chirping = asyncio.get_running_loop().create_task(
                self._chirp(), name=f"{self.name} chirp"
            )

    async def state(self) -> IndicatorState:
        """What the lamp outputs show now."""
        if self._is_on(self._red):
            return IndicatorState.ALARM
        if self._is_on(self._amber):
            return IndicatorState.ATTENTION
        return IndicatorState.QUIET

    def close(self) -> None:
        """Switch everything off, give the pins back to the controller and the registry."""
        self._stop_chirping()
        try:
            for pin in (self._buzzer, self._red, self._amber):
                self._set(pin, on=False)
                with refused(self.name, pin):
                    self._gpio.cleanup(pin)
        finally:
            self._pins.release(self.name)

    async def _chirp(self) -> None:
        try:
            while True:
                self._set(self._buzzer, on=True)
                await asyncio.sleep(self._chirp_s)
                self._set(self._buzzer, on=False)
                await asyncio.sleep(self._chirp_every_s - self._chirp_s)
        except PartNotResponding:
            _log.exception("%s: the buzzer stopped answering; chirping stopped", self.name)

    def _stop_chirping(self) -> None:
        if self._chirping is not None:
            self._chirping.cancel()
            self._chirping = None

    def _set(self, pin: int, *, on: bool) -> None:
        with refused(self.name, pin):
            self._gpio.output(pin, self._on if on else self._off)

    def _is_on(self, pin: int) -> bool:
        with refused(self.name, pin):
            return self._gpio.input(pin) == self._on
