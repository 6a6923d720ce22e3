"""Declarative checking of parsed TOML tables against field specs.

A section of a profile is described by a :class:`Table`: its title and a tuple of
:class:`Field` (name, :class:`~agent.config.kinds.Kind` of value, default). :func:`check_table`
checks one raw table against it and returns the converted values; :func:`check_array` does the
same for an array of tables (``[[probes]]``). Neither ever raises on bad input: every problem
is appended to the :class:`~agent.config.kinds.Context` and checking carries on.

Inline secrets are refused everywhere: :func:`find_inline_secrets` walks the whole document
first, and :func:`check_table` then leaves secret-named keys alone so each is reported once.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from agent.config.kinds import (
    INVALID,
    NOTHING,
    OPTIONAL,
    REQUIRED,
    Context,
    Kind,
    join,
    render,
)

__all__ = [
    "Checked",
    "Field",
    "Table",
    "check_array",
    "check_table",
    "find_inline_secrets",
    "is_secret_key",
    "secret_hint",
]

_SECRET_WORDS = ("password", "secret", "token", "key")


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
