"""Gap detection: when to ask a device to resend what the database is missing.

Invariant kept: **a gap is asked for, but never in a storm.** A device's stored sequences have a
gap when something above ``contiguous_through`` is stored (``DeviceProgress.has_gap``). A gap
is normal for a while - a device drains its backlog while it sends live records, so the live
ones arrive first - and only a gap whose lower edge stopped moving for ``grace_s`` is asked
for, with a resync from ``contiguous_through + 1``. Then, per device:

- at most one resync every ``interval_s``;
- never again for the same first missing sequence while the previous one is outstanding (until
  its expiry, ``lifetime_s``, or until the device answered it);
- after ``max_attempts`` resyncs for the same first missing sequence, the gap is final (the
  device may have thinned routine samples under storage pressure, ``docs/protocol.md`` 5.4): it
  is logged and not asked for again until the edge moves.

Pure bookkeeping on an injected monotonic clock: no I/O, no threads (the caller serialises).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from agent.sync.protocol import Topic, TopicKind
from hospital_receiver.store import DeviceProgress

__all__ = ["GapWatch", "ResyncPolicy", "ResyncRequest"]

_log = logging.getLogger("hospital_receiver.gaps")


@dataclass(frozen=True, slots=True)
class ResyncPolicy:
    """How eagerly gaps are asked for (seconds)."""

    grace_s: float = 30.0
    """How long a gap's lower edge must stand still before it is asked for."""
    interval_s: float = 60.0
    """At most one resync per device this often."""
    lifetime_s: float = 60.0
    """A resync command's lifetime (its expiry); outstanding until then or answered."""
    max_attempts: int = 3
    """Resyncs for the same first missing sequence before the gap is taken as final."""

    def __post_init__(self) -> None:
        if min(self.grace_s, self.interval_s) < 0 or self.lifetime_s <= 0:
            raise ValueError("grace and interval must be >= 0 and the lifetime > 0")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


@dataclass(frozen=True, slots=True)
class ResyncRequest:
    """Ask the device whose commands topic is ``topic`` to resend from ``from_sequence``."""

    topic: Topic
    from_sequence: int
    lifetime_s: float


@dataclass(slots=True)
class _Gap:
    topic: Topic
    edge: int
    """``contiguous_through`` when last seen."""
    since: float
    """When the edge was first seen where it is."""
    attempts: int = 0
    """Resyncs sent from ``edge + 1``."""
    outstanding_until: float | None = None


class GapWatch:
    """Per device: the open gap, and the resyncs sent for it."""

    def __init__(self, policy: ResyncPolicy, clock: Callable[[], float]) -> None:
        self.policy = policy
        self._clock = clock
        self._gaps: dict[str, _Gap] = {}
        self._last_sent: dict[str, float] = {}

    @property
    def open_gaps(self) -> dict[str, Topic]:
        """Devices with a gap not filled yet, with their commands topics (for periodic checks)."""
        return {device: gap.topic for device, gap in self._gaps.items()}

    def observe(self, topic: Topic, progress: DeviceProgress) -> ResyncRequest | None:
        """Record ``progress`` of ``topic``'s device; the resync to send now, if any."""
        device = progress.device
        now = self._clock()
        if not progress.has_gap:
            self._gaps.pop(device, None)
            return None
        commands = topic.sibling(TopicKind.COMMANDS)
        gap = self._gaps.get(device)
        if gap is None or gap.edge != progress.contiguous_through:
            gap = _Gap(commands, progress.contiguous_through, since=now)
            self._gaps[device] = gap
        if not self._due(gap, device, now):
            return None
        gap.attempts += 1
        gap.outstanding_until = now + self.policy.lifetime_s
        self._last_sent[device] = now
        if gap.attempts == self.policy.max_attempts:
            _log.warning(
                "last resync for this gap: if it stays, it is final",
                extra={"fields": {"device": device, "from": gap.edge + 1}},
            )
        return ResyncRequest(commands, gap.edge + 1, self.policy.lifetime_s)

    def answered(self, device: str) -> None:
        """The device answered our resync: it is no longer outstanding."""
        gap = self._gaps.get(device)
        if gap is not None:
            gap.outstanding_until = None

    def _due(self, gap: _Gap, device: str, now: float) -> bool:
        policy = self.policy
        last = self._last_sent.get(device)
        return (
            gap.attempts < policy.max_attempts
            and now - gap.since >= policy.grace_s
            and (last is None or now - last >= policy.interval_s)
            and (gap.outstanding_until is None or now >= gap.outstanding_until)
        )
