"""Declarative checking of parsed TOML tables against field specs.

A section of a profile is described by a :class:`Table`: its title and a tuple of
:class:`Field` (name, :class:`Kind` of value, default). :func:`check_table` checks one raw
table against it and returns the converted values; :func:`check_array` does the same for an
array of tables (``[[probes]]``). Neither ever raises on bad input: every problem is appended
to the :class:`Context` and checking carries on, so one run reports everything.

Kinds report what they expect in words a hospital engineer understands ("a number of seconds
> 0", "one of 'cabinet', 'fridge', 'transport'"); :func:`render` shows what was found.

Inline secrets are refused everywhere: :func:`find_inline_secrets` walks the whole document
first, and :func:`check_table` then leaves secret-named keys alone so each is reported once.
"""

from __future__ import annotations

import datetime as dt
import difflib
import enum
import json
import math
import re
from collections.abc import Iterator
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
    "Checked",
    "Choice",
    "Context",
    "Field",
    "Flag",
    "Kind",
    "NameList",
    "Number",
    "PathKind",
    "Table",
    "Text",
    "check_array",
    "check_table",
    "find_inline_secrets",
    "is_secret_key",
    "join",
    "render",
    "secret_hint",
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

_SECRET_WORDS = ("password", "secret", "token", "key")


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


def is_secret_key(name: str) -> bool:
    """Whether a key would hold a secret inline: its name contains password, secret, token or
    key, and it is not a ``*_file`` key naming the file that holds the secret."""
    lowered = name.lower()
    return not lowered.endswith("_file") and any(word in lowered for word in _SECRET_WORDS)


def secret_hint(name: str, file_keys: tuple[str, ...] = ()) -> str:
    """The ``expected`` text for an inline secret under ``name``: which ``*_file`` key to use.

    Among the table's ``file_keys``, the one sharing a secret word with ``name``
    (``private_key`` -> ``key_file``), else ``password_file`` for any other credential
    (``token``), else ``<name>_file``.
    """
    lowered = name.lower()
    sharing = [key for key in file_keys if any(w in lowered and w in key for w in _SECRET_WORDS)]
    if sharing:
        wanted = sharing[0]
    elif "password_file" in file_keys:
        wanted = "password_file"
    else:
        wanted = f"{name}_file"
    return f"secrets are referenced by path: use {wanted}"


def find_inline_secrets(
    document: object, ctx: Context, file_keys: dict[str, tuple[str, ...]]
) -> None:
    """Report every secret-named key anywhere in ``document``.

    ``file_keys`` maps a table's path (``"sync"``) to the ``*_file`` keys it accepts, to
    suggest the right one. The value is never shown: it is the secret.
    """
    for key, name, parent in _walk(document, ""):
        if is_secret_key(name):
            ctx.problem(key, secret_hint(name, file_keys.get(parent, ())), "an inline secret")


def _walk(value: object, path: str) -> Iterator[tuple[str, str, str]]:
    """Yield (dotted key, key name, parent path) for every key of every table in ``value``."""
    if isinstance(value, dict):
        for name, item in value.items():
            key = join(path, str(name))
            yield key, str(name), path
            yield from _walk(item, key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


class Kind:
    """A kind of value. Subclasses set :attr:`expected` and override :meth:`accept` (one value,
    one problem) or :meth:`check` (values that report problems at sub-keys)."""

    expected: str = "a value"

    def check(self, raw: object, key: str, ctx: Context) -> object:
        """Convert ``raw`` at ``key``, or report a problem and return :data:`INVALID`."""
        value = self.accept(raw)
        if value is INVALID:
            ctx.problem(key, self.expected, render(raw))
        return value

    def accept(self, raw: object) -> object:
        """Convert ``raw``, or return :data:`INVALID` without reporting."""
        raise NotImplementedError


@dataclass(frozen=True)
class Text(Kind):
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
class Flag(Kind):
    """``true`` or ``false`` (and nothing else: TOML has real booleans)."""

    expected: str = "true or false"

    def accept(self, raw: object) -> object:
        return raw if isinstance(raw, bool) else INVALID


@dataclass(frozen=True)
class Number(Kind):
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
class Choice(Kind):
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
class PathKind(Kind):
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


@dataclass(frozen=True)
class Field:
    """One key of a table: its name, kind, and :data:`REQUIRED`, :data:`OPTIONAL` or a default
    value used when the key is absent."""

    name: str
    kind: Kind
    default: object = REQUIRED


@dataclass(frozen=True)
class Table:
    """A table's spec: ``title`` as written in the file (``[device]``), its fields, and the
    names of sub-tables the caller checks itself (``thermal`` in ``[sim]``)."""

    title: str
    fields: tuple[Field, ...]
    subtables: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key this table accepts."""
        return tuple(f.name for f in self.fields) + self.subtables

    @property
    def file_keys(self) -> tuple[str, ...]:
        """The ``*_file`` keys of this table, where secrets are referenced."""
        return tuple(name for name in self.keys if name.endswith("_file"))


@dataclass(frozen=True)
class Checked:
    """The outcome of checking one table: the values that passed (absent keys with a default
    included, :data:`OPTIONAL` ones left out), the raw sub-tables named in the spec, and
    whether the table had no problem at all."""

    values: dict[str, object]
    subtables: dict[str, object]
    ok: bool


def check_table(raw: object, path: str, spec: Table, ctx: Context) -> Checked:
    """Check the raw table at ``path`` (a dotted key) against ``spec``."""
    if not isinstance(raw, dict):
        ctx.problem(path, f"a table {spec.title}", render(raw))
        return Checked({}, {}, ok=False)
    before = len(ctx.problems)
    values: dict[str, object] = {}
    for spec_field in spec.fields:
        key = join(path, spec_field.name)
        if spec_field.name not in raw:
            if spec_field.default is REQUIRED:
                ctx.problem(key, spec_field.kind.expected, NOTHING)
            elif spec_field.default is not OPTIONAL:
                values[spec_field.name] = spec_field.default
            continue
        value = spec_field.kind.check(raw[spec_field.name], key, ctx)
        if value is not INVALID:
            values[spec_field.name] = value
    for name in raw:
        if name not in spec.keys and not is_secret_key(name):
            _unknown_key(join(path, name), name, spec, ctx)
    subtables = {name: raw[name] for name in spec.subtables if name in raw}
    secrets = any(is_secret_key(name) for name in raw)
    return Checked(values, subtables, ok=len(ctx.problems) == before and not secrets)


def check_array(raw: object, path: str, spec: Table, ctx: Context) -> list[Checked]:
    """Check the array of tables at ``path`` (``[[doors]]``): at least one, each a table."""
    if not isinstance(raw, list) or not raw:
        ctx.problem(path, f"at least one {spec.title} table", render(raw))
        return []
    return [check_table(item, f"{path}[{index}]", spec, ctx) for index, item in enumerate(raw)]


def _unknown_key(key: str, name: str, spec: Table, ctx: Context) -> None:
    allowed = ", ".join(spec.keys) if spec.keys else "none"
    found = f"unknown key {json.dumps(name, ensure_ascii=False)}"
    close = difflib.get_close_matches(name, spec.keys, n=1)
    if close:
        found += f" (did you mean {json.dumps(close[0])}?)"
    ctx.problem(key, f"one of the keys of {spec.title}: {allowed}", found)
