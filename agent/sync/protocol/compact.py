"""The compact form of temperature samples: per-probe columns of small integer deltas.

A 72-slot cabinet logs eight probes every ten seconds; sent one by one, each sample would cost
some 80 bytes. Here the samples of one probe (within one boot epoch and one clock-synchronised
state) become a column of four integer arrays whose items are mostly one or a few bytes:

* ``seq``: the first sequence, then the difference to the previous sample's;
* ``mono``: the first monotonic time, the first difference, then differences of differences
  (a steady sampling period encodes as the jitter around it);
* ``wall``: the first ``wall_ns - mono_ns``, then its differences (zero while the wall clock
  runs with the monotonic one);
* ``value``: the reading times ``divisor`` as an integer, then its differences.

Keeps exactness: a sample is put in a column only if ``value / divisor`` is, bit for bit, the
float it carries and every item fits CBOR's integer range; any other sample travels in the
plain form. Decoding a column gives back events equal to the ones encoded.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cbor2

from agent.events import Event, EventType, RecordId, TemperatureSample
from agent.payload_codec import encode_payload
from agent.sync.protocol.errors import ImpossibleValue
from agent.sync.protocol.fields import MAX_U64, Fields, as_int
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
    non-finite value leave it to the exact per-sample check.
    """
    if 0.0 in values:  # 0.0 or -0.0: only the per-sample check tells them apart
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
    """A column being built; samples are offered in ascending sequence order."""

    probe: str
    epoch: int
    synchronised: bool
    divisor: int
    seq: list[int] = field(default_factory=list)
    mono: list[int] = field(default_factory=list)
    wall: list[int] = field(default_factory=list)
    value: list[int] = field(default_factory=list)
    _last: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    """Previous sample's sequence, monotonic time, monotonic step, wall offset, numerator."""

    def offer(self, sequence: int, mono: int, wall: int, numerator: int) -> bool:
        """Append the sample if all its items fit; False leaves the column unchanged."""
        offset = wall - mono
        if not self.seq:
            step = 0
            items = (sequence, mono, offset, numerator)
        else:
            last_seq, last_mono, last_step, last_offset, last_value = self._last
            step = mono - last_mono
            items = (
                sequence - last_seq,
                step if len(self.seq) == 1 else step - last_step,
                offset - last_offset,
                numerator - last_value,
            )
        if not all(_LOW <= item <= _HIGH for item in items):
            return False
        for column, item in zip((self.seq, self.mono, self.wall, self.value), items, strict=True):
            column.append(item)
        self._last = (sequence, mono, step, offset, numerator)
        return True

    def fill(self, seqs: list[int], monos: list[int], walls: list[int], nums: list[int]) -> bool:
        """Every sample at once, if every item of every sample fits (then exactly what offering
        them one by one gives); False leaves the column unchanged."""
        offsets = list(map(operator.sub, walls, monos))
        steps = _differences(monos)
        mono = [steps[0], *_differences(steps[1:])] if len(steps) > 1 else steps
        columns = (_differences(seqs), mono, _differences(offsets), _differences(nums))
        if not _in_range(*columns):
            return False
        self.seq, self.mono, self.wall, self.value = (list(c) for c in columns)
        return True

    def to_map(self) -> dict[str, Any]:
        return {
            "probe": self.probe,
            "epoch": self.epoch,
            "synced": self.synchronised,
            "divisor": self.divisor,
            "seq": self.seq,
            "mono": self.mono,
            "wall": self.wall,
            "value": self.value,
        }


@dataclass(slots=True)
class _Group:
    """The samples of one probe, boot epoch and clock state, as parallel lists."""

    seqs: list[int] = field(default_factory=list)
    monos: list[int] = field(default_factory=list)
    walls: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)


def _best_divisor(values: Sequence[float]) -> int | None:
    """The divisor representing the most samples exactly (the first one on a tie), if any."""
    counts = [
        sum(_numerator(value, divisor) is not None for value in values) for divisor in DIVISORS
    ]
    best = max(counts)
    return DIVISORS[counts.index(best)] if best else None


def _pack_group(
    key: tuple[str, int, bool], group: _Group, plain: list[Any]
) -> dict[str, Any] | None:
    """The column map of ``group`` (None if no sample fits); the samples that do not fit go
    to ``plain``."""
    probe, epoch, synchronised = key
    # Fast path: the first divisor represents every sample (the best, and the first on a tie).
    numerators = _all_numerators(group.values, DIVISORS[0])
    if numerators is not None:
        column = _Column(probe, epoch, synchronised, DIVISORS[0])
        if column.fill(group.seqs, group.monos, group.walls, numerators):
            return column.to_map()
    divisor = _best_divisor(group.values)
    if divisor is None:
        plain.extend(group.records)
        return None
    column = _Column(probe, epoch, synchronised, divisor)
    for i, record in enumerate(group.records):
        numerator = _numerator(group.values[i], divisor)
        if numerator is None or not column.offer(
            group.seqs[i], group.monos[i], group.walls[i], numerator
        ):
            plain.append(record)
    return column.to_map() if column.seq else None


def _pack(groups: dict[tuple[str, int, bool], _Group], plain: list[Any]) -> list[dict[str, Any]]:
    columns = [_pack_group(key, group, plain) for key, group in groups.items()]
    return [column for column in columns if column is not None]


def pack_temperatures(records: Iterable[Event]) -> tuple[list[dict[str, Any]], list[Event]]:
    """Split ``records`` (ascending) into column maps and the events left for the plain form."""
    groups: dict[tuple[str, int, bool], _Group] = {}
    plain: list[Event] = []
    for event in records:
        payload = event.payload
        if isinstance(payload, TemperatureSample):
            key = (payload.probe, event.id.boot_epoch, event.clock_synchronised)
            group = groups.get(key)
            if group is None:
                group = groups[key] = _Group()
            group.seqs.append(event.id.sequence)
            group.monos.append(event.monotonic_ns)
            group.walls.append(event.wall_ns)
            celsius = payload.celsius
            group.values.append(celsius if type(celsius) is float else float(celsius))
            group.records.append(event)
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
    groups = _canonical_groups(samples)
    if groups is None:
        groups = _decoded_groups(samples)
    return _pack(groups, plain), plain


_HEAD = slice(None, -8)
_TAIL = slice(-8, None)


@functools.lru_cache(maxsize=256)
def _canonical_probe(head: bytes) -> str | None:
    """The probe whose samples encode as ``head`` followed by the reading's 8 bytes, if
    ``head`` is exactly that prefix of :func:`~agent.payload_codec.encode_payload`'s encoding
    (a map of ``probe``, then ``celsius`` as a CBOR double); None for anything else."""
    try:
        value = cbor2.loads(head + bytes(8))
    # A third-party decoder on a stored payload: whatever it raises, the slow path decides.
    except Exception:  # noqa: BLE001
        return None
    probe = value.get("probe") if type(value) is dict else None
    if type(probe) is not str:
        return None
    sample = TemperatureSample(probe, 0.0)
    return probe if encode_payload(sample) == head + bytes(8) else None


def _canonical_groups(samples: list[StoredRow]) -> dict[tuple[str, int, bool], _Group] | None:
    """The samples' groups read straight from their payload bytes, when every payload is a
    probe's canonical prefix (:func:`_canonical_probe`) and a finite double - what
    ``payload_map`` accepts and returns as ``{"probe": probe, "celsius": value}`` for such
    bytes; None (the per-sample path decides) otherwise.

    A cabinet samples its probes in turn: when every ``n``-th sample is the same probe's (``n``
    probes, one boot epoch and clock state), each group is a slice, taken without a look at
    each sample; otherwise samples are grouped one by one."""
    seqs, epochs, _, walls, monos, synced, payloads = zip(*samples, strict=True)
    heads = [payload[:-8] for payload in payloads]
    probes: dict[bytes, str] = {}
    for head in set(heads):
        probe = _canonical_probe(head)
        if probe is None:
            return None
        probes[head] = probe
    values = struct.unpack(f">{len(samples)}d", b"".join([payload[-8:] for payload in payloads]))
    if not all(map(math.isfinite, values)):
        return None
    period = len(probes)
    if heads[period:] == heads[:-period] and len({*epochs}) == 1 and len({*synced}) == 1:
        epoch, clock = epochs[0], bool(synced[0])
        return {
            (probes[heads[i]], epoch, clock): _Group(
                list(seqs[i::period]),
                list(monos[i::period]),
                list(walls[i::period]),
                list(values[i::period]),
                samples[i::period],
            )
            for i in range(period)
        }
    keys = list(zip(map(probes.__getitem__, heads), epochs, map(bool, synced), strict=True))
    members: dict[tuple[str, int, bool], list[int]] = {key: [] for key in dict.fromkeys(keys)}
    for i, key in enumerate(keys):
        members[key].append(i)
    return {
        key: _Group(
            list(map(seqs.__getitem__, indexes)),
            list(map(monos.__getitem__, indexes)),
            list(map(walls.__getitem__, indexes)),
            list(map(values.__getitem__, indexes)),
            list(map(samples.__getitem__, indexes)),
        )
        for key, indexes in members.items()
    }


def _decoded_groups(samples: list[StoredRow]) -> dict[tuple[str, int, bool], _Group]:
    """The samples' groups, each payload decoded and checked on its own."""
    groups: dict[tuple[str, int, bool], _Group] = {}
    for row in samples:
        sequence, epoch, _, wall, mono, synced, _ = row
        payload = stored_payload_map(row)
        key = (payload["probe"], epoch, bool(synced))
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group()
        group.seqs.append(sequence)
        group.monos.append(mono)
        group.walls.append(wall)
        group.values.append(payload["celsius"])
        group.records.append(row)
    return groups


@dataclass(frozen=True, slots=True)
class _Samples:
    """A decoded column: its header and the samples' absolute values, all checked."""

    probe: str
    epoch: int
    synchronised: bool
    divisor: int
    seqs: list[int]
    monos: list[int]
    walls: list[int]
    numerators: list[int]


def _integers(fields: Fields, key: str, where: str) -> list[int]:
    """Array field ``key``: integers within CBOR's integer range, else the first bad item's
    typed error."""
    items = fields.array(key)
    if items and {*map(type, items)} == {int} and _in_range(items):  # type: ignore[arg-type]
        return items  # type: ignore[return-value]
    return [as_int(item, f"{where}.{key}[{i}]", _LOW, _HIGH) for i, item in enumerate(items)]


def _samples(value: object, where: str) -> _Samples:
    """The column map ``value`` decoded and checked; typed errors for anything out of shape."""
    fields = Fields(value, where)
    probe = fields.text("probe", max_length=None)
    epoch = fields.uint("epoch")
    synchronised = fields.boolean("synced")
    divisor = fields.integer("divisor", 1, MAX_DIVISOR)
    arrays = [_integers(fields, key, where) for key in ("seq", "mono", "wall", "value")]
    fields.finish()
    seq, mono, wall, value = arrays
    if not seq or any(len(array) != len(seq) for array in arrays):
        raise ImpossibleValue(f"{where}: seq, mono, wall and value must be equally long, not empty")
    seqs = list(itertools.accumulate(seq))
    steps = list(itertools.accumulate(mono[1:]))
    monos = list(itertools.accumulate([mono[0], *steps]))
    walls = list(map(operator.add, monos, itertools.accumulate(wall)))
    numerators = list(itertools.accumulate(value))
    if not (
        min(seq[1:], default=1) >= 1
        and all(min(c) >= 0 and max(c) <= MAX_U64 for c in (seqs, monos, walls))
        and _in_range(numerators)
    ):
        _raise_first_error(arrays, where)
    return _Samples(probe, epoch, synchronised, divisor, seqs, monos, walls, numerators)


def _raise_first_error(arrays: list[list[int]], where: str) -> None:
    """Raise the error of the first sample out of shape, sample by sample."""
    seqs, monos, walls, values = arrays
    sequence, mono, step, offset, numerator = seqs[0], monos[0], 0, walls[0], values[0]
    for i in range(len(seqs)):
        if i:
            if seqs[i] < 1:
                raise ImpossibleValue(f"{where}.seq[{i}]: sequences must increase")
            step = monos[i] if i == 1 else step + monos[i]
            sequence, mono = sequence + seqs[i], mono + step
            offset, numerator = offset + walls[i], numerator + values[i]
        wall = mono + offset
        for name, number in (("seq", sequence), ("mono", mono), ("wall", wall)):
            if not 0 <= number <= MAX_U64:
                raise ImpossibleValue(f"{where}: sample {i} has {name} {number} out of range")
        if not _LOW <= numerator <= _HIGH:
            raise ImpossibleValue(f"{where}: sample {i} has value {numerator} out of range")
    raise AssertionError(f"{where}: a column failed a check that no sample fails")


def decode_column(value: object, device: str, where: str) -> list[Event]:
    """The temperature events of one column map; typed errors for anything out of shape."""
    c = _samples(value, where)
    return [
        Event(
            id=RecordId(device, c.epoch, sequence),
            wall_ns=wall,
            monotonic_ns=mono,
            clock_synchronised=c.synchronised,
            payload=TemperatureSample(probe=c.probe, celsius=numerator / c.divisor),
        )
        for sequence, mono, wall, numerator in zip(
            c.seqs, c.monos, c.walls, c.numerators, strict=True
        )
    ]


def decode_column_rows(value: object, where: str) -> list[RecordRow]:
    """:func:`decode_column` as rows: the same checks, the same records, each payload in its
    canonical encoding (:func:`~agent.payload_codec.encode_payload` of the decoded sample)."""
    c = _samples(value, where)
    celsius = map(operator.truediv, c.numerators, itertools.repeat(c.divisor))
    # A sample's encoding is a fixed head, then its value as a CBOR double (major type 7,
    # 0xfb): the head is computed once, the whole encoding checked against the codec on the
    # first sample.
    head = encode_payload(TemperatureSample(c.probe, 0.0))[:-8]
    encoding = _payload_struct(len(head))
    payloads = list(map(encoding.pack, itertools.repeat(head), celsius))
    first = TemperatureSample(c.probe, c.numerators[0] / c.divisor)
    if payloads[0] != encode_payload(first):
        payloads = [
            encode_payload(TemperatureSample(c.probe, numerator / c.divisor))
            for numerator in c.numerators
        ]
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


@functools.lru_cache(maxsize=64)
def _payload_struct(head_length: int) -> struct.Struct:
    """Packs a sample's head (its encoding up to its double's 8 bytes) and its reading."""
    return struct.Struct(f">{head_length}sd")
