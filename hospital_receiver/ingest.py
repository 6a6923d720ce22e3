"""The receiver's blocking core: one received message in, the acknowledgement to send out.

No MQTT here (the service in :mod:`hospital_receiver.service` moves the bytes). Invariants kept:

- **Acknowledge only what is committed** (invariant 2). A ``committed`` ack is built only after
  :meth:`RecordStore.commit` returned, and names exactly the batch's records; a resent batch is
  upserted (stored once, invariant 3) and acknowledged again like a new one.
- **Bad input is refused with its reason, and affects nothing else** (invariant 8). Every check
  (content type, size, CBOR, schema, the device against the topic) happens before the database
  is touched; a refused message stores nothing, is logged with its reason, device and size, and
  the device gets a ``rejected`` ack with the protocol's reason and a detail.
- **The database failing is ``unavailable``**, never a crash: the device retries later, and the
  store is reopened on the next message.
- **Acks go only to the sending device's own ``acks`` topic**, whatever a message's response
  topic says, so a message cannot make us publish on another device's topics.

Not thread-safe, except :meth:`Ingest.check`: the service calls the rest from one worker thread
(which also serialises the database connection), and the checks from another, so that one
message is decoded while the one before it is committed.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from agent.payload_codec import encode_payload
from agent.sync.protocol import (
    CONTENT_TYPE,
    MAX_MESSAGE_BYTES,
    AckStatus,
    BatchAck,
    ProtocolError,
    RecordBatch,
    RecordRow,
    RecordRows,
    RejectReason,
    SequenceRange,
    Topic,
    TopicKind,
    UnsupportedVersion,
    WrongTopic,
    decode_record_rows,
    parse_topic,
)
from hospital_receiver.gaps import GapWatch, ResyncPolicy, ResyncRequest
from hospital_receiver.records import Identity, StoredRecord, StoredRecords
from hospital_receiver.sql_store import SequenceOutOfRange
from hospital_receiver.store import CommitResult, RecordStore

__all__ = ["CheckedBatch", "DatabaseUnavailable", "Ingest", "IngestResult", "stored_records"]

_log = logging.getLogger("hospital_receiver.ingest")


class DatabaseUnavailable(Exception):
    """The database could not be opened or could not commit; the device should retry."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What to publish for one received message, once :meth:`Ingest.handle` returned.

    ``ack`` goes to ``ack_topic`` (None for both when the topic names no device of ours: there
    is nobody to answer). ``resync`` is a gap to ask that device for, if any.
    """

    ack: BatchAck | None
    ack_topic: str | None
    resync: ResyncRequest | None = None


@dataclass(frozen=True, slots=True)
class CheckedBatch:
    """A message that passed every check (:meth:`Ingest.check`), ready to commit."""

    topic: Topic
    batch: RecordRows
    size: int
    """The message's bytes (for the log)."""


def stored_records(batch: RecordBatch) -> list[StoredRecord]:
    """The rows to store for ``batch``: one per record, the payload as the device encodes it."""
    return [
        StoredRecord(
            identity=Identity(batch.device, event.id.boot_epoch, event.id.sequence),
            type=str(event.type),
            wall_ns=event.wall_ns,
            monotonic_ns=event.monotonic_ns,
            clock_synchronised=event.clock_synchronised,
            payload=encode_payload(event.payload),
            historical=batch.historical,
        )
        for event in batch.records
    ]


class Ingest:
    """Validates, stores and answers record batches; watches each device for gaps.

    ``open_store`` opens the database (called lazily, and again after a database error).
    ``clock`` is monotonic seconds, for the resync policy.
    """

    def __init__(
        self,
        open_store: Callable[[], RecordStore],
        *,
        resync: ResyncPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self._open_store = open_store
        self._store: RecordStore | None = None
        self._gaps = GapWatch(resync or ResyncPolicy(), clock)
        self.max_bytes = max_bytes

    def handle(self, topic_name: str, content_type: str | None, payload: bytes) -> IngestResult:
        """Check, commit and answer one message received on ``topic_name``."""
        checked = self.check(topic_name, content_type, payload)
        if isinstance(checked, IngestResult):
            return checked
        return self.commit(checked)

    def check(
        self, topic_name: str, content_type: str | None, payload: bytes
    ) -> CheckedBatch | IngestResult:
        """Every check of one message, before any database work: the batch to commit, or the
        rejection to send. Touches no state of the ingest: safe on another thread than the
        database's, so that the next message is decoded while this one is being committed."""
        try:
            topic = parse_topic(topic_name)
        except ProtocolError as error:
            _rejected(topic_name, "-", len(payload), error.reason, str(error))
            return IngestResult(None, None)
        try:
            batch = _batch(topic, content_type, payload, self.max_bytes)
        except ProtocolError as error:
            return _reject(topic, len(payload), error.reason, str(error))
        return CheckedBatch(topic, batch, len(payload))

    def commit(self, checked: CheckedBatch) -> IngestResult:
        """Commit a checked batch; the ack to send once this returned (after the commit)."""
        topic, batch = checked.topic, checked.batch
        try:
            result = self._commit(StoredRecords(batch.device, batch.historical, batch.rows))
        except SequenceOutOfRange as error:
            return _reject(topic, checked.size, RejectReason.UNSUPPORTED, str(error))
        except DatabaseUnavailable as error:
            return _reject(topic, checked.size, RejectReason.UNAVAILABLE, str(error))
        ack = BatchAck(batch.device, AckStatus.COMMITTED, _ranges(batch.rows))
        _log.info(
            "batch committed",
            extra={
                "fields": {
                    "device": topic.device,
                    "records": len(batch.rows),
                    "new": result.inserted,
                    "duplicates": result.duplicates,
                    "historical": batch.historical,
                    "bytes": checked.size,
                }
            },
        )
        return IngestResult(ack, str(topic.sibling(TopicKind.ACKS)), self._check_gap(topic))

    def check_gaps(self) -> list[ResyncRequest]:
        """Look again at every device with an open gap (a quiet device sends nothing to look
        at); the resyncs now due."""
        due = (self._check_gap(topic) for topic in self._gaps.open_gaps.values())
        return [request for request in due if request is not None]

    def resync_answered(self, device: str) -> None:
        """``device`` answered the resync we sent it."""
        self._gaps.answered(device)

    def close(self) -> None:
        """Close the database, if open."""
        store, self._store = self._store, None
        if store is not None:
            store.close()

    def _commit(self, records: Sequence[StoredRecord]) -> CommitResult:
        with self._database() as store:
            return store.commit(records)

    def _check_gap(self, topic: Topic) -> ResyncRequest | None:
        try:
            with self._database() as store:
                progress = store.progress(topic.device)
        except DatabaseUnavailable as error:
            _log.warning(
                "cannot check for gaps", extra={"fields": {"device": topic.device, "error": error}}
            )
            return None
        request = self._gaps.observe(topic, progress)
        if request is not None:
            _log.info(
                "gap: asking for a resync",
                extra={
                    "fields": {
                        "device": topic.device,
                        "from": request.from_sequence,
                        "highest": progress.highest,
                    }
                },
            )
        return request

    @contextlib.contextmanager
    def _database(self) -> Iterator[RecordStore]:
        """The open store; any error of the driver's becomes :class:`DatabaseUnavailable`, and
        the store is closed so that the next call opens a fresh connection."""
        try:
            if self._store is None:
                self._store = self._open_store()
            yield self._store
        except SequenceOutOfRange:
            raise  # the batch's fault, not the database's
        # The database drivers (sqlite3, psycopg) raise errors of their own, unrelated types and
        # also OSError: whatever they raise means "not committed", which the device retries.
        except Exception as error:
            _log.exception("database error", extra={"fields": {"error": error}})
            with contextlib.suppress(Exception):  # closing a broken connection may fail too
                self.close()
            raise DatabaseUnavailable(f"database error: {type(error).__name__}") from error


def _ranges(rows: Sequence[RecordRow]) -> tuple[SequenceRange, ...]:
    """The fewest ranges covering exactly ``rows`` - which the decoder returns ascending, one
    of each - in one pass (``ranges_of`` sorts and deduplicates first: it takes any keys).
    The usual batch is one run: its first and last row tell (ascending and one of each, its
    rows of one epoch are consecutive exactly when the sequences span as many as there are)."""
    (epoch, first), (last_epoch, last) = rows[0][:2], rows[-1][:2]
    if epoch == last_epoch and last - first == len(rows) - 1:
        return (SequenceRange(epoch, first, last),)
    ranges: list[SequenceRange] = []
    last = first
    for row in rows[1:]:
        sequence = row[1]
        if sequence != last + 1 or row[0] != epoch:
            ranges.append(SequenceRange(epoch, first, last))
            epoch, first = row[0], sequence
        last = sequence
    ranges.append(SequenceRange(epoch, first, last))
    return tuple(ranges)


def _reject(topic: Topic, size: int, reason: RejectReason, detail: str) -> IngestResult:
    """Log a refused message and build the ``rejected`` ack for its device."""
    _rejected(str(topic), topic.device, size, reason, detail)
    return IngestResult(
        BatchAck.rejected(topic.device, reason, detail), str(topic.sibling(TopicKind.ACKS))
    )


def _batch(topic: Topic, content_type: str | None, payload: bytes, max_bytes: int) -> RecordRows:
    """The batch ``payload`` is, as rows (exactly what :func:`decode_message` accepts as a
    record batch); a :class:`ProtocolError` saying why not otherwise."""
    if topic.kind is not TopicKind.RECORDS:
        raise WrongTopic(f"record batches come on records topics, not {topic.kind}")
    if content_type != CONTENT_TYPE:
        raise UnsupportedVersion(f"content type {content_type!r}, expected {CONTENT_TYPE!r}")
    return decode_record_rows(payload, topic, max_bytes)


def _rejected(topic: str, device: str, size: int, reason: RejectReason, detail: str) -> None:
    _log.warning(
        "message rejected",
        extra={
            "fields": {
                "reason": str(reason),
                "device": device,
                "bytes": size,
                "topic": topic,
                "detail": detail,
            }
        },
    )
