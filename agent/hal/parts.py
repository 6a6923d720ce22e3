"""The parts of a cabinet, fridge or transport box, as typed protocols.

Each protocol lists what an implementation *must* do. Implementations are backends: a real
driver in :mod:`drivers` or a simulated part in :mod:`hal_sim`, chosen by the device profile.
The same conformance suite (``tests/hal_conformance``) runs against every backend.

Rules common to every part:

* Methods that talk to hardware are coroutines and must not block the event loop for more than
  a bus transaction (a few milliseconds); longer work goes to a thread.
* A part that does not answer raises :class:`~agent.hal.errors.PartNotResponding`; a part whose
  answer is unusable raises :class:`~agent.hal.errors.ReadFailed`. Nothing else escapes a
  method, and a failed call leaves the part usable: the next call tries again.
* ``watch()`` iterators yield the new state once per debounced change, starting with the state
  at the time of the call, and end only when the consumer stops iterating. A part that fails
  while watched raises from the iterator; the caller may call ``watch()`` again.
* ``name`` is the part's name in the profile; errors carry it.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "BadgeRead",
    "BadgeReader",
    "BarcodeRead",
    "BarcodeScanner",
    "DoorSensor",
    "GarbledInput",
    "Indicator",
    "IndicatorState",
    "LightColour",
    "Lock",
    "PowerMonitor",
    "PowerStatus",
    "PresenceSensor",
    "RfidReader",
    "SlotLight",
    "TemperatureProbe",
]


class Lock(Protocol):
    """A solenoid lock: a slot's lock, a fridge door's lock, a transport box's lid lock.

    Must:

    * ``release()`` energise the lock so the slot, door or lid can be opened, and return once
      the latch has moved; raise :class:`LockJammed` if the lock's feedback says it did not;
    * ``engage()`` de-energise it; a fail-secure lock is locked without power, so ``engage()``
      must succeed whenever the part answers;
    * limit how long the solenoid stays energised (solenoids burn out): a released lock engages
      itself after at most ``max_release_s`` seconds, whatever the caller does;
    * ``is_locked()`` report the latch as its feedback reads it, not as last commanded.
    """

    name: str
    max_release_s: float

    async def release(self) -> None: ...

    async def engage(self) -> None: ...

    async def is_locked(self) -> bool: ...


class PresenceSensor(Protocol):
    """A slot's presence sensor: is a blood bag in the slot?

    Must report ``True`` while a unit is in the slot; debounce the raw input so that one
    insertion or removal is one change.
    """

    name: str
    slot: int

    async def read(self) -> bool: ...

    def watch(self) -> AsyncIterator[bool]: ...


class DoorSensor(Protocol):
    """A door or lid contact: ``True`` while the door (or lid) is open. Debounced."""

    name: str

    async def is_open(self) -> bool: ...

    def watch(self) -> AsyncIterator[bool]: ...


class LightColour(enum.StrEnum):
    """What a slot light can show."""

    OFF = "off"
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


class SlotLight(Protocol):
    """The light of one slot, telling the person at the cabinet which slot to open.

    Must show ``colour`` after ``set(colour)`` returns; ``colour()`` reports the last colour
    the part confirmed.
    """

    name: str
    slot: int

    async def set(self, colour: LightColour) -> None: ...

    async def colour(self) -> LightColour: ...


class RfidReader(Protocol):
    """An RFID reader with one or more antennas (one per slot in a cabinet, a few covering a
    fridge or a box).

    Must return from ``inventory(antenna)`` the UIDs of the tags that antenna reads now, as
    upper-case hexadecimal strings. A read may miss a tag (RF is like that): callers decide how
    many inventories to trust. An antenna name not in ``antennas`` is a ``ValueError``.

    Must return from ``read_tag_data(antenna, uid)`` the user memory of tag ``uid`` as that
    antenna reads it (what :mod:`agent.hal.tag_data` decodes), and raise :class:`ReadFailed`
    when the tag does not answer there.
    """

    name: str
    antennas: tuple[str, ...]

    async def inventory(self, antenna: str) -> frozenset[str]: ...

    async def read_tag_data(self, antenna: str, uid: str) -> bytes: ...


@dataclass(frozen=True, slots=True)
class BarcodeRead:
    """One barcode as the scanner delivered it, framing removed."""

    data: str
    symbology: str | None = None


@dataclass(frozen=True, slots=True)
class GarbledInput:
    """Input a reader delivered that could not be decoded; ``raw`` is kept for the record."""

    reason: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class BadgeRead:
    """One badge presented to the badge reader: its UID in upper-case hexadecimal."""

    uid: str


class BarcodeScanner(Protocol):
    """A barcode scanner, delivering scans as a stream.

    ``reads()`` must yield each scan once, in order, and yield :class:`GarbledInput` for input it
    could not frame or decode instead of raising, so that bad input becomes an event and the
    stream carries on (invariant 8). It raises :class:`PartNotResponding` if the scanner is gone.
    """

    name: str

    def reads(self) -> AsyncIterator[BarcodeRead | GarbledInput]: ...


class BadgeReader(Protocol):
    """A badge (staff card) reader, delivering badges as a stream; same rules as
    :class:`BarcodeScanner`."""

    name: str

    def reads(self) -> AsyncIterator[BadgeRead | GarbledInput]: ...


class TemperatureProbe(Protocol):
    """A temperature probe: an air probe or a product-simulant probe.

    ``read()`` must return degrees Celsius from a fresh conversion, or raise. Values the part
    itself marks as invalid (a DS18B20's 85 °C power-on value, a failed CRC) are
    :class:`ReadFailed`; a number that is merely implausible for the device is returned and the
    caller judges it against the profile's plausible range.
    """

    name: str

    async def read(self) -> float: ...


@dataclass(frozen=True, slots=True)
class PowerStatus:
    """Mains and battery state as a power monitor reads it.

    ``battery_fraction`` is the estimated state of charge, 0.0-1.0, or None on a device
    without a battery.
    """

    on_mains: bool
    battery_fraction: float | None
    battery_volts: float | None


class PowerMonitor(Protocol):
    """Mains presence and battery state (a UPS board, a transport box's battery gauge).

    ``watch()`` must yield a new status when mains is lost or restored, and when the battery
    fraction moves by at least one percentage point.
    """

    name: str

    async def read(self) -> PowerStatus: ...

    def watch(self) -> AsyncIterator[PowerStatus]: ...


class IndicatorState(enum.StrEnum):
    """What the buzzer and the status light tell the people around the device."""

    QUIET = "quiet"
    ATTENTION = "attention"
    ALARM = "alarm"


class Indicator(Protocol):
    """The buzzer and status light: quiet, attention (a chirp, amber) or alarm (continuous
    tone, red) until told otherwise. ``state()`` reports what it is showing."""

    name: str

    async def show(self, state: IndicatorState) -> None: ...

    async def state(self) -> IndicatorState: ...
