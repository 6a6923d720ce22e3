"""Event payloads to and from CBOR: the one encoding the journal stores and the wire carries.

A payload is encoded as a CBOR map of its dataclass fields by name (tuples become arrays).
Decoding checks everything: the type name must be known, the value a map with exactly the
payload's fields, and each field of its declared type - a record that fails is a typed
:class:`PayloadDecodeError`, never a half-built payload (invariant 8). Booleans are never
accepted as numbers, and integers are accepted where floats are declared (CBOR may carry
``4.0`` as ``4`` after a foreign encoder).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable
from typing import Any

import cbor2

from agent.events import PAYLOAD_TYPES, EventType, Payload

__all__ = [
    "PayloadDecodeError",
    "decode_payload",
    "encode_payload",
    "payload_map",
    "payload_to_map",
]


class PayloadDecodeError(ValueError):
    """A payload that cannot be decoded; says which type and field, and what was found."""


def payload_to_map(payload: Payload) -> dict[str, Any]:
    """The payload's fields as a plain map (tuples as lists), ready for CBOR."""
    result: dict[str, Any] = {}
    for name in _FIELD_NAMES[type(payload)]:
        value = getattr(payload, name)
        result[name] = list(value) if isinstance(value, tuple) else value
    return result


def encode_payload(payload: Payload) -> bytes:
    """CBOR bytes of ``payload``."""
    return cbor2.dumps(payload_to_map(payload))


def decode_payload(event_type: str, data: bytes | dict[str, Any]) -> Payload:
    """The payload of type ``event_type`` from CBOR ``data`` (or an already decoded map)."""
    try:
        kind = EventType(event_type)
    except ValueError:
        raise PayloadDecodeError(f"unknown event type {event_type!r}") from None
    if isinstance(data, bytes | bytearray):
        try:
            value = cbor2.loads(data)
        except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError) as error:
            raise PayloadDecodeError(f"{kind}: not valid CBOR: {error}") from None
        if kind is EventType.TEMPERATURE_SAMPLE:
            value = _tick_form(value)
    else:
        value = data
    return _build(PAYLOAD_TYPES[kind], value)


def _tick_form(value: object) -> object:
    """A stored temperature sample as a tick: a journal written before protocol version 2
    holds one record per probe reading (``{"probe": p, "celsius": c}``), which is the tick of
    that probe alone; anything else is returned as it is, for :func:`_build` to check. Only
    stored bytes are read this way: a map from the wire has the shape of its version."""
    if type(value) is dict and value.keys() == {"probe", "celsius"}:
        return {"probes": [value["probe"]], "celsius": [value["celsius"]]}
    return value


_TEMPERATURE = EventType.TEMPERATURE_SAMPLE.value


def payload_map(event_type: str, data: bytes) -> dict[str, Any]:
    """``payload_to_map(decode_payload(event_type, data))``, the same map or the same error,
    without building the payload for the commonest record (a well-formed temperature sample)."""
    if event_type == _TEMPERATURE and type(data) is bytes:
        try:
            value = cbor2.loads(data)
        except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError):
            value = None  # decode_payload below raises its error
        if type(value) is dict and len(value) == 2:
            probes = value.get("probes")
            celsius = value.get("celsius")
            if (
                type(probes) is list
                and type(celsius) is list
                and 0 < len(probes) == len(celsius)
                and {*map(type, probes)} == {str}
                and len(set(probes)) == len(probes)
                and {*map(type, celsius)} == {float}
                and all(map(math.isfinite, celsius))
            ):
                return {"probes": probes, "celsius": celsius}
    return payload_to_map(decode_payload(event_type, data))


def _build(cls: type[Payload], value: object) -> Payload:
    if not isinstance(value, dict):
        raise PayloadDecodeError(f"{cls.TYPE}: expected a map, found {type(value).__name__}")
    checkers = _CHECKERS[cls]
    unknown = set(value) - set(checkers)
    if unknown:
        raise PayloadDecodeError(f"{cls.TYPE}: unknown fields {sorted(map(str, unknown))}")
    fields: dict[str, object] = {}
    for field in dataclasses.fields(cls):
        if field.name not in value:
            if field.default is dataclasses.MISSING:
                raise PayloadDecodeError(f"{cls.TYPE}: missing field {field.name!r}")
            continue
        try:
            fields[field.name] = checkers[field.name](value[field.name])
        except PayloadDecodeError as error:
            raise PayloadDecodeError(f"{cls.TYPE}.{field.name}: {error}") from None
    try:
        return cls(**fields)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise PayloadDecodeError(f"{cls.TYPE}: {error}") from None


Checker = Callable[[object], object]


def _checker(annotation: object) -> Checker:
    """A function that returns the value converted to ``annotation`` or raises."""
    if annotation is str:
        return _exact(str)
    if annotation is bool:
        return _exact(bool)
    if annotation is int:
        return _integer
    if annotation is float:
        return _number
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union) and type(None) in args:
        (inner,) = (arg for arg in args if arg is not type(None))
        check = _checker(inner)
        return lambda value: None if value is None else check(value)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _checker(args[0])
        return lambda value: tuple(item(v) for v in _sequence(value))
    raise TypeError(f"no CBOR checker for {annotation!r}")


def _exact(kind: type) -> Checker:
    def check(value: object) -> object:
        if type(value) is not kind:
            raise PayloadDecodeError(f"expected {kind.__name__}, found {type(value).__name__}")
        return value

    return check


def _integer(value: object) -> int:
    if type(value) is not int:
        raise PayloadDecodeError(f"expected an integer, found {type(value).__name__}")
    return value


def _number(value: object) -> float:
    if type(value) not in (int, float):
        raise PayloadDecodeError(f"expected a number, found {type(value).__name__}")
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        raise PayloadDecodeError(f"expected a finite number, found {number}")
    return number


def _sequence(value: object) -> list[object]:
    if not isinstance(value, list):
        raise PayloadDecodeError(f"expected an array, found {type(value).__name__}")
    return value


_FIELD_NAMES: dict[type[Payload], tuple[str, ...]] = {
    cls: tuple(field.name for field in dataclasses.fields(cls)) for cls in PAYLOAD_TYPES.values()
}
"""Each payload class's field names, in order: read once, not per encode."""

_CHECKERS: dict[type[Payload], dict[str, Checker]] = {
    cls: {
        name: _checker(hint) for name, hint in typing.get_type_hints(cls).items() if name != "TYPE"
    }
    for cls in PAYLOAD_TYPES.values()
}
