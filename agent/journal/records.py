"""What one journal row is: its class, its columns, and the way back to an :class:`Event`.

Keeps invariant 4 of the brief at the level of data: every record has a :class:`RecordClass`
fixed when it is appended. Only ``ROUTINE`` records may ever be thinned; ``KEPT`` and
``EXCURSION`` records leave the journal only once acknowledged and past their retention.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from agent.events import Event, EventType, RecordId, TemperatureSample
from agent.payload_codec import decode_payload, encode_payload

__all__ = [
    "Classifier",
    "PendingRow",
    "RecordClass",
    "Row",
    "StoredRecord",
    "default_classify",
    "to_row",
]


class RecordClass(enum.IntEnum):
    """How the journal may treat a record under pressure (stored as this integer)."""

    ROUTINE = 0
    """May be thinned while pending and deleted early once acknowledged (temperature samples)."""
    KEPT = 1
    """Never deleted before acknowledged and past retention (dispenses, alarms, faults...)."""
    EXCURSION = 2
    """A sample outside the storage limits: kept like ``KEPT``, never thinned."""


Classifier = Callable[[Event], RecordClass]
"""Decides the class of an event when it is appended."""


def default_classify(event: Event) -> RecordClass:
    """Temperature samples are ``ROUTINE``; everything else is ``KEPT``."""
    if event.type is EventType.TEMPERATURE_SAMPLE:
        return RecordClass.ROUTINE
    return RecordClass.KEPT


Row = tuple[int, int, str, int, int, int, int, str | None, bytes]
"""The columns an append inserts: sequence, boot epoch, type, class, wall ns, monotonic ns,
clock synchronised (0/1), series, CBOR payload."""


PendingRow = tuple[int, int, str, int, int, int, bytes]
"""A pending record as the sync link reads it from the outbox, a plain tuple (cheap to fetch
by the hundred thousand): sequence, boot epoch, type, wall ns, monotonic ns, clock
synchronised (0/1), CBOR payload."""


def to_row(event: Event, record_class: RecordClass) -> Row:
    """The row that stores ``event``; the series groups the samples of one group of probes
    (the probes read together) for thinning."""
    payload = event.payload
    series = ",".join(payload.probes) if isinstance(payload, TemperatureSample) else None
    return (
        event.id.sequence,
        event.id.boot_epoch,
        event.type.value,
        int(record_class),
        event.wall_ns,
        event.monotonic_ns,
        int(event.clock_synchronised),
        series,
        encode_payload(payload),
    )


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One record as the journal holds it, with its payload still CBOR-encoded.

    The sync link can send ``payload`` as it is (no decode and re-encode); :meth:`to_event`
    rebuilds the typed :class:`Event` when one is needed.
    """

    device_id: str
    sequence: int
    boot_epoch: int
    type: str
    record_class: RecordClass
    wall_ns: int
    monotonic_ns: int
    clock_synchronised: bool
    payload: bytes
    acknowledged_wall_ns: int | None
    """Wall time (the caller's clock) of the acknowledgement; ``None`` while pending."""

    @property
    def id(self) -> RecordId:
        """The record's identity."""
        return RecordId(self.device_id, self.boot_epoch, self.sequence)

    @property
    def pending(self) -> bool:
        """True until the hospital side has acknowledged the record."""
        return self.acknowledged_wall_ns is None

    def to_event(self) -> Event:
        """The typed event; raises ``PayloadDecodeError`` if the payload does not decode."""
        return Event(
            self.id,
            self.wall_ns,
            self.monotonic_ns,
            self.clock_synchronised,
            decode_payload(self.type, self.payload),
        )
