"""The send side of the sync link as a pure state machine: what to send next, what is in flight.

No I/O and no clock of its own: the link asks :meth:`SendSession.next_fetch` which part of the
journal's outbox to read, hands the records it read to :meth:`SendSession.take`, reports each
batch it publishes with :meth:`SendSession.sent`, and feeds in acknowledgements, timeouts
(:meth:`SendSession.expire`, with the event loop's time) and reconnections
(:meth:`SendSession.restart`).

Invariants it keeps (``tests/test_sync_session.py`` checks them with a Hypothesis state machine
against a model of the journal):

* **Only a committed ack acknowledges.** :meth:`SendSession.acknowledged` returns the keys a
  committed ack covers *and* that were sent in the batch its correlation data names - never a
  key of another batch, never from a rejection.
* **Nothing leaves eligibility except by ack.** Every pending record is, at every moment,
  either in exactly one batch in flight, held back after a rejection until a known time, or
  ahead of the cursor of its stream (so the next fetches return it). A timeout, a reconnect, a
  rejection's hold running out, a publish that failed or a resync puts records back by
  rewinding a cursor.
* **A bounded window.** At most ``window`` batches are in flight (sent, not acknowledged).
* **Live records are not stuck behind the backlog.** Records appended after the connection
  (sequence >= ``live_from``) are read through a live cursor, older ones through a backlog
  cursor; when both have work the fetches alternate, so a live batch waits for at most one
  backlog batch. Backlog batches are flagged historical.

Records are identified by their key ``(boot epoch, sequence)``; sequences increase across boot
epochs, so cursors and ordering use the sequence alone.
"""

from __future__ import annotations

import enum
import heapq
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agent.sync.protocol import AckStatus, BatchAck, RejectReason

__all__ = ["AckResult", "Fetch", "InFlight", "Key", "SendSession", "StreamKind"]

Key = tuple[int, int]
"""A record's (boot epoch, sequence)."""

_LATE_BATCHES_PER_SLOT = 4


class StreamKind(enum.Enum):
    """Which cursor a fetch reads through."""

    LIVE = "live"
    BACKLOG = "backlog"


@dataclass(frozen=True, slots=True)
class Fetch:
    """Read the pending records with ``after < sequence < before`` (``before`` None: no bound)."""

    stream: StreamKind
    after: int
    before: int | None
    generation: int
    appends: int

    @property
    def historical(self) -> bool:
        """Whether batches of these records are backlog."""
        return self.stream is StreamKind.BACKLOG


@dataclass(frozen=True, slots=True)
class InFlight:
    """A batch sent and not yet answered."""

    keys: tuple[Key, ...]
    historical: bool
    sent_at: float
    deadline: float


@dataclass(frozen=True, slots=True)
class AckResult:
    """What an acknowledgement means for the journal and the operator.

    ``acknowledged``: mark these records acknowledged. ``held``: a rejection holds these records
    back for a while. ``alarm``: the receiver refused the batch for a reason resending will not
    cure soon (raise an alarm; the records are kept and retried later). ``known``: the
    correlation data named a batch this session sent.
    """

    acknowledged: tuple[Key, ...] = ()
    held: tuple[Key, ...] = ()
    alarm: RejectReason | None = None
    known: bool = True


@dataclass(slots=True)
class _Cursor:
    position: int
    """The highest sequence read through this cursor."""
    exhausted: bool = False
    """The last fetch found nothing after ``position``: no fetch until something changes."""
    generation: int = 0
    """Bumped on every rewind: a fetch started before it is stale."""

    def rewind(self, position: int) -> None:
        self.reset(min(self.position, position))

    def reset(self, position: int) -> None:
        self.position = position
        self.exhausted = False
        self.generation += 1


class SendSession:
    """Send-side bookkeeping of the link, kept across connections (see the module docstring).

    ``window``: batches in flight at most. ``ack_timeout``: seconds to wait for an ack before
    the batch's records are sent again. ``unavailable_retry`` / ``rejected_retry``: seconds a
    batch's records are held back after a rejection with ``unavailable`` / any other reason.
    ``correlation_prefix``: random bytes that make this session's correlation data unique
    across restarts. ``live_from``: the first sequence appended after connecting.
    """

    def __init__(
        self,
        *,
        window: int,
        ack_timeout: float,
        unavailable_retry: float,
        rejected_retry: float,
        correlation_prefix: bytes,
        live_from: int = 0,
    ) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if min(ack_timeout, unavailable_retry, rejected_retry) <= 0:
            raise ValueError("timeouts and retry delays must be positive")
        self.window = window
        self.ack_timeout = ack_timeout
        self.unavailable_retry = unavailable_retry
        self.rejected_retry = rejected_retry
        self._prefix = correlation_prefix
        self._counter = 0
        self._in_flight: dict[bytes, InFlight] = {}
        self._in_flight_keys: set[Key] = set()
        self._late: OrderedDict[bytes, tuple[Key, ...]] = OrderedDict()
        self._holds: list[tuple[float, int, tuple[Key, ...]]] = []
        self._held: set[Key] = set()
        self._appends = 0
        self.live_from = live_from
        self._live = _Cursor(live_from - 1)
        self._backlog = _Cursor(-1)
        self._turn = StreamKind.LIVE

    # --- state ---------------------------------------------------------------------------

    @property
    def in_flight(self) -> dict[bytes, InFlight]:
        """Batches in flight by correlation data (a copy)."""
        return dict(self._in_flight)

    @property
    def free_slots(self) -> int:
        """How many more batches may be sent now."""
        return self.window - len(self._in_flight)

    @property
    def held(self) -> frozenset[Key]:
        """Records held back after a rejection."""
        return frozenset(self._held)

    def cursor(self, stream: StreamKind) -> tuple[int, bool]:
        """The cursor's position and whether it is exhausted (for tests and logs)."""
        cursor = self._cursor(stream)
        return cursor.position, cursor.exhausted

    def stream_of(self, sequence: int) -> StreamKind:
        """The stream a record of this sequence is read through."""
        return StreamKind.LIVE if sequence >= self.live_from else StreamKind.BACKLOG

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`expire` has something to do, or None."""
        times = [batch.deadline for batch in self._in_flight.values()]
        if self._holds:
            times.append(self._holds[0][0])
        return min(times, default=None)

    # --- sending -------------------------------------------------------------------------

    def next_fetch(self) -> Fetch | None:
        """What to read from the outbox next, or None: the window is full, or neither cursor
        can have anything (wait for :meth:`appended`, an ack or a deadline)."""
        if not self.free_slots:
            return None
        other = StreamKind.BACKLOG if self._turn is StreamKind.LIVE else StreamKind.LIVE
        for stream in (self._turn, other):
            cursor = self._cursor(stream)
            if not cursor.exhausted:
                self._turn = StreamKind.BACKLOG if stream is StreamKind.LIVE else StreamKind.LIVE
                before = self.live_from if stream is StreamKind.BACKLOG else None
                return Fetch(stream, cursor.position, before, cursor.generation, self._appends)
        return None

    def take(self, fetch: Fetch, keys: Sequence[Key]) -> list[Key]:
        """Given every pending record the outbox returned for ``fetch`` (ascending, possibly cut
        short by a limit), advance the cursor over them and return those to send now: the ones
        neither in flight nor held. A stale fetch (a rewind happened meanwhile) returns nothing
        and changes nothing: fetch again."""
        cursor = self._cursor(fetch.stream)
        if fetch.generation != cursor.generation:
            return []
        if not keys:
            if fetch.appends == self._appends or fetch.stream is StreamKind.BACKLOG:
                cursor.exhausted = True
            return []
        previous = fetch.after
        for key in keys:
            if key[1] <= previous:
                raise ValueError(f"record {key} is outside the fetch {fetch} or out of order")
            previous = key[1]
        if fetch.before is not None and previous >= fetch.before:
            raise ValueError(f"record {keys[-1]} is outside the fetch {fetch}")
        cursor.position = max(cursor.position, previous)
        if self._in_flight_keys.isdisjoint(keys) and self._held.isdisjoint(keys):
            return list(keys)
        return [k for k in keys if k not in self._in_flight_keys and k not in self._held]

    def sent(self, keys: Sequence[Key], *, historical: bool, now: float) -> bytes:
        """Record a batch of taken ``keys`` as in flight from ``now``; return the correlation
        data to publish it with. Raises ``RuntimeError`` when the window is full."""
        if not self.free_slots:
            raise RuntimeError("the window is full")
        if not keys or not (self._in_flight_keys.isdisjoint(keys) and self._held.isdisjoint(keys)):
            raise ValueError("a batch holds at least one record, none in flight or held")
        self._counter += 1
        correlation = self._prefix + self._counter.to_bytes(8, "big")
        batch = InFlight(tuple(keys), historical, now, now + self.ack_timeout)
        self._in_flight[correlation] = batch
        self._in_flight_keys.update(batch.keys)
        return correlation

    def release(self, keys: Iterable[Key]) -> None:
        """Taken ``keys`` that were not sent after all: eligible again."""
        self._rewind(keys)

    def failed(self, correlation: bytes, *, retry_at: float) -> None:
        """The batch never reached the broker (a negative PUBACK, paho's queue full): hold its
        records until ``retry_at``. Unknown correlation data is ignored."""
        batch = self._in_flight.pop(correlation, None)
        if batch is not None:
            self._in_flight_keys.difference_update(batch.keys)
            self._hold(batch.keys, retry_at)

    def appended(self) -> None:
        """Records were appended to the journal: the live cursor has something to read."""
        self._appends += 1
        self._live.exhausted = False

    # --- answers and time ----------------------------------------------------------------

    def acknowledged(self, correlation: bytes, ack: BatchAck, now: float) -> AckResult:
        """Apply the receiver's ``ack`` to the batch sent with ``correlation``.

        Committed: the covered keys of that batch are acknowledged; its uncovered keys are
        eligible again. Rejected ``unavailable``: held for ``unavailable_retry``; rejected for
        another reason: held for ``rejected_retry`` and an alarm. A committed ack of a batch that
        already timed out still acknowledges what it covers of that batch; other unknown
        correlation data changes nothing.
        """
        batch = self._in_flight.pop(correlation, None)
        if batch is None:
            late = self._late.pop(correlation, None)
            if late is None:
                return AckResult(known=False)
            if ack.status is not AckStatus.COMMITTED:
                return AckResult()
            return AckResult(tuple(ack.split(late)[0]))
        self._in_flight_keys.difference_update(batch.keys)
        if ack.status is AckStatus.COMMITTED:
            covered, uncovered = _split(ack, batch.keys)
            self._rewind(uncovered)
            return AckResult(tuple(covered))
        if ack.reason is RejectReason.UNAVAILABLE:
            self._hold(batch.keys, now + self.unavailable_retry)
            return AckResult(held=batch.keys)
        self._hold(batch.keys, now + self.rejected_retry)
        return AckResult(held=batch.keys, alarm=ack.reason)

    def expire(self, now: float) -> int:
        """Batches unanswered past their deadline are sent again, held records whose time has
        come are released; returns how many batches timed out."""
        timed_out = [c for c, batch in self._in_flight.items() if batch.deadline <= now]
        for correlation in timed_out:
            self._forget(correlation)
        while self._holds and self._holds[0][0] <= now:
            _, _, keys = heapq.heappop(self._holds)
            self._held.difference_update(keys)
            self._rewind(keys)
        return len(timed_out)

    def restart(self, live_from: int) -> None:
        """A new connection: everything in flight is sent again; records from ``live_from`` on
        are live. Held records stay held until their time."""
        for correlation in list(self._in_flight):
            self._forget(correlation)
        self.live_from = live_from
        self._live.reset(live_from - 1)
        self._backlog.reset(-1)
        self._turn = StreamKind.LIVE

    def resync(self, from_sequence: int) -> None:
        """The journal made records from ``from_sequence`` on pending again: read them again."""
        if from_sequence < self.live_from:
            self._backlog.rewind(from_sequence - 1)
            self._live.rewind(self.live_from - 1)
        else:
            self._live.rewind(from_sequence - 1)

    # --- internals -----------------------------------------------------------------------

    def _cursor(self, stream: StreamKind) -> _Cursor:
        return self._live if stream is StreamKind.LIVE else self._backlog

    def _forget(self, correlation: bytes) -> None:
        """Take a batch out of flight, remember it for a late ack, make its records eligible."""
        batch = self._in_flight.pop(correlation)
        self._in_flight_keys.difference_update(batch.keys)
        self._late[correlation] = batch.keys
        while len(self._late) > _LATE_BATCHES_PER_SLOT * self.window:
            self._late.popitem(last=False)
        self._rewind(batch.keys)

    def _hold(self, keys: tuple[Key, ...], until: float) -> None:
        self._held.update(keys)
        self._counter += 1
        heapq.heappush(self._holds, (until, self._counter, keys))

    def _rewind(self, keys: Iterable[Key]) -> None:
        lowest: dict[StreamKind, int] = {}
        for _, sequence in keys:
            stream = self.stream_of(sequence)
            lowest[stream] = min(lowest.get(stream, sequence), sequence)
        for stream, sequence in lowest.items():
            self._cursor(stream).rewind(sequence - 1)


def _split(ack: BatchAck, keys: tuple[Key, ...]) -> tuple[Sequence[Key], Sequence[Key]]:
    """:meth:`BatchAck.split` of a batch's ``keys``, answered without looking at each key when
    one range of the ack spans them all - the usual answer to a batch."""
    low, high = min(keys), max(keys)
    if low[0] == high[0] and any(
        r.epoch == low[0] and r.first <= low[1] and high[1] <= r.last for r in ack.ranges
    ):
        return keys, ()
    return ack.split(keys)
