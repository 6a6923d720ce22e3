"""A week of a cabinet's records, generated: the backlog a device builds while offline.

Tests and benchmarks of the journal, the wire format and the sync drain need the same realistic
load (issue 3): a 72-slot cabinet's 8 probes read together every 10 s for 7 days (60,480 ticks
of 8 readings, 483,840 samples, recorded with loop latency and read jitter; readings around
4 °C at 0.01 °C resolution with 0.01-0.05 °C noise and a slow drift) and 5,000 other events in
between - 65,480 records. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from agent.events import Event, PresenceChanged, RecordId, TemperatureSample

__all__ = ["WEEK_OF_READINGS", "WEEK_OF_RECORDS", "week_of_records"]

_PROBES = 8
_PERIOD_NS = 10_000_000_000
_WEEK_ROUNDS = 7 * 24 * 3600 // 10
_EVENTS = 5_000
_WALL_OFFSET_NS = 1_767_600_000_000_000_000  # 2026-01-05T08:00:00Z at monotonic zero

WEEK_OF_READINGS = _WEEK_ROUNDS * _PROBES
"""How many temperature readings :func:`week_of_records` holds (in its ticks' samples)."""

WEEK_OF_RECORDS = _WEEK_ROUNDS + _EVENTS
"""How many records :func:`week_of_records` yields."""


def week_of_records(
    device_id: str, *, seed: int = 7, boot_epoch: int = 1, first_sequence: int = 0
) -> Iterator[Event]:
    """The week's records in sequence order (see the module docstring)."""
    rng = random.Random(seed)
    event_rounds = set(rng.sample(range(_WEEK_ROUNDS), _EVENTS))
    probes = tuple(f"probe-{p}" for p in range(_PROBES))
    level = [4.0 + 0.3 * p for p in range(_PROBES)]
    sequence = first_sequence
    for k in range(_WEEK_ROUNDS):
        start = 3_000_000_000 + k * _PERIOD_NS + rng.randrange(100_000, 3_000_000)
        readings = []
        for p in range(_PROBES):
            level[p] += rng.gauss(0, 0.002)
            readings.append(round(level[p] + rng.gauss(0, rng.choice((0.01, 0.03, 0.05))), 2))
        mono = start + _PROBES * 1_500_000 + rng.randrange(-200_000, 200_000)
        yield Event(
            RecordId(device_id, boot_epoch, sequence),
            _WALL_OFFSET_NS + mono,
            mono,
            True,
            TemperatureSample(probes, tuple(readings)),
        )
        sequence += 1
        if k in event_rounds:
            mono = start + 20_000_000
            yield Event(
                RecordId(device_id, boot_epoch, sequence),
                _WALL_OFFSET_NS + mono,
                mono,
                True,
                PresenceChanged(slot=1 + rng.randrange(72), present=rng.random() < 0.5),
            )
            sequence += 1
