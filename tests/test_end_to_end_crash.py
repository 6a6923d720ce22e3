"""End to end, real processes: the agent killed with SIGKILL again and again, nothing lost.

A real Mosquitto, a real receiver (``hemotrace-receiver run``, its SQLite database the ground
truth for "arrived") and the real agent (``hemotrace run`` on a small simulated cabinet whose
probes are read every 50 ms, so it appends and syncs all the time). The agent is killed with
SIGKILL at random moments (seeded) and started again, ten times; then it runs once more until
everything it had committed before is acknowledged, and is stopped with SIGTERM.

Checked against the agent's journal (the ground truth for "committed"): every record it holds,
of every boot epoch, is in the receiver's database exactly once and unchanged; nothing in the
database is unknown to the journal; nothing is pending in the journal but the few records of the
last run appended after its final drain (an orderly stop journals ``agent_stopping`` and does not
wait for it to be acknowledged: the next start sends it); every boot epoch 1..N is there.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.broker import MosquittoBroker
from tests.support.processes import (
    ProcessGroup,
    journal_path,
    journal_progress,
    journal_records,
    receiver_count,
    receiver_records,
    receiver_sequence_duplicates,
    wait_for,
    write_profile,
)

DEVICE = "cab-crash"
KILLS = 10
SEED = 20260105


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ProcessGroup]:
    group = ProcessGroup(tmp_path / "logs")
    try:
        yield group
    finally:
        group.close()
        sys.stderr.write(group.report())  # shown with a failing test's report


def _started(log: str, epoch: int) -> bool:
    return f"id={DEVICE}/{epoch}/" in log and "type=agent_started" in log


def test_agent_killed_again_and_again_loses_nothing(
    tmp_path: Path, mosquitto: MosquittoBroker, processes: ProcessGroup
) -> None:
    rng = random.Random(SEED)
    db = tmp_path / "receiver.db"
    state = tmp_path / "state"
    journal = journal_path(state, DEVICE)
    profile = write_profile(tmp_path / "cabinet.toml", device_id=DEVICE, broker_url=mosquitto.url)
    receiver = processes.receiver(mosquitto.url, db)

    for epoch in range(1, KILLS + 1):
        agent = processes.agent(profile, state, name="agent")
        # Each run lives until its first record is committed (so every epoch leaves a trace),
        # then for a random while: killed while appending, sending, or committing acks.
        wait_for(lambda a=agent, e=epoch: _started(a.log, e), f"epoch {epoch} to start",
                 watch=[agent, receiver])  # fmt: skip
        time.sleep(rng.uniform(0.0, 1.5))
        agent.kill()
        assert agent.returncode == -9, f"epoch {epoch}: {agent!r}"
        time.sleep(rng.choice((0.0, 0.0, 0.2, 0.5)))

    last = KILLS + 1
    agent = processes.agent(profile, state, name="agent")
    wait_for(lambda: _started(agent.log, last), "the last run to start", watch=[agent, receiver])
    mark = journal_progress(journal).highest
    wait_for(
        lambda: (
            journal_progress(journal, mark).pending == 0
            and receiver_count(db, DEVICE, mark) == journal_progress(journal, mark).held
        ),
        f"every record up to sequence {mark} acknowledged and in the database",
        watch=[agent, receiver],
    )
    assert agent.terminate() == 0
    assert receiver.terminate() == 0

    committed, pending = journal_records(journal)
    arrived = receiver_records(db, DEVICE)
    sequences = sorted(sequence for _, sequence in committed)

    # The journal: one device-wide sequence, no holes, every run's epoch in it.
    assert sequences == list(range(len(sequences))), "the journal's sequences have holes"
    assert {epoch for epoch, _ in committed} == set(range(1, last + 1))
    # Nothing arrived that the agent did not commit, nothing committed is missing, and what
    # arrived is what was committed, byte for byte.
    unknown = sorted(set(arrived) - set(committed))
    assert not unknown, f"in the database but not in the journal: {unknown[:10]}"
    missing = sorted(key for key in set(committed) - set(arrived) if key[1] <= mark)
    assert not missing, f"committed by the agent, not in the database: {missing[:10]}"
    changed = [key for key, record in arrived.items() if committed[key] != record]
    assert not changed, f"stored differently from the journal: {changed[:10]}"
    assert {epoch for epoch, _ in arrived} == set(range(1, last + 1))
    # Exactly once: one row per identity (the primary key) and per sequence.
    assert receiver_sequence_duplicates(db, DEVICE) == []
    assert len(arrived) == receiver_count(db, DEVICE)
    assert len(arrived) >= len([key for key in committed if key[1] <= mark])
    # Pending: only the last run's tail, appended after the drain it was given.
    late = sorted(key for key in pending if key[0] != last or key[1] <= mark)
    assert not late, f"still pending in the journal: {late[:10]}"
    not_arrived = set(committed) - set(arrived)
    assert not_arrived <= pending, "records neither in the database nor pending"
