"""The agent with its journal: everything recorded is committed, sequences survive restarts,
and a journal that fails raises the alarm without stopping the device."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from agent.config import load_profile
from agent.events import EventType, HardwareFault
from agent.hal import IndicatorState
from agent.journal import Journal, JournalHealth, JournalPolicy, RecordClass
from agent.runtime.journal_supervisor import classify_for
from hal_sim.session import start_session

CONFIG = Path(__file__).resolve().parents[1] / "config"
CABINET = load_profile(CONFIG / "cabinet-72.toml")


def test_every_recorded_event_is_committed_and_sequences_continue(
    run_virtual, tmp_path: Path
) -> None:
    path = tmp_path / "journal.db"
    observed: list[tuple[int, int]] = []

    async def one_run(boot_epoch: int) -> None:
        journal = await Journal.open(
            path, device_id=CABINET.device.id, classify=classify_for(CABINET)
        )
        session = await start_session(
            CABINET, boot_epoch=boot_epoch, journal=journal, log_events=False
        )
        session.stream.observe(lambda e: observed.append((e.id.sequence, e.id.boot_epoch)))
        await asyncio.sleep(60)
        await session.stop("test over")
        await journal.close()

    run_virtual(one_run(1))
    run_virtual(one_run(2))
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT sequence, boot_epoch, type FROM records ORDER BY sequence")
        stored = rows.fetchall()
    assert set(observed) <= {(row[0], row[1]) for row in stored}, "observed implies committed"
    assert [row[0] for row in stored] == list(range(len(stored))), "no gap, no reuse"
    epochs = [row[1] for row in stored]
    assert epochs == sorted(epochs)
    second_start = epochs.index(2)
    assert stored[second_start][2] == EventType.AGENT_STARTED
    assert stored[second_start - 1][2] == EventType.AGENT_STOPPING


def test_samples_outside_the_storage_limits_are_excursions() -> None:
    from agent.events import Event, RecordId, TemperatureSample

    classify = classify_for(CABINET)  # red cells: 2-6 °C

    def tick(*celsius: float) -> Event:
        probes = tuple(f"probe-{n}" for n in range(len(celsius)))
        return Event(RecordId("d", 1, 0), 0, 0, True, TemperatureSample(probes, celsius))

    assert classify(tick(4.0)) is RecordClass.ROUTINE
    assert classify(tick(6.5)) is RecordClass.EXCURSION
    assert classify(tick(1.9)) is RecordClass.EXCURSION
    assert classify(tick(2.0, 4.0, 6.0)) is RecordClass.ROUTINE, "the limits are inside"
    # One probe out of the limits makes the whole tick an excursion, never thinned.
    assert classify(tick(4.0, 4.1, 6.5, 4.2)) is RecordClass.EXCURSION
    assert classify(tick(1.9, 4.0)) is RecordClass.EXCURSION
    assert (
        classify(Event(RecordId("d", 1, 0), 0, 0, True, HardwareFault("x", "y", "z")))
        is RecordClass.KEPT
    )


def test_a_full_journal_raises_the_alarm_and_the_device_keeps_running(
    run_virtual, tmp_path: Path
) -> None:
    """Past the hard limit appends fail: the indicator shows the alarm, the services go on
    (no crash loop), and what was committed before is intact."""
    policy = JournalPolicy(budget_bytes=96 * 1024, hard_limit_bytes=128 * 1024)

    async def body() -> tuple[IndicatorState, JournalHealth, bool, int]:
        journal = await Journal.open(
            tmp_path / "journal.db",
            device_id=CABINET.device.id,
            policy=policy,
            classify=classify_for(CABINET),
        )
        session = await start_session(CABINET, journal=journal, log_events=False)
        await asyncio.sleep(600)
        shown = await session.device.indicator.state()
        assert session.agent.journal_supervisor is not None
        health = session.agent.journal_supervisor.health
        alive = not session.task.done()
        await session.stop()
        await journal.close()
        return shown, health, alive, session.counts[EventType.TEMPERATURE_SAMPLE]

    shown, health, alive, samples = run_virtual(body())
    assert alive, "the agent must not stop because its journal is full"
    assert health in (JournalHealth.FULL, JournalHealth.UNAVAILABLE)
    assert shown is IndicatorState.ALARM
    assert samples > 0
    with sqlite3.connect(tmp_path / "journal.db") as db:
        (count,) = db.execute("SELECT COUNT(*) FROM records").fetchone()
    assert count > 0
