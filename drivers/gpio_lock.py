"""A solenoid lock on GPIO: a slot's, a fridge door's or a transport box's lid lock.

The part: a fail-secure solenoid latch (locked without power) switched by a transistor or
relay on one GPIO output (active-high or active-low), with an optional feedback switch on a
GPIO input (pull-up) that reads the latch's real position. Driven through the RPi.GPIO API
(:mod:`drivers.gpio_api`).

Keeps the :class:`agent.hal.parts.Lock` obligations: ``release()`` returns once the feedback
shows the latch open, else de-energises and raises :class:`LockJammed`; the coil is energised
for at most ``max_release_s`` from the moment it was energised, however often ``release()`` is
called in between (a timer on the event loop engages it, and a cancelled ``release()``
de-energises at once); ``is_locked()`` reads the feedback switch, not the last command (without
a feedback switch it can only read back the coil output, and jams go unseen: say so in the
profile). A GPIO call the controller refuses is :class:`PartNotResponding`.
"""

from __future__ import annotations

import asyncio
import logging

from agent.hal.errors import LockJammed, PartNotResponding
from drivers.gpio_api import GpioApi, refused, use_bcm
from drivers.pins import PinRegistry

__all__ = ["GpioLock"]

_log = logging.getLogger(__name__)


class GpioLock:
    """A solenoid lock on output ``coil_pin``, with feedback on input ``feedback_pin``.

    ``coil_active_high``: the coil is energised by a HIGH output (False: by LOW).
    ``feedback_high_when_locked``: the feedback switch reads HIGH while the latch is locked
    (a switch to ground that opens when the bolt is in, with the pull-up); False for the other.
    ``confirm_s``: how long the latch may take to move; ``poll_s``: how often the feedback is
    read meanwhile. Pins are claimed in ``pins`` and set up at once (the coil de-energised).
    """

    def __init__(
        self,
        name: str,
        *,
        gpio: GpioApi,
        pins: PinRegistry,
        coil_pin: int,
        feedback_pin: int | None = None,
        coil_active_high: bool = True,
        feedback_high_when_locked: bool = True,
        max_release_s: float = 5.0,
        confirm_s: float = 0.5,
        poll_s: float = 0.01,
    ) -> None:
        if not 0 < confirm_s < max_release_s:
            raise ValueError(
                f"{name}: need 0 < confirm_s < max_release_s, got {confirm_s} and {max_release_s}"
            )
        if poll_s <= 0:
            raise ValueError(f"{name}: poll_s must be > 0, got {poll_s}")
        roles = {"coil": coil_pin}
        if feedback_pin is not None:
            roles["feedback"] = feedback_pin
        pins.claim(name, roles)
        self.name = name
        self.max_release_s = max_release_s
        self._gpio = gpio
        self._pins = pins
        self._coil = coil_pin
        self._feedback = feedback_pin
        self._on = gpio.HIGH if coil_active_high else gpio.LOW
        self._off = gpio.LOW if coil_active_high else gpio.HIGH
        self._locked_level = gpio.HIGH if feedback_high_when_locked else gpio.LOW
        self._confirm_s = confirm_s
        self._poll_s = poll_s
        self._auto_engage: asyncio.TimerHandle | None = None
        try:
            with refused(name, coil_pin):
                use_bcm(gpio)
                gpio.setup(coil_pin, gpio.OUT, initial=self._off)
            if feedback_pin is not None:
                with refused(name, feedback_pin):
                    gpio.setup(feedback_pin, gpio.IN, pull_up_down=gpio.PUD_UP)
        except PartNotResponding:
            pins.release(name)
            raise

    async def release(self) -> None:
        """Energise the coil and wait for the feedback to show the latch open."""
        if self._auto_engage is None:
            self._energise()
            loop = asyncio.get_running_loop()
            self._auto_engage = loop.call_later(self.max_release_s, self._engage_on_timer)
        try:
            if await self._wait_for(locked=False):
                return
        except BaseException:
            self._de_energise()
            raise
        self._de_energise()
        raise LockJammed(
            self.name, f"coil energised, feedback still reads locked after {self._confirm_s} s"
        )

    async def engage(self) -> None:
        """De-energise the coil; wait (up to ``confirm_s``) for the latch to close, without
        failing if it does not (a fail-secure lock is engaged once unpowered)."""
        self._de_energise()
        await self._wait_for(locked=True)

    async def is_locked(self) -> bool:
        """The latch as the feedback switch reads it (the coil's output without one)."""
        return self._read_locked()

    def close(self) -> None:
        """De-energise, give the pins back to the controller and to the registry."""
        try:
            self._de_energise()
            for pin in (self._coil, self._feedback):
                if pin is not None:
                    with refused(self.name, pin):
                        self._gpio.cleanup(pin)
        finally:
            self._pins.release(self.name)

    def _energise(self) -> None:
        with refused(self.name, self._coil):
            self._gpio.output(self._coil, self._on)

    def _de_energise(self) -> None:
        if self._auto_engage is not None:
            self._auto_engage.cancel()
            self._auto_engage = None
        with refused(self.name, self._coil):
            self._gpio.output(self._coil, self._off)

    def _engage_on_timer(self) -> None:
        self._auto_engage = None
        try:
            self._de_energise()
        except PartNotResponding:
            _log.exception(
                "%s: could not de-energise the coil after %s s", self.name, self.max_release_s
            )

    def _read_locked(self) -> bool:
        if self._feedback is None:
            with refused(self.name, self._coil):
                return self._gpio.input(self._coil) == self._off
        with refused(self.name, self._feedback):
            return self._gpio.input(self._feedback) == self._locked_level

    async def _wait_for(self, *, locked: bool) -> bool:
        """Poll the latch until it reads ``locked``; False if it has not within ``confirm_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._confirm_s
        while self._read_locked() != locked:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(self._poll_s)
        return True
