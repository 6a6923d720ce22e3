"""Simulated parts: one class per HAL protocol, with the faults a bench can inject.

Each part reads and changes the simulated world only through the state it is given (a
:class:`~hal_sim.signal.Signal`, a callable reading the physics); the world itself - slots,
units, doors, physics - lives in :mod:`hal_sim.world`. Every part can be unplugged
(``connected = False``), after which each call raises
:class:`~agent.hal.errors.PartNotResponding` until it is plugged back in.
"""

from __future__ import annotations

import asyncio
import enum
import math
import random
from collections.abc import AsyncIterator, Callable

from agent.hal.errors import LockJammed, PartNotResponding, ReadFailed
from agent.hal.parts import (
    BadgeRead,
    BarcodeRead,
    GarbledInput,
    IndicatorState,
    LightColour,
    PowerStatus,
)
from hal_sim.signal import Signal

__all__ = [
    "ProbeFaultMode",
    "SimBadgeReader",
    "SimBarcodeScanner",
    "SimDoorSensor",
    "SimIndicator",
    "SimLock",
    "SimPart",
    "SimPowerMonitor",
    "SimPresenceSensor",
    "SimProbe",
    "SimRfidReader",
    "SimSlotLight",
]


class SimPart:
    """What every simulated part shares: a name and a plug that a bench can pull."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.connected = True

    def _answer(self) -> None:
        """Raise as a silent part does, if unplugged."""
        if not self.connected:
            raise PartNotResponding(self.name, "no answer (simulated disconnection)")


class SimLock(SimPart):
    """A fail-secure solenoid lock with latch feedback.

    ``jammed`` makes ``release()`` fail as a jammed latch does: the solenoid is driven, the
    feedback still reads locked. A released lock engages itself after ``max_release_s``.
    """

    def __init__(self, name: str, *, max_release_s: float) -> None:
        super().__init__(name)
        self.max_release_s = max_release_s
        self.jammed = False
        self.locked = Signal(True)
        self._auto_engage: asyncio.TimerHandle | None = None

    async def release(self) -> None:
        self._answer()
        if self.jammed:
            raise LockJammed(self.name, "driven open, feedback still reads locked")
        self._cancel_auto_engage()
        self.locked.set(False)
        loop = asyncio.get_running_loop()
        self._auto_engage = loop.call_later(self.max_release_s, self.locked.set, True)

    async def engage(self) -> None:
        self._answer()
        self._cancel_auto_engage()
        self.locked.set(True)

    async def is_locked(self) -> bool:
        self._answer()
        return self.locked.value

    def _cancel_auto_engage(self) -> None:
        if self._auto_engage is not None:
            self._auto_engage.cancel()
            self._auto_engage = None


class _SimBinaryInput(SimPart):
    """A debounced binary input that reads a world signal, unless stuck by a fault."""

    def __init__(self, name: str, source: Signal[bool]) -> None:
        super().__init__(name)
        self._source = source
        self._stuck_at: bool | None = None
        self._reported = Signal(source.value)

    @property
    def stuck_at(self) -> bool | None:
        return self._stuck_at

    @stuck_at.setter
    def stuck_at(self, value: bool | None) -> None:
        """Stick the input at a value (``None`` frees it)."""
        self._stuck_at = value
        self.refresh()

    def refresh(self) -> None:
        """Re-read the world; called by the world whenever the source changes."""
        self._reported.set(self._source.value if self._stuck_at is None else self._stuck_at)

    async def _read(self) -> bool:
        self._answer()
        return self._reported.value

    async def watch(self) -> AsyncIterator[bool]:
        self._answer()
        async for value in self._reported.watch():
            self._answer()
            yield value


class SimPresenceSensor(_SimBinaryInput):
    """A slot presence sensor; ``stuck_at`` injects a stuck sensor."""

    def __init__(self, name: str, slot: int, source: Signal[bool]) -> None:
        super().__init__(name, source)
        self.slot = slot

    async def read(self) -> bool:
        return await self._read()


class SimDoorSensor(_SimBinaryInput):
    """A door or lid contact; ``stuck_at`` injects a stuck contact."""

    async def is_open(self) -> bool:
        return await self._read()


class SimSlotLight(SimPart):
    """A slot light; remembers its colour for the live view and for tests."""

    def __init__(self, name: str, slot: int) -> None:
        super().__init__(name)
        self.slot = slot
        self.shown = LightColour.OFF

    async def set(self, colour: LightColour) -> None:
        self._answer()
        self.shown = colour

    async def colour(self) -> LightColour:
        self._answer()
        return self.shown


class SimRfidReader(SimPart):
    """An RFID reader over the world's units; ``miss_rate`` (0-1) drops each tag from an
    inventory, and fails each tag memory read, with that probability, as RF reads do."""

    def __init__(
        self,
        name: str,
        antennas: tuple[str, ...],
        tags_at: Callable[[str], frozenset[str]],
        memory_of: Callable[[str], bytes],
        rng: random.Random,
    ) -> None:
        super().__init__(name)
        self.antennas = antennas
        self.miss_rate = 0.0
        self._tags_at = tags_at
        self._memory_of = memory_of
        self._rng = rng
        self._known = frozenset(antennas)

    def _check(self, antenna: str) -> None:
        if antenna not in self._known:
            raise ValueError(f"{self.name} has no antenna {antenna!r}")
        self._answer()

    async def inventory(self, antenna: str) -> frozenset[str]:
        self._check(antenna)
        tags = self._tags_at(antenna)
        if self.miss_rate <= 0:
            return tags
        return frozenset(tag for tag in tags if self._rng.random() >= self.miss_rate)

    async def read_tag_data(self, antenna: str, uid: str) -> bytes:
        self._check(antenna)
        if uid not in self._tags_at(antenna) or (
            self.miss_rate > 0 and self._rng.random() < self.miss_rate
        ):
            raise ReadFailed(self.name, f"tag {uid} does not answer on antenna {antenna}")
        return self._memory_of(uid)


class _SimInputStream(SimPart):
    """A reader that delivers what a bench hands it, in order."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._queue: asyncio.Queue[BarcodeRead | BadgeRead | GarbledInput] = asyncio.Queue()

    def feed_garbage(self, raw: bytes, reason: str = "unframed bytes") -> None:
        """Bench hook: the reader delivers bytes it cannot decode."""
        self._queue.put_nowait(GarbledInput(reason=reason, raw=raw))


class SimBarcodeScanner(_SimInputStream):
    """A barcode scanner; :meth:`scan` is the bench hook."""

    def scan(self, data: str, symbology: str | None = None) -> None:
        self._queue.put_nowait(BarcodeRead(data=data, symbology=symbology))

    async def reads(self) -> AsyncIterator[BarcodeRead | GarbledInput]:
        while True:
            self._answer()
            item = await self._queue.get()
            if isinstance(item, BadgeRead):
                raise TypeError("a badge was queued on a barcode scanner")
            yield item


class SimBadgeReader(_SimInputStream):
    """A badge reader; :meth:`present` is the bench hook."""

    def present(self, uid: str) -> None:
        self._queue.put_nowait(BadgeRead(uid=uid.upper()))

    async def reads(self) -> AsyncIterator[BadgeRead | GarbledInput]:
        while True:
            self._answer()
            item = await self._queue.get()
            if isinstance(item, BarcodeRead):
                raise TypeError("a barcode was queued on a badge reader")
            yield item


class ProbeFaultMode(enum.StrEnum):
    """How a simulated probe misbehaves."""

    NONE = "none"
    DISCONNECTED = "disconnected"
    GARBAGE = "garbage"
    CRC_ERROR = "crc_error"


_GARBAGE_VALUES = (85.0, -127.0, math.nan, 4095.9375, -273.5)
"""What broken probes really say: the DS18B20 power-on value, the "no device" value of many
libraries, NaN from a failed conversion, a 12-bit all-ones register, below absolute zero."""


class SimProbe(SimPart):
    """A temperature probe reading the physics through ``sense`` plus Gaussian noise."""

    def __init__(
        self, name: str, sense: Callable[[], float], *, noise_c: float, rng: random.Random
    ) -> None:
        super().__init__(name)
        self.fault = ProbeFaultMode.NONE
        self._sense = sense
        self._noise_c = noise_c
        self._rng = rng

    async def read(self) -> float:
        self._answer()
        fault = self.fault
        if fault is ProbeFaultMode.NONE:
            return round(self._sense() + self._rng.gauss(0.0, self._noise_c), 3)
        if fault is ProbeFaultMode.DISCONNECTED:
            raise PartNotResponding(self.name, "no presence pulse (simulated open circuit)")
        if fault is ProbeFaultMode.CRC_ERROR:
            raise ReadFailed(self.name, "scratchpad CRC mismatch (simulated)")
        return self._rng.choice(_GARBAGE_VALUES)


class SimPowerMonitor(SimPart):
    """A UPS / battery monitor reading the world's power signal."""

    def __init__(self, name: str, status: Signal[PowerStatus]) -> None:
        super().__init__(name)
        self._status = status

    async def read(self) -> PowerStatus:
        self._answer()
        return self._status.value

    async def watch(self) -> AsyncIterator[PowerStatus]:
        self._answer()
        async for status in self._status.watch():
            self._answer()
            yield status


class SimIndicator(SimPart):
    """The buzzer and status light; remembers what it shows."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.shown = IndicatorState.QUIET

    async def show(self, state: IndicatorState) -> None:
        self._answer()
        self.shown = state

    async def state(self) -> IndicatorState:
        self._answer()
        return self.shown
