"""Payloads to CBOR and back: every payload round-trips; nothing else decodes."""

from __future__ import annotations

import contextlib
import dataclasses
import struct
import typing

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.events import PAYLOAD_TYPES, Payload, ProbeFault, TemperatureSample
from agent.payload_codec import PayloadDecodeError, decode_payload, encode_payload
from tests.test_protocol_strategies import COLUMN_PAYLOADS, columns_of_one_length, ticks

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
        if cls is TemperatureSample:
            return ticks(_finite)
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


def _tick(probes: object, celsius: object) -> dict[str, object]:
    return {"probes": probes, "celsius": celsius}


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("no_such_type", {}, "unknown event type"),
        ("temperature_sample", [1, 2], "expected a map"),
        ("temperature_sample", {"probes": ["air"]}, "missing field 'celsius'"),
        ("temperature_sample", _tick(["air"], ["4"]), "celsius: expected a number"),
        ("temperature_sample", _tick(["air"], [True]), "expected a number"),
        ("temperature_sample", _tick(["air"], [float("nan")]), "finite"),
        ("temperature_sample", _tick(["air"], [float("inf")]), "finite"),
        ("temperature_sample", _tick(["air"], 4.0), "celsius: expected an array"),
        ("temperature_sample", _tick("air", [4.0]), "probes: expected an array"),
        ("temperature_sample", _tick([3], [4.0]), "probes: expected str"),
        ("temperature_sample", _tick(["air", "core"], [4.0]), "one reading per probe"),
        ("temperature_sample", _tick(["air"], [4.0, 5.0]), "one reading per probe"),
        ("temperature_sample", _tick([], []), "at least one"),
        ("temperature_sample", _tick(["air", "air"], [4.0, 5.0]), "at most once"),
        ("temperature_sample", _tick(["air"], [4.0]) | {"x": 1}, "unknown fields"),
        ("temperature_sample", {"probe": "air", "celsius": 4.0, "x": 1}, "unknown fields"),
        ("temperature_sample", {"probe": "air", "celsius": float("nan")}, "finite"),
        ("temperature_sample", {"probe": 3, "celsius": 4.0}, "probes: expected str"),
        ("temperature_sample", {"probe": "air", "celsius": [4.0]}, "expected a number"),
        ("temperature_sample", {"probe": "air"}, "unknown fields"),
        ("door_changed", {"door": "main", "open": 1}, "open: expected bool"),
        ("tags_changed", {"antenna": "a", "arrived": "E0", "left": []}, "expected an array"),
    ],
)
def test_malformed_payloads_say_what_is_wrong(kind: str, value: object, message: str) -> None:
    with pytest.raises(PayloadDecodeError, match=message):
        decode_payload(kind, cbor2.dumps(value))


def test_integers_are_accepted_as_floats_and_defaults_apply() -> None:
    sample = decode_payload("temperature_sample", cbor2.dumps(_tick(["air", "core"], [4, 3.5])))
    assert sample == TemperatureSample(probes=("air", "core"), celsius=(4.0, 3.5))
    assert isinstance(sample, TemperatureSample)
    assert [type(c) for c in sample.celsius] == [float, float]
    fault = decode_payload("probe_fault", cbor2.dumps({"probe": "air", "reason": "gone"}))
    assert fault == ProbeFault(probe="air", reason="gone", value=None, cleared=False)


def test_a_tick_encodes_as_two_arrays_of_probes_and_doubles() -> None:
    sample = TemperatureSample(("air-1", "air-2"), (4.02, 3.875))
    data = encode_payload(sample)
    assert cbor2.loads(data) == {"probes": ["air-1", "air-2"], "celsius": [4.02, 3.875]}
    assert data == (
        b"\xa2\x66probes\x82\x65air-1\x65air-2"
        b"\x67celsius\x82\xfb" + struct.pack(">d", 4.02) + b"\xfb" + struct.pack(">d", 3.875)
    )
    assert list(sample.readings()) == [("air-1", 4.02), ("air-2", 3.875)]


@pytest.mark.parametrize(
    ("probes", "celsius"),
    [((), ()), (("air",), ()), (("air",), (4.0, 5.0)), (("air", "air"), (4.0, 5.0))],
)
def test_a_tick_has_one_reading_per_probe_each_probe_once(
    probes: tuple[str, ...], celsius: tuple[float, ...]
) -> None:
    with pytest.raises(ValueError, match=r"one reading per probe|at most once"):
        TemperatureSample(probes, celsius)


@pytest.mark.parametrize(
    ("stored", "tick"),
    [
        ({"probe": "air", "celsius": 4.02}, TemperatureSample(("air",), (4.02,))),
        ({"celsius": -0.0, "probe": ""}, TemperatureSample(("",), (-0.0,))),
        ({"probe": "core", "celsius": 4}, TemperatureSample(("core",), (4.0,))),
    ],
)
def test_a_journal_record_of_one_probe_reading_decodes_as_that_probes_tick(
    stored: dict[str, object], tick: TemperatureSample
) -> None:
    """A journal written before protocol version 2 holds one record per probe reading."""
    decoded = decode_payload("temperature_sample", cbor2.dumps(stored))
    assert decoded == tick
    assert encode_payload(decoded) == encode_payload(tick)
    # Only stored bytes are read this way: the same map, already decoded, is refused.
    with pytest.raises(PayloadDecodeError, match="unknown fields"):
        decode_payload("temperature_sample", stored)  # type: ignore[arg-type]
