"""The journal: group commit, durability on return, identity across reopen, failures, outbox,
retention, budget and thinning."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import cbor2
import pytest

from agent.events import DoorChanged, Event, RecordId, TemperatureSample
from agent.journal import (
    Journal,
    JournalHealth,
    JournalPolicy,
    JournalUnavailable,
    RecordClass,
    UnavailableKind,
)
from agent.journal.records import Row
from agent.journal.writer import GroupCommitWriter

T = TypeVar("T")
DEVICE = "cab-7"
DAY_NS = 86400 * 10**9
NOW = 1_800_000_000 * 10**9


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def sample(
    sequence: int,
    series: str = "p1,p2",
    wall_ns: int = NOW,
    celsius: float | tuple[float, ...] = 4.0,
) -> Event:
    """A sampling tick of the probes of ``series`` (comma-separated), each reading ``celsius``
    (or one value each)."""
    probes = tuple(series.split(","))
    readings = celsius if isinstance(celsius, tuple) else (celsius,) * len(probes)
    return Event(
        RecordId(DEVICE, 1, sequence), wall_ns, sequence, True, TemperatureSample(probes, readings)
    )


def door(sequence: int, wall_ns: int = NOW, name: str = "door") -> Event:
    return Event(RecordId(DEVICE, 1, sequence), wall_ns, sequence, False, DoorChanged(name, True))


def stored(path: Path) -> dict[int, tuple[int, int | None]]:
    """Sequence -> (class, acknowledged_wall_ns) read through a separate connection."""
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute("SELECT sequence, class, acknowledged_wall_ns FROM records")
        return {sequence: (klass, acked) for sequence, klass, acked in rows}
    finally:
        connection.close()


# --- group commit and durability ------------------------------------------------------------


def test_concurrent_appends_are_grouped_and_a_lone_append_commits_at_once(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int]:
        async with await Journal.open(tmp_path / "j.db", device_id=DEVICE) as journal:
            await journal.append(door(0))
            lone = journal.transactions
            await asyncio.gather(*(journal.append(sample(s)) for s in range(1, 501)))
            return lone, journal.transactions

    lone, total = run(scenario())
    assert lone == 1
    assert total - lone < 500 / 2  # grouped: far fewer transactions than appends
    assert set(stored(tmp_path / "j.db")) == set(range(501))


def test_batches_are_bounded(tmp_path: Path) -> None:
    async def scenario() -> int:
        journal = await Journal.open(tmp_path / "j.db", device_id=DEVICE, max_batch_rows=10)
        await asyncio.gather(*(journal.append(sample(s)) for s in range(100)))
        await journal.close()
        return journal.transactions

    assert run(scenario()) >= 10


def test_an_append_that_returned_is_visible_to_another_connection(tmp_path: Path) -> None:
    async def scenario() -> None:
        journal = await Journal.open(tmp_path / "j.db", device_id=DEVICE)
        for sequence in range(20):
            await journal.append(door(sequence))
            assert sequence in stored(tmp_path / "j.db")
        await journal.close()

    run(scenario())


def test_append_many_commits_a_burst(tmp_path: Path) -> None:
    async def scenario() -> int:
        journal = await Journal.open(tmp_path / "j.db", device_id=DEVICE, max_batch_rows=50)
        await journal.append_many([sample(s) for s in range(120)])
        await journal.close()
        return journal.transactions

    assert run(scenario()) == 3
    assert set(stored(tmp_path / "j.db")) == set(range(120))


def test_reopen_continues_the_sequence(tmp_path: Path) -> None:
    path = tmp_path / "j.db"

    async def scenario() -> list[int]:
        seen = []
        for _ in range(3):
            async with await Journal.open(path, device_id=DEVICE) as journal:
                first = journal.next_sequence
                seen.append(first)
                await journal.append(door(first))
                await journal.append(door(first + 5))
        return seen

    assert run(scenario()) == [0, 6, 12]


def test_the_sequence_survives_deletion_of_every_record(tmp_path: Path) -> None:
    path = tmp_path / "j.db"

    async def scenario() -> int:
        async with await Journal.open(path, device_id=DEVICE) as journal:
            await journal.append(door(0, wall_ns=0))
            await journal.append(door(1, wall_ns=0))
            await journal.acknowledge([0, 1], now_wall_ns=0)
            report = await journal.maintain(NOW)
            assert report.expired == 2
        assert stored(path) == {}
        async with await Journal.open(path, device_id=DEVICE) as journal:
            return journal.next_sequence

    assert run(scenario()) == 2


def test_sequences_must_increase_and_belong_to_the_device(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with await Journal.open(tmp_path / "j.db", device_id=DEVICE) as journal:
            await journal.append(door(3))
            with pytest.raises(ValueError, match="sequences only increase"):
                await journal.append(door(3))
            foreign = Event(RecordId("other", 1, 9), 0, 0, False, DoorChanged("d", True))
            with pytest.raises(ValueError, match="another device"):
                await journal.append(foreign)
            assert journal.next_sequence == 4

    run(scenario())


# --- refusing to open -----------------------------------------------------------------------


def test_the_journal_of_another_device_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with await Journal.open(tmp_path / "j.db", device_id="fridge-1"):
            pass
        with pytest.raises(JournalUnavailable) as caught:
            await Journal.open(tmp_path / "j.db", device_id="fridge-2")
        assert caught.value.kind is UnavailableKind.WRONG_DEVICE
        assert "fridge-1" in caught.value.reason

    run(scenario())


def test_a_file_that_is_not_a_database_is_refused_and_left_intact(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    garbage = b"this is not an SQLite database, it is a shopping list\n" * 200
    path.write_bytes(garbage)
    with pytest.raises(JournalUnavailable) as caught:
        run(Journal.open(path, device_id=DEVICE))
    assert caught.value.kind is UnavailableKind.CORRUPT
    assert "left untouched" in caught.value.reason
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.db"]


def test_a_damaged_database_is_refused_and_left_intact(tmp_path: Path) -> None:
    path = tmp_path / "j.db"

    async def fill() -> None:
        async with await Journal.open(path, device_id=DEVICE) as journal:
            await journal.append_many([sample(s) for s in range(2000)])

    run(fill())
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(3 * page, min(len(data), 12 * page), 7):
        data[offset] = 0xA5
    path.write_bytes(bytes(data))
    with pytest.raises(JournalUnavailable) as caught:
        run(Journal.open(path, device_id=DEVICE))
    assert caught.value.kind is UnavailableKind.CORRUPT
    assert path.read_bytes() == bytes(data)


@pytest.mark.parametrize("where", ["missing-dir/j.db", "a-directory"])
def test_an_unwritable_location_is_refused(tmp_path: Path, where: str) -> None:
    (tmp_path / "a-directory").mkdir()
    with pytest.raises(JournalUnavailable) as caught:
        run(Journal.open(tmp_path / where, device_id=DEVICE))
    assert caught.value.kind is UnavailableKind.UNWRITABLE
    assert str(tmp_path) in caught.value.reason


# --- failures while appending ---------------------------------------------------------------

_TINY = JournalPolicy(budget_bytes=48 * 1024, hard_limit_bytes=96 * 1024)


def big_door(sequence: int) -> Event:
    return Event(RecordId(DEVICE, 1, sequence), NOW, sequence, True, DoorChanged("x" * 600, True))


def test_the_hard_limit_fails_every_waiting_append_and_nothing_unreported_is_kept(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.db"

    async def scenario() -> tuple[list[BaseException | None], JournalHealth]:
        journal = await Journal.open(path, device_id=DEVICE, policy=_TINY, max_batch_rows=20)
        results = await asyncio.gather(
            *(journal.append(big_door(s)) for s in range(400)), return_exceptions=True
        )
        health = journal.health
        await journal.close()
        return list(results), health

    results, health = run(scenario())
    committed = {s for s, r in enumerate(results) if r is None}
    failed = {s for s, r in enumerate(results) if r is not None}
    assert committed
    assert failed
    assert all(
        isinstance(r, JournalUnavailable) and r.kind is UnavailableKind.FULL
        for r in results
        if r is not None
    )
    assert set(stored(path)) == committed
    assert max(committed) < min(failed)  # no later append committed after a failed one
    assert health is JournalHealth.FULL


def test_the_hard_limit_is_transient_maintenance_makes_room(tmp_path: Path) -> None:
    path = tmp_path / "j.db"

    async def scenario() -> None:
        journal = await Journal.open(path, device_id=DEVICE, policy=_TINY)
        sequence = 0
        while True:
            try:
                await journal.append(big_door(sequence))
            except JournalUnavailable:
                break
            sequence += 1
        await journal.acknowledge(range(sequence), NOW)
        report = await journal.maintain(NOW + 500 * DAY_NS)
        assert report.expired == sequence
        assert report.health is JournalHealth.OK
        await journal.append(big_door(sequence + 1))
        await journal.close()

    run(scenario())


async def _failing_commit_scenario(error: BaseException) -> list[BaseException | None]:
    release = asyncio.Event()

    async def commit(rows: Sequence[Row]) -> None:
        await release.wait()
        raise error

    failures: list[JournalUnavailable] = []
    writer = GroupCommitWriter(commit, max_batch=3, on_failure=failures.append)
    row: Row = (0, 1, "door_changed", 1, 0, 0, 0, None, b"\xa0")
    waiters = [asyncio.ensure_future(writer.submit((row,))) for _ in range(10)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert failures
    with pytest.raises(JournalUnavailable):
        await writer.submit((row,))
    if isinstance(error, JournalUnavailable):
        await writer.close()
    else:
        with pytest.raises(type(error)):
            await writer.close()
    return list(results)


def test_a_sticky_error_reaches_every_waiter_and_refuses_later_appends() -> None:
    error = JournalUnavailable(UnavailableKind.IO_ERROR, "disk I/O error")
    results = run(_failing_commit_scenario(error))
    assert all(isinstance(r, JournalUnavailable) and r.kind is error.kind for r in results)


def test_a_crashing_writer_leaves_no_append_hanging() -> None:
    results = run(_failing_commit_scenario(RuntimeError("a bug")))
    assert all(isinstance(r, JournalUnavailable) and "a bug" in str(r) for r in results)


# --- close ----------------------------------------------------------------------------------


def test_close_drains_waiting_appends_then_refuses(tmp_path: Path) -> None:
    path = tmp_path / "j.db"

    async def scenario() -> None:
        journal = await Journal.open(path, device_id=DEVICE, max_batch_rows=7)
        tasks = [asyncio.ensure_future(journal.append(sample(s))) for s in range(100)]
        await asyncio.sleep(0)
        await journal.close()
        await asyncio.gather(*tasks)
        assert journal.health is JournalHealth.UNAVAILABLE
        with pytest.raises(JournalUnavailable) as caught:
            await journal.append(sample(100))
        assert caught.value.kind is UnavailableKind.CLOSED
        with pytest.raises(JournalUnavailable):
            await journal.pending()
        await journal.close()

    run(scenario())
    assert set(stored(path)) == set(range(100))
    assert not (tmp_path / "j.db-wal").exists() or (tmp_path / "j.db-wal").stat().st_size == 0


# --- the outbox -----------------------------------------------------------------------------


def test_pending_pages_in_sequence_order_within_count_and_bytes(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with await Journal.open(tmp_path / "j.db", device_id=DEVICE) as journal:
            await journal.append_many([sample(s, celsius=(s / 10, 4.0)) for s in range(50)])
            records = await journal.pending(limit=10)
            assert [r.sequence for r in records] == list(range(10))
            assert records[4].to_event() == sample(4, celsius=(0.4, 4.0))
            assert records[4].record_class is RecordClass.ROUTINE
            assert records[4].pending
            page = await journal.pending(after_sequence=9, limit=1000, max_bytes=150)
            assert page[0].sequence == 10
            assert 1 < len(page) < 40
            assert sum(len(r.payload) for r in page) <= 150
            assert len(await journal.pending(after_sequence=9, max_bytes=1)) == 1
            backlog = await journal.pending(after_sequence=-1, before_sequence=5)
            assert [r.sequence for r in backlog] == [0, 1, 2, 3, 4]
            assert await journal.pending(after_sequence=49) == []

    run(scenario())


def test_acknowledge_is_durable_idempotent_and_resend_from_reopens(tmp_path: Path) -> None:
    path = tmp_path / "j.db"

    async def scenario() -> None:
        async with await Journal.open(path, device_id=DEVICE) as journal:
            assert await journal.last_acknowledged() is None
            await journal.append_many([door(s) for s in range(10)])
            assert await journal.acknowledge([2, 3, 4, 99], NOW) == 3
            assert await journal.acknowledge([3, 4], NOW + 1) == 0
            assert await journal.pending_count() == 7
            assert [r.sequence for r in await journal.pending(limit=4)] == [0, 1, 5, 6]
        assert stored(path)[3] == (RecordClass.KEPT, NOW)
        async with await Journal.open(path, device_id=DEVICE) as journal:
            assert await journal.last_acknowledged() == 4
            assert await journal.pending_count() == 7
            assert await journal.resend_from(3) == 2
            assert await journal.pending_count() == 9
            assert [r.sequence for r in await journal.pending(limit=4)] == [0, 1, 3, 4]

    run(scenario())


def test_pending_rows_are_the_pending_records_as_plain_tuples(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with await Journal.open(tmp_path / "j.db", device_id=DEVICE) as journal:
            await journal.append_many([sample(s, celsius=(s / 10, 4.0)) for s in range(50)])
            await journal.acknowledge([2, 3], NOW)
            records = await journal.pending(limit=10, max_bytes=200)
            rows = await journal.pending_rows(limit=10, max_bytes=200)
            assert rows == [
                (
                    r.sequence,
                    r.boot_epoch,
                    r.type,
                    r.wall_ns,
                    r.monotonic_ns,
                    int(r.clock_synchronised),
                    r.payload,
                )
                for r in records
            ]
            assert [row[0] for row in rows][:3] == [0, 1, 4]
            assert len(await journal.pending_rows(after_sequence=9, max_bytes=1)) == 1
            backlog = await journal.pending_rows(after_sequence=40, before_sequence=43)
            assert [row[0] for row in backlog] == [41, 42]

    run(scenario())


def test_acknowledge_marks_exactly_the_given_sequences_across_holes(tmp_path: Path) -> None:
    path = tmp_path / "j.db"

    async def scenario() -> None:
        async with await Journal.open(path, device_id=DEVICE) as journal:
            await journal.append_many([door(s) for s in range(20)])
            assert await journal.acknowledge([5, 6, 7], NOW) == 3
            # Runs, single sequences, an already acknowledged one and an unknown one.
            assert await journal.acknowledge([1, 2, 3, 6, 9, 11, 12, 50], NOW + 1) == 6
            pending = [r.sequence for r in await journal.pending(limit=100)]
            assert pending == [0, 4, 8, 10, *range(13, 20)]
        assert stored(path)[6] == (RecordClass.KEPT, NOW)
        assert stored(path)[9] == (RecordClass.KEPT, NOW + 1)

    run(scenario())


def test_a_sample_stored_by_an_earlier_build_reads_as_the_tick_of_its_one_probe(
    tmp_path: Path,
) -> None:
    """A journal written before samples became ticks holds one record per probe reading,
    ``{"probe": p, "celsius": c}``: after the upgrade each reads back as the tick of that one
    probe, next to the ticks recorded since."""
    path = tmp_path / "j.db"
    legacy = cbor2.dumps({"probe": "air", "celsius": 4.5})

    async def earlier_build() -> None:
        async with await Journal.open(path, device_id=DEVICE) as journal:
            await journal.append_many([door(0), sample(1, "air"), door(2)])

    run(earlier_build())
    with sqlite3.connect(path) as connection:  # the row as the earlier build stored it
        connection.execute(
            "UPDATE records SET payload = ?, series = 'air' WHERE sequence = 1", (legacy,)
        )
    connection.close()

    async def upgraded() -> list[Event]:
        async with await Journal.open(path, device_id=DEVICE) as journal:
            await journal.append(sample(3, "air,door-air", celsius=(4.25, 5.0)))
            return [record.to_event() for record in await journal.pending()]

    events = run(upgraded())
    assert [event.id.sequence for event in events] == [0, 1, 2, 3]
    assert events[1] == sample(1, "air", celsius=4.5)
    assert events[1].payload == TemperatureSample(("air",), (4.5,))
    assert events[3].payload == TemperatureSample(("air", "door-air"), (4.25, 5.0))


# --- retention, budget, thinning ------------------------------------------------------------


def test_retention_deletes_only_acknowledged_records_past_their_class_retention(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.db"
    old = NOW - 40 * DAY_NS

    async def scenario() -> None:
        async with await Journal.open(path, device_id=DEVICE) as journal:
            await journal.append_many(
                [
                    sample(0, wall_ns=old),
                    door(1, wall_ns=old),
                    sample(2, wall_ns=old),
                    door(3, wall_ns=old),
                ]
            )
            await journal.acknowledge([0, 1], now_wall_ns=old)
            report = await journal.maintain(NOW)
            assert (report.expired, report.health) == (1, JournalHealth.OK)
            report = await journal.maintain(NOW + 400 * DAY_NS)
            assert report.expired == 1

    run(scenario())
    assert set(stored(path)) == {2, 3}  # pending records stay, however old


def test_retention_counts_from_the_acknowledgement_when_the_clock_was_wrong(
    tmp_path: Path,
) -> None:
    async def scenario() -> int:
        async with await Journal.open(tmp_path / "j.db", device_id=DEVICE) as journal:
            await journal.append(sample(0, wall_ns=0))  # stamped by a clock still in 1970
            await journal.acknowledge([0], now_wall_ns=NOW)
            return (await journal.maintain(NOW + DAY_NS)).expired

    assert run(scenario()) == 0


def _classify_excursions(event: Event) -> RecordClass:
    payload = event.payload
    if isinstance(payload, TemperatureSample):
        return RecordClass.EXCURSION if max(payload.celsius) > 6 else RecordClass.ROUTINE
    return RecordClass.KEPT


_GROUPS = ("air-top,air-bottom", "product-top,product-bottom")


def _pressure_events(count: int) -> list[Event]:
    """Ticks of two groups of probes (sampled at different intervals), an excursion of one
    probe every 50 and a door event every 100."""
    events = []
    for s in range(count):
        if s % 100 == 0:
            events.append(door(s))
        else:
            hottest = 8.0 if s % 50 == 25 else 4.0
            events.append(sample(s, _GROUPS[s % 2], celsius=(4.0, hottest)))
    return events


def test_pressure_evicts_acknowledged_routine_records_before_thinning(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    policy = JournalPolicy(budget_bytes=1200 * 1024, hard_limit_bytes=4 << 20)

    async def scenario() -> None:
        async with await Journal.open(
            path, device_id=DEVICE, policy=policy, classify=_classify_excursions
        ) as journal:
            await journal.append_many(_pressure_events(12000))
            await journal.acknowledge(range(8000), NOW)
            report = await journal.maintain(NOW)
            assert report.evicted > 0
            assert report.thinned == 0
            assert report.health is JournalHealth.OK
            assert report.used_bytes <= policy.budget_bytes

    run(scenario())
    rows = stored(path)
    assert all(s in rows for s in range(8000, 12000))
    assert all(s in rows for s in range(8000) if s % 100 == 0 or s % 50 == 25)


def test_thinning_halves_pending_samples_per_group_and_never_touches_the_rest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.db"
    policy = JournalPolicy(budget_bytes=2400 * 1024, hard_limit_bytes=6 << 20)
    events = _pressure_events(20000)

    async def scenario() -> None:
        async with await Journal.open(
            path, device_id=DEVICE, policy=policy, classify=_classify_excursions
        ) as journal:
            await journal.append_many(events)
            report = await journal.maintain(NOW)
            assert report.health is JournalHealth.THINNING
            assert report.thinned > 0
            assert report.evicted == 0
            assert report.used_bytes <= policy.budget_bytes * policy.relief_fraction
            assert report.pending == len(events) - report.thinned
            assert await journal.pending_count() == report.pending
            assert (await journal.maintain(NOW)).health is JournalHealth.OK

    run(scenario())
    rows = stored(path)
    for event in events:
        if _classify_excursions(event) is not RecordClass.ROUTINE:
            assert event.id.sequence in rows  # KEPT and EXCURSION records all stay
    assert {0, 1, 2} <= set(rows)  # the oldest sample of each group stays
    for group in _GROUPS:
        samples = [e.id.sequence for e in events if _is_routine_of(e, group)]
        kept = [s for s in samples if s in rows]
        assert len(samples) / 2 <= len(kept) < len(samples)  # one sweep at most
        assert kept[-1] == samples[-1]  # the newest samples are thinned last


def _is_routine_of(event: Event, group: str) -> bool:
    return (
        isinstance(event.payload, TemperatureSample)
        and ",".join(event.payload.probes) == group
        and _classify_excursions(event) is RecordClass.ROUTINE
    )


def test_a_budget_spent_on_records_that_must_stay_is_full(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    policy = JournalPolicy(budget_bytes=64 * 1024, hard_limit_bytes=4 << 20)

    async def scenario() -> None:
        async with await Journal.open(path, device_id=DEVICE, policy=policy) as journal:
            await journal.append_many([big_door(s) for s in range(300)])
            report = await journal.maintain(NOW)
            assert report.health is JournalHealth.FULL
            assert journal.health is JournalHealth.FULL
            assert (report.expired, report.evicted, report.thinned) == (0, 0, 0)
            await journal.append(big_door(300))  # the room above the budget still takes records

    run(scenario())
    assert set(stored(path)) == set(range(301))


def test_policy_rejects_a_hard_limit_below_the_budget() -> None:
    with pytest.raises(ValueError, match="room between them"):
        JournalPolicy(budget_bytes=100, hard_limit_bytes=100)
