"""Kinds of values found in scenario files, beyond those the profile format already has.

They plug into the declarative checking of :mod:`agent.config.fields`, so a scenario reports
problems in the same words and form as a device profile. Kinds that depend on the device
(slot numbers, probe and door names) are built from what the profile says; when the profile
itself could not be loaded they accept anything plausible, so the scenario's own problems are
still all reported.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from agent.config.kinds import INVALID, ScalarKind
from agent.duration import parse_duration
from agent.events import EventType

__all__ = [
    "Bounds",
    "Duration",
    "HexBytes",
    "Moment",
    "Named",
    "RecordedEventType",
    "SlotNumber",
    "Where",
]


@dataclass(frozen=True)
class Duration(ScalarKind):
    """Simulated time: a duration string (``90s``, ``15m``, ``2h``, ``1h30m``, ``7d``) or a
    number of seconds; returned in seconds."""

    expected: str = 'a duration such as "30s", "15m", "2h" or "1d", or a number of seconds >= 0'

    def accept(self, raw: object) -> object:
        if isinstance(raw, bool):
            return INVALID
        if isinstance(raw, int | float):
            return float(raw) if raw >= 0 else INVALID
        if not isinstance(raw, str):
            return INVALID
        try:
            return parse_duration(raw)
        except ValueError:
            return INVALID


@dataclass(frozen=True)
class Moment(ScalarKind):
    """A moment in UTC: a TOML date-time with an offset, an ISO 8601 string with a time zone,
    or a duration after ``epoch`` (the simulation's start)."""

    epoch: dt.datetime
    expected: str = (
        'a date-time with a time zone (2026-02-01T00:00:00Z) or a duration after the start ("35d")'
    )

    def accept(self, raw: object) -> object:
        if isinstance(raw, dt.datetime):
            return raw if raw.tzinfo is not None else INVALID
        if not isinstance(raw, str):
            return INVALID
        try:
            return self.epoch + dt.timedelta(seconds=parse_duration(raw))
        except ValueError:
            pass
        try:
            moment = dt.datetime.fromisoformat(raw)
        except ValueError:
            return INVALID
        return moment if moment.tzinfo is not None else INVALID


@dataclass(frozen=True)
class Named(ScalarKind):
    """The name of one of ``names`` (a probe, a door); any non-empty string if ``names`` is
    unknown."""

    what: str
    names: tuple[str, ...] | None

    @property
    def expected(self) -> str:  # type: ignore[override]
        if self.names is None:
            return f"a {self.what} name"
        if not self.names:
            return f"a {self.what} name (this device has none)"
        return f"a {self.what} name: " + ", ".join(f'"{name}"' for name in self.names)

    def accept(self, raw: object) -> object:
        if not isinstance(raw, str) or not raw:
            return INVALID
        return raw if self.names is None or raw in self.names else INVALID


@dataclass(frozen=True)
class SlotNumber(ScalarKind):
    """A slot number from 1 to ``slots`` (any positive integer if ``slots`` is unknown)."""

    slots: int | None

    @property
    def expected(self) -> str:  # type: ignore[override]
        if self.slots is None:
            return "a slot number >= 1"
        if self.slots == 0:
            return "no slot (this device has no slots)"
        return f"a slot number from 1 to {self.slots}"

    def accept(self, raw: object) -> object:
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            return INVALID
        return raw if self.slots is None or raw <= self.slots else INVALID


@dataclass(frozen=True)
class HexBytes(ScalarKind):
    """Bytes written in hexadecimal (``"ff00 1b"``; spaces are ignored); returned as the
    same hexadecimal, normalised (``"ff001b"``)."""

    expected: str = 'bytes in hexadecimal, such as "ff001b"'

    def accept(self, raw: object) -> object:
        if not isinstance(raw, str):
            return INVALID
        try:
            value = bytes.fromhex(raw)
        except ValueError:
            return INVALID
        return value.hex() if value else INVALID


@dataclass(frozen=True)
class Bounds(ScalarKind):
    """Two numbers ``[low, high]`` with ``low <= high``, as a tuple of floats."""

    expected: str = "two numbers [low, high] with low <= high"

    def accept(self, raw: object) -> object:
        if not isinstance(raw, list) or len(raw) != 2:
            return INVALID
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in raw):
            return INVALID
        low, high = float(raw[0]), float(raw[1])
        return (low, high) if low <= high else INVALID


@dataclass(frozen=True)
class Where(ScalarKind):
    """A table of event payload fields and the values they must have: strings, numbers,
    booleans, or arrays of strings. Which fields exist is checked against the event type
    separately."""

    expected: str = (
        'a table of payload fields and values, such as { open = true } or { probe = "air" }'
    )

    def accept(self, raw: object) -> object:
        if not isinstance(raw, dict) or not raw:
            return INVALID
        for value in raw.values():
            if isinstance(value, list):
                if not all(isinstance(item, str) for item in value):
                    return INVALID
            elif not isinstance(value, str | int | float | bool):
                return INVALID
        return {key: tuple(v) if isinstance(v, list) else v for key, v in raw.items()}


@dataclass(frozen=True)
class RecordedEventType(ScalarKind):
    """The name of an event type the recorder keeps: any but ``temperature_sample`` (whose
    readings the ``temperature`` expectation checks)."""

    @property
    def expected(self) -> str:  # type: ignore[override]
        names = ", ".join(f'"{kind.value}"' for kind in EventType if kind is not _SAMPLE)
        return f'one of {names} (for temperatures use expect = "temperature")'

    def accept(self, raw: object) -> object:
        if not isinstance(raw, str) or raw == _SAMPLE.value:
            return INVALID
        try:
            return EventType(raw)
        except ValueError:
            return INVALID


_SAMPLE = EventType.TEMPERATURE_SAMPLE
