"""Kinds of values in a profile, and how problems with them are reported.

A :class:`Kind` converts one raw TOML value (a string, a number, an array...) into what the
schema wants, or reports a problem saying what it expects in words a hospital engineer
understands ("a number of seconds > 0", "one of "cabinet", "fridge", "transport"");
:func:`render` shows what was found the way it is written in the file. Problems go into a
:class:`Context`, never raised, so that checking carries on and one run reports everything.
"""

from __future__ import annotations

import abc
import datetime as dt
import enum
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from agent.config.errors import Problem

__all__ = [
    "ABSENT",
    "INVALID",
    "NOTHING",
    "OPTIONAL",
    "REQUIRED",
    "Choice",
    "Context",
    "Flag",
    "Kind",
    "NameList",
    "Number",
    "PathKind",
    "ScalarKind",
    "Text",
    "join",
    "render",
]


class _Sentinel(enum.Enum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    INVALID = "invalid"
    ABSENT = "absent"


REQUIRED: Final = _Sentinel.REQUIRED
"""Default of a field that must be present."""
OPTIONAL: Final = _Sentinel.OPTIONAL
"""Default of a field that may be absent and then gets no value at all, so the schema
dataclass's own default applies (or the caller notices the absence)."""
INVALID: Final = _Sentinel.INVALID
"""Returned by a :class:`Kind` for a value it rejected (and has reported)."""
ABSENT: Final = _Sentinel.ABSENT
"""Stands for a key that is not in the file, where a raw value is expected; shown as
:data:`NOTHING`."""

NOTHING = "nothing"
"""What was ``found`` where a required key is missing."""


@dataclass
class Context:
    """What checking needs besides the value: where relative paths are resolved, and where
    problems are collected."""

    base_dir: Path
    problems: list[Problem] = field(default_factory=list)

    def problem(self, key: str, expected: str, found: str) -> None:
        """Record one problem."""
        self.problems.append(Problem(key, expected, found))


def join(path: str, name: str) -> str:
    """The dotted key of ``name`` inside the table at ``path`` (``""`` is the document)."""
    return f"{path}.{name}" if path else name


def render(value: object, limit: int = 60) -> str:
    """Show a parsed TOML value the way it would be written in the file, shortened."""
    text: str
    if value is ABSENT:
        text = NOTHING
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = repr(value)
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, dict):
        text = "a table" if value else "an empty table"
    elif isinstance(value, list):
        if not value:
            text = "an empty array"
        elif len(value) <= 4 and not any(isinstance(v, dict | list) for v in value):
            text = "[" + ", ".join(render(v, limit) for v in value) + "]"
        else:
            text = f"an array of {len(value)} items"
    elif isinstance(value, dt.date | dt.time):
        text = f"the date/time {value.isoformat()}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Kind(abc.ABC):
    """A kind of value: :meth:`check` converts a raw value at a key, reporting every problem
    (values with sub-keys, such as arrays, report at those). Subclasses set :attr:`expected`."""

    expected: str = "a value"

    @abc.abstractmethod
    def check(self, raw: object, key: str, ctx: Context) -> object:
        """Convert ``raw`` at ``key``, or report its problems and return :data:`INVALID`."""


class ScalarKind(Kind):
    """A kind whose value is right or wrong as a whole: one value, at most one problem.
    Subclasses implement :meth:`accept`."""

    def check(self, raw: object, key: str, ctx: Context) -> object:
        value = self.accept(raw)
        if value is INVALID:
            ctx.problem(key, self.expected, render(raw))
        return value

    @abc.abstractmethod
    def accept(self, raw: object) -> object:
        """Convert ``raw``, or return :data:`INVALID` without reporting."""


@dataclass(frozen=True)
class Text(ScalarKind):
    """A string, non-empty unless ``allow_empty``, matching ``pattern`` in full if given."""

    expected: str = "a non-empty string"
    pattern: re.Pattern[str] | None = None
    allow_empty: bool = False

    def accept(self, raw: object) -> object:
        if not isinstance(raw, str) or (not raw and not self.allow_empty):
            return INVALID
        if self.pattern is not None and not self.pattern.fullmatch(raw):
            return INVALID
        return raw


@dataclass(frozen=True)
class Flag(ScalarKind):
    """``true`` or ``false`` (and nothing else: TOML has real booleans)."""

    expected: str = "true or false"

    def accept(self, raw: object) -> object:
        return raw if isinstance(raw, bool) else INVALID


@dataclass(frozen=True)
class Number(ScalarKind):
    """A finite number within bounds, as ``float``; with ``integer``, an integer as ``int``.

    Booleans are never numbers, whatever Python thinks. An integer is accepted where a float
    is expected (``interval_s = 1``); a float is not accepted where an integer is.
    """

    what: str = "a number"
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    integer: bool = False

    @property
    def expected(self) -> str:  # type: ignore[override]
        what = "an integer" if self.integer and self.what == "a number" else self.what
        if self.ge is not None and self.le is not None:
            return f"{what} from {_num(self.ge)} to {_num(self.le)}"
        bounds = [
            f"{op} {_num(bound)}"
            for op, bound in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
            if bound is not None
        ]
        return " ".join([what, " and ".join(bounds)]) if bounds else what

    def accept(self, raw: object) -> object:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            return INVALID
        if self.integer and not isinstance(raw, int):
            return INVALID
        if not math.isfinite(raw) or not self._in_bounds(raw):
            return INVALID
        return raw if self.integer else float(raw)

    def _in_bounds(self, value: float) -> bool:
        return (
            (self.ge is None or value >= self.ge)
            and (self.gt is None or value > self.gt)
            and (self.le is None or value <= self.le)
            and (self.lt is None or value < self.lt)
        )


def _num(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Choice(ScalarKind):
    """One of the values of a string enum; returns the enum member."""

    enum_type: type[enum.StrEnum]

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(f'"{member.value}"' for member in self.enum_type)

    def accept(self, raw: object) -> object:
        if not isinstance(raw, str):
            return INVALID
        try:
            return self.enum_type(raw)
        except ValueError:
            return INVALID


@dataclass(frozen=True)
class PathKind(ScalarKind):
    """A path to a file, as a non-empty string; a relative path is taken relative to the
    profile's directory. The file need not exist when the profile is loaded."""

    expected: str = "a path to a file (a non-empty string)"

    def check(self, raw: object, key: str, ctx: Context) -> object:
        value = super().check(raw, key, ctx)
        return ctx.base_dir / value if isinstance(value, Path) else value

    def accept(self, raw: object) -> object:
        if not isinstance(raw, str) or not raw.strip() or "\x00" in raw:
            return INVALID
        return Path(raw)


@dataclass(frozen=True)
class NameList(Kind):
    """A non-empty array of distinct names, as a tuple; each item is checked by ``item``."""

    item: Text = Text()
    what: str = "name"

    @property
    def expected(self) -> str:  # type: ignore[override]
        return f"a non-empty array of {self.what}s"

    def check(self, raw: object, key: str, ctx: Context) -> object:
        if not isinstance(raw, list) or not raw:
            ctx.problem(key, self.expected, render(raw))
            return INVALID
        names: list[str] = []
        first_at: dict[str, int] = {}
        ok = True
        for index, raw_item in enumerate(raw):
            item_key = f"{key}[{index}]"
            value = self.item.check(raw_item, item_key, ctx)
            if not isinstance(value, str):
                ok = False
                continue
            if value in first_at:
                ctx.problem(
                    item_key,
                    "a name not already in this list",
                    f"{render(value)} (already {key}[{first_at[value]}])",
                )
                ok = False
                continue
            first_at[value] = index
            names.append(value)
        return tuple(names) if ok else INVALID
