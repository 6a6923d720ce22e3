"""The receiver's blocking core (no MQTT): validation, commit, the ack to send, gap policy."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cbor2
import pytest

from agent.events import DoorChanged, Event, RecordId, TemperatureSample
from agent.sync.protocol import (
    CONTENT_TYPE,
    VERSION,
    AckStatus,
    BatchAck,
    RecordBatch,
    RejectReason,
    SequenceRange,
    Topic,
    TopicKind,
    encode_message,
)
from hospital_receiver.gaps import GapWatch, ResyncPolicy
from hospital_receiver.ingest import Ingest
from hospital_receiver.records import StoredRecord
from hospital_receiver.sqlite_store import SqliteStore
from hospital_receiver.store import CommitResult, DeviceProgress

RECORDS = Topic("stmary", "cab-1", TopicKind.RECORDS)
ACKS = str(RECORDS.sibling(TopicKind.ACKS))


def event(sequence: int, *, device: str = "cab-1", epoch: int = 1) -> Event:
    payload = (
        TemperatureSample(("air", "product"), (4.0, 4.5))
        if sequence % 2
        else DoorChanged("main", open=True)
    )
    mono = 1_000_000_000 * (sequence % 1_000_000 + 1)
    return Event(
        RecordId(device, epoch, sequence), mono + 1_700_000_000 * 10**9, mono, True, payload
    )


def batch(sequences: Sequence[int], *, device: str = "cab-1", historical: bool = False) -> bytes:
    records = tuple(event(n, device=device) for n in sequences)
    return encode_message(RecordBatch(device, records, historical=historical))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "receiver.db"


@pytest.fixture
def ingest(path: Path) -> Iterator[Ingest]:
    core = Ingest(lambda: SqliteStore(path), resync=ResyncPolicy(grace_s=0))
    yield core
    core.close()


def stored(path: Path) -> list[int]:
    store = SqliteStore(path)
    try:
        return [identity.sequence for identity in store.identities("cab-1")]
    finally:
        store.close()


def test_a_batch_is_committed_then_acked_with_exactly_its_ranges(
    ingest: Ingest, path: Path
) -> None:
    result = ingest.handle(str(RECORDS), CONTENT_TYPE, batch([0, 1, 2, 5]))
    assert result.ack_topic == ACKS
    assert result.ack == BatchAck(
        "cab-1",
        AckStatus.COMMITTED,
        ranges=(SequenceRange(1, 0, 2), SequenceRange(1, 5, 5)),
    )
    assert stored(path) == [0, 1, 2, 5]


def test_a_resent_batch_is_stored_once_and_acked_again(ingest: Ingest, path: Path) -> None:
    first = ingest.handle(str(RECORDS), CONTENT_TYPE, batch([0, 1]))
    again = ingest.handle(str(RECORDS), CONTENT_TYPE, batch([0, 1]))
    assert first.ack == again.ack
    assert again.ack is not None
    assert again.ack.status is AckStatus.COMMITTED
    assert stored(path) == [0, 1]


def _fields(data: bytes, **changes: Any) -> bytes:
    fields = cbor2.loads(data)
    fields.update(changes)
    return cbor2.dumps(fields)


@pytest.mark.parametrize(
    ("payload", "content_type", "reason"),
    [
        (b"\xff\xfe not cbor", CONTENT_TYPE, RejectReason.MALFORMED),
        (batch([0]) + b"\x00", CONTENT_TYPE, RejectReason.MALFORMED),
        (b"\x00" * 300_000, CONTENT_TYPE, RejectReason.TOO_LARGE),
        (_fields(batch([0]), v=VERSION - 1), CONTENT_TYPE, RejectReason.UNSUPPORTED),
        (_fields(batch([0]), v=VERSION + 1), CONTENT_TYPE, RejectReason.UNSUPPORTED),
        (_fields(batch([0]), extra=1), CONTENT_TYPE, RejectReason.MALFORMED),
        (batch([0], device="cab-2"), CONTENT_TYPE, RejectReason.WRONG_DEVICE),
        (batch([0]), "application/json", RejectReason.UNSUPPORTED),
        (batch([0]), None, RejectReason.UNSUPPORTED),
        (
            encode_message(BatchAck.rejected("cab-1", RejectReason.MALFORMED, "x")),
            CONTENT_TYPE,
            RejectReason.MALFORMED,
        ),
    ],
    ids=[
        "not-cbor",
        "trailing-bytes",
        "too-large",
        "earlier-version",
        "later-version",
        "extra-field",
        "wrong-device",
        "wrong-content-type",
        "no-content-type",
        "wrong-kind",
    ],
)
def test_bad_messages_are_rejected_with_their_reason_and_store_nothing(
    *,
    ingest: Ingest,
    path: Path,
    caplog: pytest.LogCaptureFixture,
    payload: bytes,
    content_type: str | None,
    reason: RejectReason,
) -> None:
    with caplog.at_level(logging.WARNING, "hospital_receiver.ingest"):
        result = ingest.handle(str(RECORDS), content_type, payload)
    assert result.ack_topic == ACKS
    assert result.ack is not None
    assert (result.ack.status, result.ack.reason) == (AckStatus.REJECTED, reason)
    assert result.ack.detail
    assert result.resync is None
    (logged,) = [r for r in caplog.records if r.getMessage() == "message rejected"]
    fields = logged.fields  # type: ignore[attr-defined]
    assert (fields["reason"], fields["device"], fields["bytes"]) == (reason, "cab-1", len(payload))
    assert stored(path) == []
    good = ingest.handle(str(RECORDS), CONTENT_TYPE, batch([0]))
    assert good.ack is not None
    assert good.ack.status is AckStatus.COMMITTED, "a good batch after a bad one still works"


def test_a_message_on_a_foreign_topic_gets_no_answer(ingest: Ingest) -> None:
    result = ingest.handle("hemotrace/v2/stmary/$bad/records", CONTENT_TYPE, batch([0]))
    assert (result.ack, result.ack_topic) == (None, None)


def test_a_batch_on_another_kind_of_topic_is_refused(ingest: Ingest) -> None:
    result = ingest.handle(str(RECORDS.sibling(TopicKind.ACKS)), CONTENT_TYPE, batch([0]))
    assert result.ack is not None
    assert result.ack.reason is RejectReason.MALFORMED


def test_a_sequence_the_database_cannot_hold_is_unsupported(ingest: Ingest, path: Path) -> None:
    result = ingest.handle(str(RECORDS), CONTENT_TYPE, batch([0, 2**63]))
    assert result.ack is not None
    assert result.ack.reason is RejectReason.UNSUPPORTED
    assert stored(path) == []


class FlakyStore(SqliteStore):
    """A real SQLite store whose commits fail while ``broken`` (the database is down)."""

    broken = True
    opened = 0

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        FlakyStore.opened += 1

    def commit(self, records: Sequence[StoredRecord]) -> CommitResult:
        if FlakyStore.broken:
            raise sqlite3.OperationalError("disk I/O error")
        return super().commit(records)


def test_a_database_error_is_unavailable_and_the_store_is_reopened(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    core = Ingest(lambda: FlakyStore(path))
    try:
        with caplog.at_level(logging.WARNING, "hospital_receiver.ingest"):
            failed = core.handle(str(RECORDS), CONTENT_TYPE, batch([0]))
        assert failed.ack is not None
        assert (failed.ack.status, failed.ack.reason) == (
            AckStatus.REJECTED,
            RejectReason.UNAVAILABLE,
        )
        assert any(r.getMessage() == "database error" for r in caplog.records)
        FlakyStore.broken = False
        ok = core.handle(str(RECORDS), CONTENT_TYPE, batch([0]))
        assert ok.ack is not None
        assert ok.ack.status is AckStatus.COMMITTED
        assert FlakyStore.opened == 2, "the broken connection was replaced"
    finally:
        core.close()


def test_a_store_that_cannot_open_is_unavailable(tmp_path: Path) -> None:
    core = Ingest(lambda: SqliteStore(tmp_path / "missing" / "dir" / "r.db"))
    result = core.handle(str(RECORDS), CONTENT_TYPE, batch([0]))
    assert result.ack is not None
    assert result.ack.reason is RejectReason.UNAVAILABLE


def test_a_gap_asks_for_a_resync_from_the_first_missing_sequence(ingest: Ingest) -> None:
    assert ingest.handle(str(RECORDS), CONTENT_TYPE, batch(range(10))).resync is None
    result = ingest.handle(str(RECORDS), CONTENT_TYPE, batch(range(20, 30)))
    assert result.resync is not None
    assert result.resync.from_sequence == 10
    assert result.resync.topic == RECORDS.sibling(TopicKind.COMMANDS)


def progress(contiguous: int, highest: int) -> DeviceProgress:
    return DeviceProgress("cab-1", contiguous_through=contiguous, highest=highest)


def test_a_gap_is_asked_for_only_once_it_stopped_moving() -> None:
    clock = Clock()
    watch = GapWatch(ResyncPolicy(grace_s=30, interval_s=60, lifetime_s=60), clock)
    assert watch.observe(RECORDS, progress(100, 900)) is None, "the backlog may be draining"
    clock.now += 20
    assert watch.observe(RECORDS, progress(400, 950)) is None, "it moved: still draining"
    clock.now += 29
    assert watch.observe(RECORDS, progress(400, 960)) is None
    clock.now += 1
    request = watch.observe(RECORDS, progress(400, 970))
    assert request is not None
    assert request.from_sequence == 401
    assert watch.open_gaps == {"cab-1": RECORDS.sibling(TopicKind.COMMANDS)}
    assert watch.observe(RECORDS, progress(970, 970)) is None
    assert watch.open_gaps == {}, "a filled gap is forgotten"


def test_resyncs_are_rate_limited_and_not_repeated_while_outstanding() -> None:
    clock = Clock()
    watch = GapWatch(ResyncPolicy(grace_s=0, interval_s=10, lifetime_s=60, max_attempts=3), clock)
    assert watch.observe(RECORDS, progress(9, 29)) is not None
    clock.now += 30
    assert watch.observe(RECORDS, progress(9, 29)) is None, "the first is still outstanding"
    watch.answered("cab-1")
    assert watch.observe(RECORDS, progress(9, 29)) is not None, "answered, and 30 s > 10 s"
    clock.now += 5
    watch.answered("cab-1")
    assert watch.observe(RECORDS, progress(12, 29)) is None, "another gap, but within 10 s"
    clock.now += 5
    assert watch.observe(RECORDS, progress(12, 29)) is not None


def test_a_gap_that_stays_after_every_attempt_is_final(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    watch = GapWatch(ResyncPolicy(grace_s=0, interval_s=1, lifetime_s=1, max_attempts=2), clock)
    sent = 0
    with caplog.at_level(logging.WARNING, "hospital_receiver.gaps"):
        for _ in range(10):
            sent += watch.observe(RECORDS, progress(9, 29)) is not None
            clock.now += 5
    assert sent == 2
    assert any("final" in r.getMessage() for r in caplog.records)
