"""The send-side session state machine against a model of the journal's outbox (Hypothesis).

The model is the set of pending sequences; rules append, fetch (in two steps, so anything may
happen between the read and its result), send in randomly cut batches, acknowledge (covering
some of a batch, or more than it), reject, time out, refuse a publish, reconnect and resync.
After every step: nothing pending has left eligibility, the window holds, only committed acks
acknowledge and only what their batch carried. At the end, a perfect network drains everything.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from agent.sync.protocol import AckStatus, BatchAck, RejectReason, ranges_of
from agent.sync.session import Fetch, Key, SendSession, StreamKind

DEVICE = "cab-01"
WINDOW = 3
ACK_TIMEOUT = 10.0


def key(sequence: int) -> Key:
    """Boot epochs change every 7 records, as if the agent restarted now and then."""
    return (sequence // 7, sequence)


def committed(keys: Sequence[Key]) -> BatchAck:
    return BatchAck(device=DEVICE, status=AckStatus.COMMITTED, ranges=ranges_of(keys))


class SessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.session = SendSession(
            window=WINDOW,
            ack_timeout=ACK_TIMEOUT,
            unavailable_retry=5.0,
            rejected_retry=50.0,
            correlation_prefix=b"test",
        )
        self.pending: set[int] = set()
        self.next_sequence = 0
        self.now = 0.0
        self.sent: dict[bytes, tuple[Key, ...]] = {}
        self.fetch: Fetch | None = None
        self.snapshot: list[Key] = []

    # --- the journal -------------------------------------------------------------------

    def read(self, fetch: Fetch, limit: int) -> list[Key]:
        upper = self.next_sequence if fetch.before is None else fetch.before
        found = sorted(s for s in self.pending if fetch.after < s < upper)
        return [key(s) for s in found[:limit]]

    @rule(count=st.integers(1, 6))
    def append(self, count: int) -> None:
        self.pending.update(range(self.next_sequence, self.next_sequence + count))
        self.next_sequence += count
        self.session.appended()

    # --- sending -----------------------------------------------------------------------

    @precondition(lambda self: self.fetch is None)
    @rule(limit=st.integers(1, 5))
    def begin_fetch(self, limit: int) -> None:
        self.fetch = self.session.next_fetch()
        if self.fetch is not None:
            self.snapshot = self.read(self.fetch, limit)

    @precondition(lambda self: self.fetch is not None)
    @rule(cuts=st.lists(st.integers(1, 3), min_size=1, max_size=4))
    def finish_fetch(self, cuts: list[int]) -> None:
        assert self.fetch is not None
        fetch, self.fetch = self.fetch, None
        in_flight = {k for batch in self.session.in_flight.values() for k in batch.keys}
        taken = self.session.take(fetch, self.snapshot)
        assert set(taken) <= set(self.snapshot)
        assert not set(taken) & (in_flight | self.session.held)
        self.send(taken, fetch.historical, cuts)

    def send(self, keys: list[Key], historical: bool, cuts: list[int]) -> None:
        start = 0
        for size in cuts * len(keys):
            if start >= len(keys):
                return
            if not self.session.free_slots:
                self.session.release(keys[start:])
                return
            batch = keys[start : start + size]
            correlation = self.session.sent(batch, historical=historical, now=self.now)
            assert correlation not in self.sent
            self.sent[correlation] = tuple(batch)
            start += size

    @precondition(lambda self: self.session.in_flight)
    @rule(data=st.data())
    def publish_refused(self, data: st.DataObject) -> None:
        correlation = data.draw(st.sampled_from(sorted(self.session.in_flight)))
        self.session.failed(correlation, retry_at=self.now + 3.0)

    # --- answers -----------------------------------------------------------------------

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def ack_committed(self, data: st.DataObject) -> None:
        correlation = data.draw(st.sampled_from(sorted(self.sent)))
        batch = self.sent[correlation]
        covered = data.draw(st.lists(st.sampled_from(batch), unique=True))
        # A receiver may name records it did not get in this batch: they must not count.
        extra = data.draw(st.lists(st.integers(0, self.next_sequence + 3), max_size=3))
        keys = covered + [key(s) for s in extra]
        if not keys:
            return
        was_in_flight = correlation in self.session.in_flight
        result = self.session.acknowledged(correlation, committed(keys), self.now)
        # Only what the ack covers of what this batch carried (a timed-out batch may already
        # have been answered: then nothing).
        assert set(result.acknowledged) <= set(keys) & set(batch)
        if was_in_flight:
            assert set(result.acknowledged) == set(keys) & set(batch)
        assert result.alarm is None
        assert not result.held
        self.pending.difference_update(s for _, s in result.acknowledged)

    @precondition(lambda self: self.sent)
    @rule(data=st.data(), reason=st.sampled_from(RejectReason))
    def ack_rejected(self, data: st.DataObject, reason: RejectReason) -> None:
        correlation = data.draw(st.sampled_from(sorted(self.sent)))
        was_in_flight = correlation in self.session.in_flight
        ack = BatchAck.rejected(DEVICE, reason, "no")
        result = self.session.acknowledged(correlation, ack, self.now)
        assert not result.acknowledged
        if was_in_flight:
            assert result.held == self.sent[correlation]
            assert (result.alarm is None) == (reason is RejectReason.UNAVAILABLE)
        else:
            assert not result.held
            assert result.alarm is None

    @rule(correlation=st.binary(min_size=1, max_size=12))
    def ack_of_an_unknown_batch(self, correlation: bytes) -> None:
        if correlation in self.sent:
            return
        result = self.session.acknowledged(correlation, committed([key(0)]), self.now)
        assert result == type(result)(known=False)

    # --- time and connections ----------------------------------------------------------

    @rule(seconds=st.sampled_from([0.5, 3.0, 6.0, 11.0, 60.0]))
    def tick(self, seconds: float) -> None:
        self.now += seconds
        self.session.expire(self.now)

    @rule()
    def reconnect(self) -> None:
        self.session.restart(self.next_sequence)

    @rule(data=st.data())
    def resync(self, data: st.DataObject) -> None:
        start = data.draw(st.integers(0, self.next_sequence + 1))
        # The journal makes every record it holds from there on pending again.
        self.pending.update(range(start, self.next_sequence))
        self.session.resync(start)

    # --- invariants --------------------------------------------------------------------

    @invariant()
    def the_window_holds_and_batches_are_disjoint(self) -> None:
        batches = self.session.in_flight.values()
        assert len(batches) <= WINDOW
        keys = [k for batch in batches for k in batch.keys]
        assert len(keys) == len(set(keys))
        assert not set(keys) & self.session.held

    @invariant()
    def nothing_pending_leaves_eligibility(self) -> None:
        in_flight = {k for batch in self.session.in_flight.values() for k in batch.keys}
        for sequence in self.pending:
            if key(sequence) in in_flight or key(sequence) in self.session.held:
                continue
            position, exhausted = self.session.cursor(self.session.stream_of(sequence))
            assert sequence > position, (sequence, position)
            assert not exhausted, sequence

    def teardown(self) -> None:
        """A perfect network from now on: everything pending is acknowledged in the end."""
        self.now += 1_000.0
        self.session.expire(self.now)
        for _ in range(10 * (self.next_sequence + 10)):
            fetch = self.session.next_fetch()
            if fetch is None:
                if not self.session.in_flight:
                    break
                for correlation, batch in self.session.in_flight.items():
                    result = self.session.acknowledged(correlation, committed(batch.keys), 0.0)
                    self.pending.difference_update(s for _, s in result.acknowledged)
                continue
            taken = self.session.take(fetch, self.read(fetch, 4))
            if taken:
                self.session.sent(taken, historical=fetch.historical, now=self.now)
        assert not self.pending


TestSessionMachine = SessionMachine.TestCase
TestSessionMachine.settings = settings(max_examples=1000, stateful_step_count=50, deadline=None)


def test_live_and_backlog_alternate_and_backlog_is_historical() -> None:
    session = SendSession(
        window=100,
        ack_timeout=ACK_TIMEOUT,
        unavailable_retry=5.0,
        rejected_retry=50.0,
        correlation_prefix=b"p",
        live_from=1000,
    )
    order: list[StreamKind] = []
    live = backlog = 0
    for _ in range(8):
        fetch = session.next_fetch()
        assert fetch is not None
        order.append(fetch.stream)
        assert fetch.historical == (fetch.stream is StreamKind.BACKLOG)
        if fetch.stream is StreamKind.LIVE:
            assert (fetch.after, fetch.before) == (999 + live, None)
            keys = [key(1000 + live)]
            live += 1
        else:
            assert fetch.before == 1000
            keys = [key(backlog)]
            backlog += 1
        session.sent(session.take(fetch, keys), historical=fetch.historical, now=0.0)
    assert order == [StreamKind.LIVE, StreamKind.BACKLOG] * 4


def test_an_exhausted_live_cursor_wakes_on_append_even_during_a_fetch() -> None:
    session = SendSession(
        window=4,
        ack_timeout=ACK_TIMEOUT,
        unavailable_retry=5.0,
        rejected_retry=50.0,
        correlation_prefix=b"p",
    )
    live = session.next_fetch()
    assert live is not None
    assert live.stream is StreamKind.LIVE
    session.appended()  # a record committed while the (empty) read was under way
    assert session.take(live, []) == []
    backlog = session.next_fetch()
    assert backlog is not None
    assert backlog.stream is StreamKind.BACKLOG
    session.take(backlog, [])
    again = session.next_fetch()
    assert again is not None
    assert again.stream is StreamKind.LIVE
    session.take(again, [])
    assert session.next_fetch() is None
