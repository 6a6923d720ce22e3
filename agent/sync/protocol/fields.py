"""Strict reading of decoded CBOR values: each field present, of its type, within its range.

Keeps invariant 8 at the field level: a value is either exactly what the protocol says or a
typed :class:`ProtocolError` naming the field - booleans are never taken for integers, floats
never for integers, and a map's unknown keys are an error, not ignored.
"""

from __future__ import annotations

import enum
from typing import Any, TypeVar

from agent.sync.protocol.errors import (
    ImpossibleValue,
    MissingField,
    UnexpectedField,
    WrongType,
)

__all__ = ["MAX_TEXT", "MAX_U64", "Fields", "as_array", "as_int", "as_text", "as_uint"]

_E = TypeVar("_E", bound=enum.StrEnum)

MAX_U64 = 2**64 - 1
MAX_TEXT = 1024
"""Longest text field accepted, in characters, unless a field says otherwise."""


def _type_name(value: object) -> str:
    return type(value).__name__


def as_int(value: object, where: str, low: int, high: int) -> int:
    """``value`` if it is an integer (not a boolean) in ``[low, high]``."""
    if type(value) is not int:
        raise WrongType(f"{where}: expected an integer, found {_type_name(value)}")
    if not low <= value <= high:
        raise ImpossibleValue(f"{where}: {value} is outside [{low}, {high}]")
    return value


def as_uint(value: object, where: str, high: int = MAX_U64) -> int:
    """``value`` if it is an unsigned integer no larger than ``high``."""
    return as_int(value, where, 0, high)


def as_text(value: object, where: str, max_length: int | None = MAX_TEXT) -> str:
    """``value`` if it is a text string of at most ``max_length`` characters (if given)."""
    if type(value) is not str:
        raise WrongType(f"{where}: expected text, found {_type_name(value)}")
    if max_length is not None and len(value) > max_length:
        raise ImpossibleValue(f"{where}: longer than {max_length} characters")
    return value


def as_array(value: object, where: str) -> list[object]:
    """``value`` if it is an array."""
    if type(value) is not list:
        raise WrongType(f"{where}: expected an array, found {_type_name(value)}")
    return value


class Fields:
    """A CBOR map being read field by field; :meth:`finish` rejects fields nobody read."""

    def __init__(self, value: object, where: str) -> None:
        if type(value) is not dict:
            raise WrongType(f"{where}: expected a map, found {_type_name(value)}")
        self._map: dict[Any, object] = value
        self._read: set[str] = set()
        self.where = where

    def raw(self, key: str) -> object:
        """The value of required field ``key``, unchecked."""
        if key not in self._map:
            raise MissingField(f"{self.where}: missing field {key!r}")
        self._read.add(key)
        return self._map[key]

    def has(self, key: str) -> bool:
        """Whether optional field ``key`` is present (read it with the typed getters)."""
        return key in self._map

    def _at(self, key: str) -> str:
        return f"{self.where}.{key}"

    def uint(self, key: str, high: int = MAX_U64) -> int:
        """Required unsigned integer field."""
        return as_uint(self.raw(key), self._at(key), high)

    def integer(self, key: str, low: int, high: int) -> int:
        """Required integer field within ``[low, high]``."""
        return as_int(self.raw(key), self._at(key), low, high)

    def text(self, key: str, max_length: int | None = MAX_TEXT) -> str:
        """Required text field."""
        return as_text(self.raw(key), self._at(key), max_length)

    def choice(self, key: str, kind: type[_E]) -> _E:
        """Required text field holding one of the values of ``kind``."""
        value = self.text(key)
        try:
            return kind(value)
        except ValueError:
            raise ImpossibleValue(f"{self._at(key)}: unknown value {value!r}") from None

    def boolean(self, key: str) -> bool:
        """Required boolean field."""
        value = self.raw(key)
        if type(value) is not bool:
            raise WrongType(f"{self._at(key)}: expected a boolean, found {_type_name(value)}")
        return value

    def byte_string(self, key: str, min_length: int, max_length: int) -> bytes:
        """Required byte string field of ``min_length`` to ``max_length`` bytes."""
        value = self.raw(key)
        if type(value) is not bytes:
            raise WrongType(f"{self._at(key)}: expected bytes, found {_type_name(value)}")
        if not min_length <= len(value) <= max_length:
            raise ImpossibleValue(
                f"{self._at(key)}: {len(value)} bytes, expected {min_length}-{max_length}"
            )
        return value

    def array(self, key: str) -> list[object]:
        """Required array field."""
        return as_array(self.raw(key), self._at(key))

    def submap(self, key: str) -> Fields:
        """Required map field, to be read in turn (and finished by the caller)."""
        return Fields(self.raw(key), self._at(key))

    def finish(self) -> None:
        """Raise :class:`UnexpectedField` if the map holds a field that was not read."""
        extra = [key for key in self._map if key not in self._read]
        if extra:
            names = ", ".join(sorted(repr(key) for key in extra))
            raise UnexpectedField(f"{self.where}: unexpected fields {names}")
