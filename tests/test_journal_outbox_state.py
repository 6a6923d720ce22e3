"""The outbox as a state machine: appends, acknowledgements, resyncs, maintenance and reopens
in any order keep the journal's promises (Hypothesis explores the orders)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from agent.events import DoorChanged, Event, RecordId, TemperatureSample
from agent.journal import Journal, JournalPolicy, RecordClass

DEVICE = "state-dev"
DAY_NS = 86400 * 10**9
POLICY = JournalPolicy(
    routine_retention_s=2 * 86400,
    kept_retention_s=10 * 86400,
    budget_bytes=40 * 1024,
    hard_limit_bytes=16 << 20,
)


@dataclass
class Model:
    record_class: RecordClass
    wall_ns: int
    acknowledged_ns: int | None = None


class OutboxMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="journal-state-"))
        self.path = self.directory / "journal.db"
        self.runner = asyncio.Runner()
        self.journal = self.runner.run(Journal.open(self.path, device_id=DEVICE, policy=POLICY))
        self.records: dict[int, Model] = {}
        self.next_sequence = 0
        self.now = 1_800_000_000 * 10**9

    def teardown(self) -> None:
        self.runner.run(self.journal.close())
        self.runner.close()
        shutil.rmtree(self.directory)

    def stored(self) -> dict[int, int | None]:
        connection = sqlite3.connect(self.path)
        try:
            rows = connection.execute("SELECT sequence, acknowledged_wall_ns FROM records")
            return dict(rows.fetchall())
        finally:
            connection.close()

    @rule(kinds=st.lists(st.sampled_from(["p0", "p0,p1", "door"]), min_size=1, max_size=40))
    def append(self, kinds: list[str]) -> None:
        """Door events and sampling ticks of one probe or two (two series to thin)."""
        events = []
        for kind in kinds:
            payload = (
                DoorChanged("d", True)
                if kind == "door"
                else TemperatureSample(tuple(kind.split(",")), (4.0,) * (kind.count(",") + 1))
            )
            events.append(
                Event(RecordId(DEVICE, 1, self.next_sequence), self.now, 0, True, payload)
            )
            klass = RecordClass.KEPT if kind == "door" else RecordClass.ROUTINE
            self.records[self.next_sequence] = Model(klass, self.now)
            self.next_sequence += 1
        self.runner.run(self.journal.append_many(events))

    @precondition(lambda self: any(m.acknowledged_ns is None for m in self.records.values()))
    @rule(data=st.data())
    def acknowledge(self, data: st.DataObject) -> None:
        pending = sorted(s for s, m in self.records.items() if m.acknowledged_ns is None)
        chosen = data.draw(st.lists(st.sampled_from(pending), max_size=30))
        extra = data.draw(st.lists(st.integers(-5, self.next_sequence + 5), max_size=3))
        changed = self.runner.run(self.journal.acknowledge([*chosen, *extra], self.now))
        newly = set(chosen) | {s for s in extra if s in pending}
        assert changed == len(newly)
        for sequence in newly:
            self.records[sequence].acknowledged_ns = self.now

    @precondition(lambda self: self.next_sequence > 0)
    @rule(data=st.data())
    def resend_from(self, data: st.DataObject) -> None:
        start = data.draw(st.integers(0, self.next_sequence))
        changed = self.runner.run(self.journal.resend_from(start))
        reopened = [m for s, m in self.records.items() if s >= start and m.acknowledged_ns]
        assert changed == len(reopened)
        for model in reopened:
            model.acknowledged_ns = None

    @rule(days=st.integers(0, 12))
    def maintain(self, days: int) -> None:
        self.now += days * DAY_NS
        report = self.runner.run(self.journal.maintain(self.now))
        remaining = self.stored()
        for sequence in set(self.records) - set(remaining):
            model = self.records.pop(sequence)
            if model.record_class is RecordClass.ROUTINE:
                continue  # may be expired, evicted, or thinned while pending
            assert model.acknowledged_ns is not None, "a pending kept record was deleted"
            age_from = max(model.wall_ns, model.acknowledged_ns)
            assert self.now - age_from > POLICY.kept_retention_s * 10**9
        assert report.pending == sum(m.acknowledged_ns is None for m in self.records.values())

    @rule()
    def reopen(self) -> None:
        self.runner.run(self.journal.close())
        self.journal = self.runner.run(Journal.open(self.path, device_id=DEVICE, policy=POLICY))
        assert self.journal.next_sequence == self.next_sequence

    @invariant()
    def journal_matches_the_model(self) -> None:
        stored = self.stored()
        assert set(stored) == set(self.records)
        for sequence, acknowledged in stored.items():
            assert acknowledged == self.records[sequence].acknowledged_ns
        pending = self.runner.run(self.journal.pending(limit=100_000, max_bytes=1 << 30))
        expected = sorted(s for s, m in self.records.items() if m.acknowledged_ns is None)
        assert [r.sequence for r in pending] == expected
        assert self.runner.run(self.journal.pending_count()) == len(expected)
        assert self.journal.next_sequence == self.next_sequence


OutboxMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestOutbox = OutboxMachine.TestCase
