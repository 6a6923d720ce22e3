"""The receiver's database: idempotent commits, progress and gaps, queries."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hospital_receiver.postgres_store import PostgresStore
from hospital_receiver.records import Identity, StoredRecord, StoredRecords
from hospital_receiver.sql_store import SequenceOutOfRange
from hospital_receiver.sqlite_store import SqliteStore
from hospital_receiver.store import Query, RecordStore


def record(
    sequence: int,
    *,
    device: str = "cab-1",
    epoch: int = 1,
    kind: str = "x",
    wall_ns: int | None = None,
    payload: bytes = b"\xa0",
) -> StoredRecord:
    return StoredRecord(
        identity=Identity(device, epoch, sequence),
        type=kind,
        wall_ns=1_000 * sequence if wall_ns is None else wall_ns,
        monotonic_ns=sequence,
        clock_synchronised=True,
        payload=payload,
        historical=False,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RecordStore]:
    """Every test runs against both backends."""
    db: RecordStore
    if request.param == "sqlite":
        db = SqliteStore(tmp_path / "receiver.db")
    else:
        db = PostgresStore(request.getfixturevalue("postgres_url"))
    yield db
    db.close()


def test_a_resent_record_is_stored_once_and_the_first_copy_wins(store: RecordStore) -> None:
    first = store.commit([record(0, payload=b"first"), record(1)])
    again = store.commit([record(1, payload=b"second"), record(0, payload=b"second")])
    assert (first.inserted, first.duplicates) == (2, 0)
    assert (again.inserted, again.duplicates) == (0, 2)
    stored = store.find(Query(device="cab-1"))
    assert [r.identity.sequence for r in stored] == [0, 1]
    assert stored[0].payload == b"first"


def test_commits_survive_reopening(tmp_path: Path) -> None:
    db = SqliteStore(tmp_path / "r.db")
    db.commit([record(0), record(1)])
    db.close()
    reopened = SqliteStore(tmp_path / "r.db")
    try:
        assert reopened.identities("cab-1") == [Identity("cab-1", 1, 0), Identity("cab-1", 1, 1)]
        assert reopened.progress("cab-1").contiguous_through == 1
    finally:
        reopened.close()


def test_sqlite_stamps_each_record_with_the_utc_time_it_was_stored(tmp_path: Path) -> None:
    """``received_at`` is the time of the commit, UTC to the second, as SQLite's
    ``CURRENT_TIMESTAMP`` writes it - for a batch's grouped rows and its remainder alike."""
    path = tmp_path / "receiver.db"
    store = SqliteStore(path)
    before = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
    store.commit([record(sequence) for sequence in range(70)])  # 64 grouped, then 6 alone
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    store.close()
    with sqlite3.connect(path) as connection:
        stamps = [row[0] for row in connection.execute("SELECT received_at FROM records")]
    assert len(stamps) == 70
    for stamp in stamps:
        assert before <= dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S") <= after


def test_progress_stops_at_a_gap_and_moves_when_it_is_filled(store: RecordStore) -> None:
    assert store.progress("cab-1").contiguous_through == -1
    store.commit([record(0), record(1), record(2), record(5), record(6)])
    progress = store.progress("cab-1")
    assert (progress.contiguous_through, progress.highest, progress.has_gap) == (2, 6, True)
    store.commit([record(3)])
    assert store.progress("cab-1").contiguous_through == 3
    store.commit([record(4)])
    progress = store.progress("cab-1")
    assert (progress.contiguous_through, progress.has_gap) == (6, False)


def test_a_gap_at_the_start_is_a_gap(store: RecordStore) -> None:
    store.commit([record(3)])
    progress = store.progress("cab-1")
    assert (progress.contiguous_through, progress.highest) == (-1, 3)


def test_devices_are_separate(store: RecordStore) -> None:
    store.commit([record(0, device="a"), record(0, device="b"), record(1, device="b")])
    assert store.progress("a").contiguous_through == 0
    assert store.progress("b").contiguous_through == 1
    assert store.progress("c").highest == -1


def test_sequences_continue_across_boot_epochs(store: RecordStore) -> None:
    store.commit([record(0, epoch=1), record(1, epoch=1), record(2, epoch=2)])
    assert store.progress("cab-1").contiguous_through == 2


def test_find_by_device_type_and_time(store: RecordStore) -> None:
    store.commit(
        [record(n, kind="temperature_sample" if n % 2 else "door_changed") for n in range(10)]
        + [record(0, device="other")]
    )
    doors = store.find(Query(device="cab-1", type="door_changed"))
    assert [r.identity.sequence for r in doors] == [0, 2, 4, 6, 8]
    window = store.find(Query(device="cab-1", since_ns=3_000, until_ns=6_000))
    assert [r.identity.sequence for r in window] == [3, 4, 5]
    assert len(store.find(Query(limit=3))) == 3


def test_a_sequence_the_database_cannot_hold_is_refused_whole(store: RecordStore) -> None:
    with pytest.raises(SequenceOutOfRange):
        store.commit([record(0), record(2**63)])
    assert store.identities("cab-1") == [], "nothing of a refused batch is stored"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(min_value=0, max_value=40), max_size=15), max_size=8))
def test_progress_is_the_longest_stored_prefix(
    tmp_path_factory: pytest.TempPathFactory, batches: list[list[int]]
) -> None:
    db = SqliteStore(tmp_path_factory.mktemp("p") / "r.db")
    try:
        stored: set[int] = set()
        for batch in batches:
            db.commit([record(n) for n in batch])
            stored.update(batch)
            expected = -1
            while expected + 1 in stored:
                expected += 1
            progress = db.progress("cab-1")
            assert progress.contiguous_through == expected
            assert progress.highest == max(stored, default=-1)
    finally:
        db.close()


@pytest.mark.parametrize("count", [1, 63, 64, 65, 200])
def test_a_batch_of_any_size_is_stored_whole_and_once(tmp_path: Path, count: int) -> None:
    rows = tuple(
        (1, sequence, "x", sequence, sequence, sequence % 2 == 0, b"\xa1\x01\x02")
        for sequence in range(count)
    )
    db = SqliteStore(tmp_path / "r.db")
    try:
        first = db.commit(StoredRecords("cab-1", True, rows))
        again = db.commit(StoredRecords("cab-1", True, rows[count // 2 :]))
        assert (first.inserted, first.duplicates) == (count, 0)
        assert (again.inserted, again.duplicates) == (0, count - count // 2)
        stored = db.find(Query(device="cab-1", limit=1000))
        assert [r.identity.sequence for r in stored] == list(range(count))
        assert all(r.historical for r in stored)
        assert [r.clock_synchronised for r in stored] == [s % 2 == 0 for s in range(count)]
        assert db.progress("cab-1").contiguous_through == count - 1
    finally:
        db.close()


def test_a_database_of_the_earlier_schema_is_used_as_it_is(tmp_path: Path) -> None:
    """Files created before the records table was clustered on its key: a rowid table with
    separate identity and sequence indexes."""
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE records (device TEXT NOT NULL, boot_epoch INTEGER NOT NULL,"
        " sequence INTEGER NOT NULL, type TEXT NOT NULL, wall_ns INTEGER NOT NULL,"
        " monotonic_ns INTEGER NOT NULL, clock_synchronised INTEGER NOT NULL,"
        " payload BLOB NOT NULL, historical INTEGER NOT NULL,"
        " received_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,"
        " PRIMARY KEY (device, boot_epoch, sequence));"
        "CREATE INDEX records_by_sequence ON records (device, sequence);"
        "CREATE INDEX records_by_time ON records (device, type, wall_ns);"
    )
    connection.execute(
        "INSERT INTO records (device, boot_epoch, sequence, type, wall_ns, monotonic_ns,"
        " clock_synchronised, payload, historical) VALUES ('cab-1', 1, 0, 'x', 0, 0, 1, x'a0', 0)"
    )
    connection.commit()
    connection.close()
    db = SqliteStore(path)
    try:
        result = db.commit([record(0, payload=b"second"), record(1), record(2)])
        assert (result.inserted, result.duplicates) == (2, 1)
        assert db.find(Query(device="cab-1"))[0].payload == b"\xa0"
        assert db.progress("cab-1").contiguous_through == 2
    finally:
        db.close()
