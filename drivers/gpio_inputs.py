"""Contacts on GPIO inputs: a door or lid sensor, and a UPS board's mains-present signal.

The parts: a door or lid reed switch (or microswitch) between a GPIO input and ground, read with
the Pi's internal pull-up; a UPS board's power-fail output (open collector or push-pull) on a
GPIO input. Driven through the RPi.GPIO API (:mod:`drivers.gpio_api`): the library's edge
detection wakes the driver, and the driver debounces on the event loop.

Why not the library's ``bouncetime``: RPi.GPIO drops every edge closer than ``bouncetime`` to the
last one it delivered - including the edge a bouncing contact finally settles on - so a driver
that trusted it would report a stale state. Here an edge only wakes the driver; the state is
what the input reads once no edge has come for ``debounce_s``, and a slow poll (``poll_s``)
catches an edge the library missed. Edge callbacks arrive on the library's thread and hop onto
the loop with ``call_soon_threadsafe``.

Keeps the :class:`agent.hal.parts.DoorSensor` obligations (debounced ``is_open()``; ``watch()``
yields the state at the call, then each debounced change, until the consumer stops; a part that
fails while watched raises from the iterator) and :class:`agent.hal.parts.PowerMonitor`'s for a
device without a battery gauge (:class:`GpioPowerMonitor`). A GPIO call the controller refuses
is :class:`PartNotResponding`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

from agent.hal.errors import PartNotResponding
from agent.hal.parts import PowerStatus
from drivers.gpio_api import GpioApi, refused, use_bcm
from drivers.pins import PinRegistry

__all__ = ["DebouncedInput", "GpioDoorSensor", "GpioPowerMonitor", "MainsInput"]


class DebouncedInput:
    """One GPIO input with a pull, debounced on the event loop; ``True`` when it reads
    ``active_high``'s level. The building block of the parts below."""

    def __init__(
        self,
        name: str,
        *,
        gpio: GpioApi,
        pins: PinRegistry,
        pin: int,
        role: str,
        pull_up: bool,
        active_high: bool,
        debounce_s: float,
        poll_s: float,
    ) -> None:
        if not 0 < debounce_s < poll_s:
            raise ValueError(f"{name}: need 0 < debounce_s < poll_s, got {debounce_s} and {poll_s}")
        pins.claim(name, {role: pin})
        self.name = name
        self._gpio = gpio
        self._pins = pins
        self._pin = pin
        self._active = gpio.HIGH if active_high else gpio.LOW
        self._debounce_s = debounce_s
        self._poll_s = poll_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_edge = float("-inf")
        self._wakeups: set[asyncio.Event] = set()
        try:
            with refused(name, pin):
                use_bcm(gpio)
                gpio.setup(pin, gpio.IN, pull_up_down=gpio.PUD_UP if pull_up else gpio.PUD_DOWN)
        except PartNotResponding:
            pins.release(name)
            raise

    async def read(self) -> bool:
        """The debounced state: once no edge has come for ``debounce_s`` (waiting at most
        ``poll_s`` for a chattering contact), what the input reads."""
        self._detect_edges()
        wakeup = asyncio.Event()
        self._wakeups.add(wakeup)
        try:
            await self._settle(wakeup)
        finally:
            self._wakeups.discard(wakeup)
        return self._sample()

    async def watch(self) -> AsyncGenerator[bool, None]:
        """The state now, then each state the input settles in that differs from the last."""
        loop = asyncio.get_running_loop()
        wakeup = asyncio.Event()
        self._detect_edges()
        self._wakeups.add(wakeup)
        try:
            await self._settle(wakeup)
            reported = self._sample()
            yield reported
            while True:
                if not wakeup.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._poll_s):
                            await wakeup.wait()
                if not wakeup.is_set():
                    if self._sample() == reported:
                        continue
                    self._last_edge = loop.time()  # a change no edge announced: settle it too
                await self._settle(wakeup)
                state = self._sample()
                if state != reported:
                    reported = state
                    yield state
        finally:
            self._wakeups.discard(wakeup)
            if not self._wakeups:
                with contextlib.suppress(PartNotResponding):
                    self._stop_detecting()

    def close(self) -> None:
        """Stop edge detection and give the pin back to the controller and the registry."""
        try:
            self._stop_detecting()
            with refused(self.name, self._pin):
                self._gpio.cleanup(self._pin)
        finally:
            self._pins.release(self.name)

    async def _settle(self, wakeup: asyncio.Event) -> None:
        """Wait until no edge has come for ``debounce_s`` (``wakeup`` is set by each edge), or
        for ``poll_s`` at most. Waits are timeouts, never sums of times compared, so a remainder
        smaller than the clock's resolution cannot spin."""
        await asyncio.sleep(0)  # edges the library already handed to the loop land first
        wakeup.clear()
        quiet_for = self._last_edge + self._debounce_s - asyncio.get_running_loop().time()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._poll_s):
                while quiet_for > 0:
                    wakeup.clear()
                    try:
                        async with asyncio.timeout(quiet_for):
                            await wakeup.wait()
                    except TimeoutError:
                        return
                    quiet_for = self._debounce_s

    def _sample(self) -> bool:
        with refused(self.name, self._pin):
            return self._gpio.input(self._pin) == self._active

    def _detect_edges(self) -> None:
        """Have the library call back on every edge, into the running loop."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._stop_detecting()
        with refused(self.name, self._pin):
            self._gpio.add_event_detect(self._pin, self._gpio.BOTH, callback=self._edge_seen)
        self._loop = loop

    def _stop_detecting(self) -> None:
        if self._loop is None:
            return
        self._loop = None
        with refused(self.name, self._pin):
            self._gpio.remove_event_detect(self._pin)

    def _edge_seen(self, _channel: int) -> None:
        """On the library's thread: wake the loop."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between edge and call
            loop.call_soon_threadsafe(self._on_edge)

    def _on_edge(self) -> None:
        loop = self._loop
        if loop is None:
            return
        self._last_edge = loop.time()
        for wakeup in self._wakeups:
            wakeup.set()


class GpioDoorSensor:
    """A door or lid contact on input ``pin`` with the internal pull-up.

    ``open_high``: the input reads HIGH while the door is open (a switch to ground that is
    closed while the door is shut: the usual wiring, and an unplugged switch reads open).
    ``debounce_s``: how long the contact must be still; ``poll_s``: the safety poll.
    """

    def __init__(
        self,
        name: str,
        *,
        gpio: GpioApi,
        pins: PinRegistry,
        pin: int,
        open_high: bool = True,
        debounce_s: float = 0.05,
        poll_s: float = 1.0,
    ) -> None:
        self.name = name
        self._input = DebouncedInput(
            name,
            gpio=gpio,
            pins=pins,
            pin=pin,
            role="contact",
            pull_up=True,
            active_high=open_high,
            debounce_s=debounce_s,
            poll_s=poll_s,
        )

    async def is_open(self) -> bool:
        return await self._input.read()

    def watch(self) -> AsyncIterator[bool]:
        return self._input.watch()

    def close(self) -> None:
        self._input.close()


class MainsInput:
    """A UPS board's mains-present signal on input ``pin``: ``mains_present()`` and its
    debounced changes, to combine with a battery gauge or to use alone
    (:class:`GpioPowerMonitor`).

    ``present_high``: the input reads HIGH while mains is present (a power-fail output that
    pulls low on failure). ``pull_up``: use the internal pull-up (for an open-collector
    output), else the pull-down. ``debounce_s`` absorbs a flickering supply.
    """

    def __init__(
        self,
        name: str,
        *,
        gpio: GpioApi,
        pins: PinRegistry,
        pin: int,
        present_high: bool = True,
        pull_up: bool = True,
        debounce_s: float = 0.5,
        poll_s: float = 5.0,
    ) -> None:
        self.name = name
        self._input = DebouncedInput(
            name,
            gpio=gpio,
            pins=pins,
            pin=pin,
            role="mains-present",
            pull_up=pull_up,
            active_high=present_high,
            debounce_s=debounce_s,
            poll_s=poll_s,
        )

    async def mains_present(self) -> bool:
        return await self._input.read()

    def watch(self) -> AsyncGenerator[bool, None]:
        """Mains presence now, then each debounced change."""
        return self._input.watch()

    def close(self) -> None:
        self._input.close()


class GpioPowerMonitor:
    """A :class:`agent.hal.parts.PowerMonitor` for a device with a UPS power-fail input and no
    battery gauge: ``on_mains`` from ``mains``, battery fields None."""

    def __init__(self, mains: MainsInput) -> None:
        self.name = mains.name
        self._mains = mains

    async def read(self) -> PowerStatus:
        return _status(await self._mains.mains_present())

    async def watch(self) -> AsyncIterator[PowerStatus]:
        changes = self._mains.watch()
        try:
            async for present in changes:
                yield _status(present)
        finally:
            await changes.aclose()


def _status(on_mains: bool) -> PowerStatus:
    return PowerStatus(on_mains=on_mains, battery_fraction=None, battery_volts=None)
