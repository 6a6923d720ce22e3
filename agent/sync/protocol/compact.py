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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.events import Event, RecordId, TemperatureSample
from agent.sync.protocol.errors import ImpossibleValue
from agent.sync.protocol.fields import MAX_U64, Fields, as_int

__all__ = ["DIVISORS", "MAX_DIVISOR", "decode_column", "pack_temperatures"]

DIVISORS = (100, 1000, 128)
"""Scales the encoder tries, in order of preference: centi-degrees, milli-degrees, and the
1/128 °C steps of a TI TMP117 (which also cover a DS18B20's 1/16 °C)."""

MAX_DIVISOR = 1_000_000
"""Largest divisor a decoder accepts."""

_LOW = -(2**64)
_HIGH = 2**64 - 1
"""The range of CBOR's integer major types 0 and 1: column items never need a bignum."""
_SCALED_LIMIT = 2.0**64


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

    def offer(self, event: Event, numerator: int) -> bool:
        """Append ``event`` if all its items fit; False leaves the column unchanged."""
        sequence, mono = event.id.sequence, event.monotonic_ns
        offset = event.wall_ns - mono
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


def _best_divisor(samples: Sequence[Event]) -> int | None:
    """The divisor representing the most samples exactly (the first one on a tie), if any."""
    counts = [
        sum(_numerator(_celsius(event), divisor) is not None for event in samples)
        for divisor in DIVISORS
    ]
    best = max(counts)
    return DIVISORS[counts.index(best)] if best else None


def _celsius(event: Event) -> float:
    assert isinstance(event.payload, TemperatureSample)
    return event.payload.celsius


def pack_temperatures(records: Iterable[Event]) -> tuple[list[dict[str, Any]], list[Event]]:
    """Split ``records`` (ascending) into column maps and the events left for the plain form."""
    groups: dict[tuple[str, int, bool], list[Event]] = {}
    plain: list[Event] = []
    for event in records:
        if isinstance(event.payload, TemperatureSample):
            key = (event.payload.probe, event.id.boot_epoch, event.clock_synchronised)
            groups.setdefault(key, []).append(event)
        else:
            plain.append(event)
    columns: list[dict[str, Any]] = []
    for (probe, epoch, synchronised), samples in groups.items():
        divisor = _best_divisor(samples)
        column = None if divisor is None else _Column(probe, epoch, synchronised, divisor)
        for event in samples:
            numerator = None if column is None else _numerator(_celsius(event), column.divisor)
            if column is None or numerator is None or not column.offer(event, numerator):
                plain.append(event)
        if column is not None and column.seq:
            columns.append(column.to_map())
    return columns, plain


def decode_column(value: object, device: str, where: str) -> list[Event]:
    """The temperature events of one column map; typed errors for anything out of shape."""
    fields = Fields(value, where)
    probe = fields.text("probe", max_length=None)
    epoch = fields.uint("epoch")
    synchronised = fields.boolean("synced")
    divisor = fields.integer("divisor", 1, MAX_DIVISOR)
    arrays = [
        [
            as_int(item, f"{where}.{key}[{i}]", _LOW, _HIGH)
            for i, item in enumerate(fields.array(key))
        ]
        for key in ("seq", "mono", "wall", "value")
    ]
    fields.finish()
    seqs, monos, walls, values = arrays
    if not seqs or any(len(array) != len(seqs) for array in arrays):
        raise ImpossibleValue(f"{where}: seq, mono, wall and value must be equally long, not empty")
    events: list[Event] = []
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
        events.append(
            Event(
                id=RecordId(device, epoch, sequence),
                wall_ns=wall,
                monotonic_ns=mono,
                clock_synchronised=synchronised,
                payload=TemperatureSample(probe=probe, celsius=numerator / divisor),
            )
        )
    return events
