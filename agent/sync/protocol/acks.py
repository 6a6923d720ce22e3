"""Batch acknowledgements: what the hospital side committed to its database (invariant 2).

A positive acknowledgement names exactly the records it covers, as ranges of sequences per
boot epoch; the device marks those records acknowledged and nothing else. The receiver sends
it only after its own database commit - never on receipt, never on a broker's PUBACK. A
negative acknowledgement names a :class:`RejectReason` and covers no record.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from agent.sync.protocol.errors import ImpossibleValue, RejectReason, WrongType
from agent.sync.protocol.fields import Fields, as_array, as_text, as_uint
from agent.sync.protocol.records import RecordBatch
from agent.sync.protocol.topics import TopicKind, check_identifier

__all__ = ["AckStatus", "BatchAck", "SequenceRange", "ranges_of"]

_RANGE_LENGTH = 3

Key = tuple[int, int]


class AckStatus(enum.StrEnum):
    """Whether the receiver committed a batch or refused it."""

    COMMITTED = "committed"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True, order=True)
class SequenceRange:
    """Sequences ``first`` to ``last`` (inclusive) of boot epoch ``epoch``."""

    epoch: int
    first: int
    last: int

    def __post_init__(self) -> None:
        as_uint(self.epoch, "epoch")
        as_uint(self.first, "first")
        as_uint(self.last, "last")
        if self.first > self.last:
            raise ImpossibleValue(f"range {self.first}..{self.last} is empty")

    def covers(self, epoch: int, sequence: int) -> bool:
        """Whether the record (``epoch``, ``sequence``) is in this range."""
        return epoch == self.epoch and self.first <= sequence <= self.last


def ranges_of(keys: Iterable[tuple[int, int]]) -> tuple[SequenceRange, ...]:
    """The fewest ranges covering exactly the (epoch, sequence) ``keys``, in order."""
    ranges: list[SequenceRange] = []
    ordered = sorted(set(keys))
    if not ordered:
        return ()
    epoch, first = ordered[0]
    last = first
    for key_epoch, sequence in ordered[1:]:
        if key_epoch == epoch and sequence == last + 1:
            last = sequence
            continue
        ranges.append(SequenceRange(epoch, first, last))
        epoch, first, last = key_epoch, sequence, sequence
    ranges.append(SequenceRange(epoch, first, last))
    return tuple(ranges)


@dataclass(frozen=True, slots=True)
class BatchAck:
    """The receiver's answer to one batch, sent to the batch's response topic.

    Committed: ``ranges`` (ascending, not overlapping, at least one) and no reason. Rejected:
    no ranges, a ``reason`` and a human-readable ``detail``.
    """

    KIND: ClassVar[str] = "ack"
    TOPIC: ClassVar[TopicKind] = TopicKind.ACKS

    device: str
    status: AckStatus
    ranges: tuple[SequenceRange, ...] = ()
    reason: RejectReason | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        check_identifier(self.device, "device")
        as_text(self.detail, "detail")
        object.__setattr__(self, "status", AckStatus(self.status))
        object.__setattr__(self, "ranges", tuple(self.ranges))
        if self.status is AckStatus.COMMITTED:
            if not self.ranges or self.reason is not None or self.detail:
                raise ImpossibleValue("a committed ack has ranges and no reason nor detail")
            for before, after in zip(self.ranges, self.ranges[1:], strict=False):
                if (after.epoch, after.first) <= (before.epoch, before.last):
                    raise ImpossibleValue(f"ranges overlap or are out of order: {before}, {after}")
        elif self.ranges or self.reason is None:
            raise ImpossibleValue("a rejected ack has a reason and no ranges")
        else:
            object.__setattr__(self, "reason", RejectReason(self.reason))

    @classmethod
    def committed(cls, batch: RecordBatch) -> BatchAck:
        """The acknowledgement of every record of ``batch``, to send after the commit."""
        return cls(
            device=batch.device,
            status=AckStatus.COMMITTED,
            ranges=ranges_of((e.id.boot_epoch, e.id.sequence) for e in batch.records),
        )

    @classmethod
    def rejected(cls, device: str, reason: RejectReason, detail: str) -> BatchAck:
        """A negative acknowledgement."""
        return cls(device=device, status=AckStatus.REJECTED, reason=reason, detail=detail)

    def covers(self, epoch: int, sequence: int) -> bool:
        """Whether this ack commits the record (``epoch``, ``sequence``)."""
        return any(r.covers(epoch, sequence) for r in self.ranges)

    def split(self, keys: Iterable[tuple[int, int]]) -> tuple[list[Key], list[Key]]:
        """``keys`` (epoch, sequence) as those this ack commits and the others, each in the
        given order: :meth:`covers` for many keys at once."""
        by_epoch: dict[int, list[SequenceRange]] = {}
        for r in self.ranges:
            by_epoch.setdefault(r.epoch, []).append(r)
        covered: list[Key] = []
        uncovered: list[Key] = []
        for key in keys:
            epoch, sequence = key
            ranges = by_epoch.get(epoch, ())
            if len(ranges) == 1:
                hit = ranges[0].first <= sequence <= ranges[0].last
            else:
                hit = any(r.first <= sequence <= r.last for r in ranges)
            (covered if hit else uncovered).append(key)
        return covered, uncovered

    @classmethod
    def committed_keys(cls, device: str, keys: Iterable[Key]) -> BatchAck:
        """The acknowledgement of exactly the records ``keys`` (epoch, sequence) of
        ``device``, to send after the commit."""
        return cls(device=device, status=AckStatus.COMMITTED, ranges=ranges_of(keys))

    def to_fields(self) -> dict[str, Any]:
        """The message's fields (besides version and kind), ready for CBOR."""
        if self.status is AckStatus.COMMITTED:
            ranges = [[r.epoch, r.first, r.last] for r in self.ranges]
            return {"device": self.device, "status": str(self.status), "ranges": ranges}
        return {
            "device": self.device,
            "status": str(self.status),
            "reason": str(self.reason),
            "detail": self.detail,
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> BatchAck:
        """The acknowledgement the fields describe."""
        device = fields.text("device")
        status = fields.choice("status", AckStatus)
        if status is AckStatus.COMMITTED:
            ranges = tuple(
                _range(item, f"{fields.where}.ranges[{i}]")
                for i, item in enumerate(fields.array("ranges"))
            )
            return cls(device=device, status=status, ranges=ranges)
        reason = fields.choice("reason", RejectReason)
        return cls.rejected(device, reason, fields.text("detail"))


def _range(value: object, where: str) -> SequenceRange:
    item = as_array(value, where)
    if len(item) != _RANGE_LENGTH:
        raise WrongType(f"{where}: a range is [epoch, first, last]")
    epoch, first, last = (as_uint(v, where) for v in item)
    return SequenceRange(epoch, first, last)
