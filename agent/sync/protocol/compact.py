"""The compact form of temperature samples: columns of small integer deltas.

A 72-slot cabinet records a tick of eight probe readings every ten seconds; as plain records,
a tick costs some 150 bytes. Here the ticks of one probe set (within one boot epoch and one
clock-synchronised state) become a column of integer arrays whose items are mostly one or a few
bytes:

* ``seq``: the first sequence, then the difference to the previous tick's;
* ``mono``: the first monotonic time, the first difference, then differences of differences
  (a steady sampling period encodes as the jitter around it);
* ``wall``: the first ``wall_ns - mono_ns``, then its differences (zero while the wall clock
  runs with the monotonic one);
* ``values``: one array per probe: its reading times ``divisor`` as an integer, then its
  differences.

Keeps exactness: a tick is put in a column only if each of its readings is, bit for bit,
``numerator / divisor`` and every item fits CBOR's integer range; any other tick travels in the
plain form. Decoding a column gives back events equal to the ones encoded.

Both ends handle a column's readings as whole byte strings where they can (the journal's stored
payloads are sliced and unpacked at once; a decoded column's payloads are packed at once), so a
week's backlog costs no Python work per reading on the common path.
"""

from __future__ import annotations

import itertools
import math
import operator
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.events import Event, EventType, RecordId, TemperatureSample
from agent.payload_codec import PayloadDecodeError, encode_payload, payload_map
from agent.sync.protocol.errors import ImpossibleValue
from agent.sync.protocol.fields import MAX_U64, Fields, as_array, as_int, as_text
from agent.sync.protocol.wire import RecordRow, StoredRow, stored_payload_map

__all__ = [
    "DIVISORS",
    "MAX_DIVISOR",
    "decode_column",
    "decode_column_rows",
    "pack_stored_temperatures",
    "pack_temperatures",
]

DIVISORS = (100, 1000, 128)
"""Scales the encoder tries, in order of preference: centi-degrees, milli-degrees, and the
1/128 °C steps of a TI TMP117 (which also cover a DS18B20's 1/16 °C)."""

MAX_DIVISOR = 1_000_000
"""Largest divisor a decoder accepts."""

_LOW = -(2**64)
_HIGH = 2**64 - 1
"""The range of CBOR's integer major types 0 and 1: column items never need a bignum."""
_SCALED_LIMIT = 2.0**64
_TEMPERATURE = EventType.TEMPERATURE_SAMPLE.value
_DOUBLE = 0xFB
"""CBOR's initial byte of a double (major type 7, 27): how every reading is encoded."""
_READING = 9
"""Bytes of one encoded reading: the initial byte and the IEEE 754 double."""

Key = tuple[tuple[str, ...], int, bool]
"""What ticks share to be in one column: their probes, boot epoch and clock state."""


def _numerator(celsius: float, divisor: int) -> int | None:
    """The integer ``n`` with ``n / divisor`` exactly ``celsius``, if there is one in range."""
    value = float(celsius)
    scaled = value * divisor
    if not abs(scaled) <= _SCALED_LIMIT:  # also refuses NaN and infinities
        return None
    numerator = round(scaled)
    if not _LOW <= numerator <= _HIGH or (numerator / divisor).hex() != value.hex():
        return None
    return numerator


def _all_numerators(values: list[float], divisor: int) -> list[int] | None:
    """Every ``values[i]``'s numerator for ``divisor`` if every one has one, else None.

    The common case of :func:`_numerator` over a whole column at C speed: for finite floats
    other than zero, ``==`` is bit-for-bit equality; zeros (where ``-0.0 == 0.0``) and any
    non-finite value leave it to the exact per-tick check.
    """
    if 0.0 in values:  # 0.0 or -0.0: only the per-tick check tells them apart
        return None
    try:
        numerators = list(map(round, map(operator.mul, values, itertools.repeat(divisor))))
    except (OverflowError, ValueError):  # an infinity or a NaN
        return None
    if list(map(operator.truediv, numerators, itertools.repeat(divisor))) != values:
        return None
    if min(numerators) < _LOW or max(numerators) > _HIGH:
        return None
    return numerators


def _differences(items: list[int]) -> list[int]:
    """``items[0]``, then each item's difference to the one before."""
    return [items[0], *map(operator.sub, items[1:], items)]


def _in_range(*columns: list[int]) -> bool:
    return all(min(column) >= _LOW and max(column) <= _HIGH for column in columns)


@dataclass
class _Column:
    """A column being built; ticks are offered in ascending sequence order."""

    key: Key
    divisor: int
    seq: list[int] = field(default_factory=list)
    mono: list[int] = field(default_factory=list)
    wall: list[int] = field(default_factory=list)
    values: list[list[int]] = field(default_factory=list)
    _last: tuple[int, int, int, int] = (0, 0, 0, 0)
    """Previous tick's sequence, monotonic time, monotonic step and wall offset."""
    _last_numerators: Sequence[int] = ()

    def offer(self, sequence: int, mono: int, wall: int, numerators: Sequence[int]) -> bool:
        """Append the tick if all its items fit; False leaves the column unchanged."""
        offset = wall - mono
        if not self.seq:
            step = 0
            items = (sequence, mono, offset)
            deltas: Sequence[int] = numerators
        else:
            last_seq, last_mono, last_step, last_offset = self._last
            step = mono - last_mono
            items = (
                sequence - last_seq,
                step if len(self.seq) == 1 else step - last_step,
                offset - last_offset,
            )
            deltas = list(map(operator.sub, numerators, self._last_numerators))
        if not all(_LOW <= item <= _HIGH for item in (*items, *deltas)):
            return False
        if not self.values:
            self.values = [[] for _ in numerators]
        for column, item in zip((self.seq, self.mono, self.wall), items, strict=True):
            column.append(item)
        for column, delta in zip(self.values, deltas, strict=True):
            column.append(delta)
        self._last = (sequence, mono, step, offset)
        self._last_numerators = numerators
        return True

    def fill(
        self, seqs: list[int], monos: list[int], walls: list[int], numerators: list[list[int]]
    ) -> bool:
        """Every tick at once, if every item of every tick fits (then exactly what offering
        them one by one gives); False leaves the column unchanged."""
        offsets = list(map(operator.sub, walls, monos))
        steps = _differences(monos)
        mono = [steps[0], *_differences(steps[1:])] if len(steps) > 1 else steps
        columns = (_differences(seqs), mono, _differences(offsets))
        values = [_differences(column) for column in numerators]
        if not _in_range(*columns, *values):
            return False
        self.seq, self.mono, self.wall = columns
        self.values = values
        return True

    def to_map(self) -> dict[str, Any]:
        probes, epoch, synchronised = self.key
        return {
            "probes": list(probes),
            "epoch": epoch,
            "synced": synchronised,
            "divisor": self.divisor,
            "seq": self.seq,
            "mono": self.mono,
            "wall": self.wall,
            "values": self.values,
        }


@dataclass(slots=True)
class _Group:
    """The ticks of one key, as parallel lists; ``values`` holds one list per probe."""

    seqs: list[int]
    monos: list[int]
    walls: list[int]
    values: list[list[float]]
    records: list[Any]


def _best_divisor(values: list[list[float]]) -> int | None:
    """The divisor representing the most ticks exactly (the first one on a tie), if any."""
    counts = [
        sum(
            all(_numerator(reading, divisor) is not None for reading in tick)
            for tick in zip(*values, strict=True)
        )
        for divisor in DIVISORS
    ]
    best = max(counts)
    return DIVISORS[counts.index(best)] if best else None


def _pack_group(key: Key, group: _Group, plain: list[Any]) -> dict[str, Any] | None:
    """The column map of ``group`` (None if no tick fits); the ticks that do not fit go to
    ``plain``."""
    # Fast path: the first divisor represents every reading (the best, and the first on a tie).
    numerators = [_all_numerators(column, DIVISORS[0]) for column in group.values]
    exact = [column for column in numerators if column is not None]
    if len(exact) == len(numerators):
        column = _Column(key, DIVISORS[0])
        if column.fill(group.seqs, group.monos, group.walls, exact):
            return column.to_map()
    divisor = _best_divisor(group.values)
    if divisor is None:
        plain.extend(group.records)
        return None
    column = _Column(key, divisor)
    ticks = zip(*group.values, strict=True)
    for i, (record, tick) in enumerate(zip(group.records, ticks, strict=True)):
        scaled = [_numerator(reading, divisor) for reading in tick]
        fitting = [numerator for numerator in scaled if numerator is not None]
        if len(fitting) < len(scaled) or not column.offer(
            group.seqs[i], group.monos[i], group.walls[i], fitting
        ):
            plain.append(record)
    return column.to_map() if column.seq else None


def _pack(groups: dict[Key, _Group], plain: list[Any]) -> list[dict[str, Any]]:
    columns = [_pack_group(key, group, plain) for key, group in groups.items()]
    return [column for column in columns if column is not None]


def _add(groups: dict[Key, _Group], key: Key, tick: tuple[int, int, int], celsius: Any) -> _Group:
    """Add a tick (sequence, monotonic, wall) and its readings to its key's group."""
    group = groups.get(key)
    if group is None:
        group = groups[key] = _Group([], [], [], [[] for _ in key[0]], [])
    sequence, mono, wall = tick
    group.seqs.append(sequence)
    group.monos.append(mono)
    group.walls.append(wall)
    for column, reading in zip(group.values, celsius, strict=True):
        column.append(reading if type(reading) is float else float(reading))
    return group


def pack_temperatures(records: Iterable[Event]) -> tuple[list[dict[str, Any]], list[Event]]:
    """Split ``records`` (ascending) into column maps and the events left for the plain form."""
    groups: dict[Key, _Group] = {}
    plain: list[Event] = []
    for event in records:
        payload = event.payload
        if isinstance(payload, TemperatureSample):
            key = (payload.probes, event.id.boot_epoch, event.clock_synchronised)
            tick = (event.id.sequence, event.monotonic_ns, event.wall_ns)
            _add(groups, key, tick, payload.celsius).records.append(event)
        else:
            plain.append(event)
    return _pack(groups, plain), plain


def pack_stored_temperatures(
    rows: Sequence[StoredRow],
) -> tuple[list[dict[str, Any]], list[StoredRow]]:
    """:func:`pack_temperatures` for stored rows (ascending, checked by the batch): the same
    columns for the same records, and the rows left for the plain form. A sample whose payload
    :func:`~agent.payload_codec.decode_payload` refuses raises :class:`BadPayload`."""
    is_sample = [row[2] == _TEMPERATURE for row in rows]
    samples = list(itertools.compress(rows, is_sample))
    plain = list(itertools.compress(rows, map(operator.not_, is_sample)))
    if not samples:
        return [], plain
    groups = _canonical_group(samples)
    if groups is None:
        groups = _decoded_groups(samples)
    return _pack(groups, plain), plain


def _tick_shape(payload: bytes) -> tuple[tuple[str, ...], int] | None:
    """The probes of a tick whose payload is exactly :func:`~agent.payload_codec.
    encode_payload`'s encoding of it (so its readings are finite CBOR doubles), and the length
    of the encoding's head (all of it but the readings); None for any other payload."""
    try:
        value = payload_map(_TEMPERATURE, payload)
    except PayloadDecodeError:
        return None
    sample = TemperatureSample(tuple(value["probes"]), tuple(value["celsius"]))
    if encode_payload(sample) != payload:
        return None
    return sample.probes, len(payload) - _READING * len(sample.probes)


def _canonical_group(samples: list[StoredRow]) -> dict[Key, _Group] | None:
    """The samples as one group read straight from their payload bytes, when they share one
    probe set, boot epoch and clock state and every payload is that probe set's canonical
    encoding with finite readings - what :func:`~agent.payload_codec.payload_map` accepts and
    returns as ``{"probes": probes, "celsius": readings}`` for such bytes; None (the per-sample
    path decides) otherwise.

    A canonical payload is a head fixed by its probes, then each reading as a CBOR double: all
    the readings of the group are unpacked from one byte string, without a look at each tick.
    """
    seqs, epochs, _, walls, monos, synced, payloads = zip(*samples, strict=True)
    first = payloads[0]
    if len({*map(len, payloads)}) != 1 or len({*epochs}) != 1 or len({*map(bool, synced)}) != 1:
        return None
    shape = _tick_shape(first)
    if shape is None:
        return None
    probes, head_length = shape
    head = first[:head_length]
    cut = slice(None, head_length)
    if [payload[cut] for payload in payloads].count(head) != len(payloads):
        return None
    readings = b"".join([payload[head_length:] for payload in payloads])
    count = len(readings) // _READING
    if readings[::_READING] != bytes((_DOUBLE,)) * count:
        return None
    doubles = bytearray(8 * count)
    for byte in range(8):
        doubles[byte::8] = readings[1 + byte :: _READING]
    values = struct.unpack(f">{count}d", doubles)
    if not all(map(math.isfinite, values)):
        return None
    width = len(probes)
    key = (probes, epochs[0], bool(synced[0]))
    return {
        key: _Group(
            list(seqs),
            list(monos),
            list(walls),
            [list(values[i::width]) for i in range(width)],
            samples,
        )
    }


def _decoded_groups(samples: list[StoredRow]) -> dict[Key, _Group]:
    """The samples' groups, each payload decoded and checked on its own."""
    groups: dict[Key, _Group] = {}
    for row in samples:
        sequence, epoch, _, wall, mono, synced, _ = row
        payload = stored_payload_map(row)
        key = (tuple(payload["probes"]), epoch, bool(synced))
        _add(groups, key, (sequence, mono, wall), payload["celsius"]).records.append(row)
    return groups


@dataclass(frozen=True, slots=True)
class _Ticks:
    """A decoded column: its header and the ticks' absolute values, all checked."""

    probes: tuple[str, ...]
    epoch: int
    synchronised: bool
    divisor: int
    seqs: list[int]
    monos: list[int]
    walls: list[int]
    numerators: list[list[int]]
    """One list per probe."""

    def celsius(self) -> list[list[float]]:
        """The readings, one list per probe."""
        divisor = itertools.repeat(self.divisor)
        return [list(map(operator.truediv, column, divisor)) for column in self.numerators]


def _integers(value: object, where: str) -> list[int]:
    """An array of integers within CBOR's integer range, else the first bad item's typed
    error."""
    items = as_array(value, where)
    if items and {*map(type, items)} == {int} and _in_range(items):  # type: ignore[arg-type]
        return items  # type: ignore[return-value]
    return [as_int(item, f"{where}[{i}]", _LOW, _HIGH) for i, item in enumerate(items)]


def _probes(fields: Fields) -> tuple[str, ...]:
    """The column's probes: text, at least one, each once."""
    where = f"{fields.where}.probes"
    items = fields.array("probes")
    probes = tuple(as_text(item, f"{where}[{i}]", max_length=None) for i, item in enumerate(items))
    if not probes or len(set(probes)) != len(probes):
        raise ImpossibleValue(f"{where}: at least one probe, each once")
    return probes


def _ticks(value: object, where: str) -> _Ticks:
    """The column map ``value`` decoded and checked; typed errors for anything out of shape."""
    fields = Fields(value, where)
    probes = _probes(fields)
    epoch = fields.uint("epoch")
    synchronised = fields.boolean("synced")
    divisor = fields.integer("divisor", 1, MAX_DIVISOR)
    seq, mono, wall = (
        _integers(fields.raw(key), f"{where}.{key}") for key in ("seq", "mono", "wall")
    )
    columns = fields.array("values")
    if len(columns) != len(probes):
        raise ImpossibleValue(f"{where}.values: one array per probe ({len(probes)})")
    values = [_integers(column, f"{where}.values[{i}]") for i, column in enumerate(columns)]
    fields.finish()
    arrays = [seq, mono, wall, *values]
    if not seq or any(len(array) != len(seq) for array in arrays):
        raise ImpossibleValue(
            f"{where}: seq, mono, wall and values must be equally long, not empty"
        )
    seqs = list(itertools.accumulate(seq))
    steps = list(itertools.accumulate(mono[1:]))
    monos = list(itertools.accumulate([mono[0], *steps]))
    walls = list(map(operator.add, monos, itertools.accumulate(wall)))
    numerators = [list(itertools.accumulate(column)) for column in values]
    if not (
        min(seq[1:], default=1) >= 1
        and all(min(c) >= 0 and max(c) <= MAX_U64 for c in (seqs, monos, walls))
        and _in_range(*numerators)
    ):
        _raise_first_error(arrays, where)
    return _Ticks(probes, epoch, synchronised, divisor, seqs, monos, walls, numerators)


def _raise_first_error(arrays: list[list[int]], where: str) -> None:
    """Raise the error of the first tick out of shape, tick by tick."""
    seqs, monos, walls, *values = arrays
    sequence, mono, step, offset = seqs[0], monos[0], 0, walls[0]
    numerators = [column[0] for column in values]
    for i in range(len(seqs)):
        if i:
            if seqs[i] < 1:
                raise ImpossibleValue(f"{where}.seq[{i}]: sequences must increase")
            step = monos[i] if i == 1 else step + monos[i]
            sequence, mono, offset = sequence + seqs[i], mono + step, offset + walls[i]
            numerators = [n + column[i] for n, column in zip(numerators, values, strict=True)]
        wall = mono + offset
        for name, number in (("seq", sequence), ("mono", mono), ("wall", wall)):
            if not 0 <= number <= MAX_U64:
                raise ImpossibleValue(f"{where}: tick {i} has {name} {number} out of range")
        for p, numerator in enumerate(numerators):
            if not _LOW <= numerator <= _HIGH:
                raise ImpossibleValue(
                    f"{where}: tick {i} has value {numerator} out of range (probe {p})"
                )
    raise AssertionError(f"{where}: a column failed a check that no tick fails")


def decode_column(value: object, device: str, where: str) -> list[Event]:
    """The temperature events of one column map; typed errors for anything out of shape."""
    c = _ticks(value, where)
    return [
        Event(
            id=RecordId(device, c.epoch, sequence),
            wall_ns=wall,
            monotonic_ns=mono,
            clock_synchronised=c.synchronised,
            payload=TemperatureSample(c.probes, celsius),
        )
        for sequence, mono, wall, celsius in zip(
            c.seqs, c.monos, c.walls, zip(*c.celsius(), strict=True), strict=True
        )
    ]


def decode_column_rows(value: object, where: str) -> list[RecordRow]:
    """:func:`decode_column` as rows: the same checks, the same records, each payload in its
    canonical encoding (:func:`~agent.payload_codec.encode_payload` of the decoded sample)."""
    c = _ticks(value, where)
    payloads = _payloads(c.probes, c.celsius())
    count = len(payloads)
    return list(
        zip(
            itertools.repeat(c.epoch, count),
            c.seqs,
            itertools.repeat(_TEMPERATURE, count),
            c.walls,
            c.monos,
            itertools.repeat(c.synchronised, count),
            payloads,
            strict=True,
        )
    )


def _payloads(probes: tuple[str, ...], celsius: list[list[float]]) -> list[bytes]:
    """Each tick's canonical payload: the head its probes fix, then its readings as CBOR
    doubles - every reading of the column packed at once. The head is computed once, the whole
    encoding checked against the codec on the first tick."""
    width = len(probes)
    ticks = list(zip(*celsius, strict=True))
    first = encode_payload(TemperatureSample(probes, ticks[0]))
    head = first[: len(first) - _READING * width]
    flat = list(itertools.chain.from_iterable(ticks))
    doubles = struct.pack(f">{len(flat)}d", *flat)
    readings = bytearray(_READING * len(flat))
    readings[::_READING] = bytes((_DOUBLE,)) * len(flat)
    for byte in range(8):
        readings[1 + byte :: _READING] = doubles[byte::8]
    size = _READING * width
    packed = bytes(readings)
    payloads = [head + packed[at : at + size] for at in range(0, len(packed), size)]
    if payloads[0] != first:
        return [encode_payload(TemperatureSample(probes, tick)) for tick in ticks]
    return payloads
