"""Payloads to CBOR and back: every payload round-trips; nothing else decodes."""

from __future__ import annotations

import contextlib
import dataclasses
import typing

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.events import PAYLOAD_TYPES, Payload, ProbeFault, TemperatureSample
from agent.payload_codec import PayloadDecodeError, decode_payload, encode_payload
from tests.test_protocol_strategies import COLUMN_PAYLOADS, columns_of_one_length

_finite = st.floats(allow_nan=False, allow_infinity=False)


_STRATEGIES: dict[object, st.SearchStrategy[object]] = {
    str: st.text(max_size=20),
    bool: st.booleans(),
    int: st.integers(min_value=0, max_value=2**63),
    float: _finite,
    float | None: st.none() | _finite,
    str | None: st.none() | st.text(max_size=20),
    tuple[str, ...]: st.lists(st.text(max_size=16), max_size=5).map(tuple),
    int | None: st.none() | st.integers(min_value=0, max_value=2**63),
    tuple[int, ...]: st.lists(st.integers(0, 2**63), max_size=5).map(tuple),
}


def _strategy(annotation: object) -> st.SearchStrategy[object]:
    assert annotation in _STRATEGIES, f"add a strategy for {annotation!r}"
    return _STRATEGIES[annotation]


def _payloads() -> st.SearchStrategy[Payload]:
    def of(cls: type[Payload]) -> st.SearchStrategy[Payload]:
        if cls in COLUMN_PAYLOADS:
            return columns_of_one_length(cls, _STRATEGIES)
        hints = typing.get_type_hints(cls)
        return st.builds(cls, **{f.name: _strategy(hints[f.name]) for f in dataclasses.fields(cls)})

    return st.one_of([of(cls) for cls in PAYLOAD_TYPES.values()])


@given(_payloads())
def test_every_payload_round_trips(payload: Payload) -> None:
    assert decode_payload(payload.TYPE.value, encode_payload(payload)) == payload


@given(st.sampled_from(sorted(PAYLOAD_TYPES)), st.binary(max_size=64))
def test_arbitrary_bytes_decode_or_raise_the_typed_error(kind: str, data: bytes) -> None:
    with contextlib.suppress(PayloadDecodeError):
        decode_payload(kind, data)


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("no_such_type", {}, "unknown event type"),
        ("temperature_sample", [1, 2], "expected a map"),
        ("temperature_sample", {"probe": "air"}, "missing field 'celsius'"),
        ("temperature_sample", {"probe": "air", "celsius": "4"}, "celsius: expected a number"),
        ("temperature_sample", {"probe": "air", "celsius": True}, "expected a number"),
        ("temperature_sample", {"probe": "air", "celsius": float("nan")}, "finite"),
        ("temperature_sample", {"probe": "air", "celsius": 4.0, "x": 1}, "unknown fields"),
        ("door_changed", {"door": "main", "open": 1}, "open: expected bool"),
        ("tags_changed", {"antenna": "a", "arrived": "E0", "left": []}, "expected an array"),
    ],
)
def test_malformed_payloads_say_what_is_wrong(kind: str, value: object, message: str) -> None:
    with pytest.raises(PayloadDecodeError, match=message):
        decode_payload(kind, cbor2.dumps(value))


def test_integers_are_accepted_as_floats_and_defaults_apply() -> None:
    sample = decode_payload("temperature_sample", cbor2.dumps({"probe": "air", "celsius": 4}))
    assert sample == TemperatureSample(probe="air", celsius=4.0)
    fault = decode_payload("probe_fault", cbor2.dumps({"probe": "air", "reason": "gone"}))
    assert fault == ProbeFault(probe="air", reason="gone", value=None, cleared=False)
