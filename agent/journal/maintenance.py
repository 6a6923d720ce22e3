"""Retention and the size budget: what maintenance may delete, in which order.

Keeps invariant 4 of the brief. In one run, each step in its own transactions:

1. **Retention.** Acknowledged records whose retention has passed are deleted: ``ROUTINE``
   after ``routine_retention_s``, ``KEPT`` and ``EXCURSION`` after ``kept_retention_s``, counted
   from the *later* of the record's wall time and its acknowledgement (a record stamped by an
   unsynchronised clock in 1970 is not deleted on its first maintenance).
2. **Eviction**, only while over budget: acknowledged ``ROUTINE`` records, oldest first.
3. **Thinning**, only while still over budget: pending ``ROUTINE`` records are halved in
   windows of the oldest ones: within a window, the samples of each series (a group of probes)
   are numbered in sequence order and every second one is deleted - the first of each series in
   a window always stays. Windows are swept from the oldest up; if a whole sweep is not enough,
   the next sweep halves again from the oldest, so the oldest data loses resolution first and
   every series keeps samples spread over the whole time span.

Pressure steps stop as soon as the used size is down to ``relief_fraction`` of the budget.
Nothing pending that is not ``ROUTINE`` is ever deleted, and nothing ``KEPT`` or ``EXCURSION``
before its retention. Every deletion rewrites the span of sequences it touches (delete the span,
insert the survivors, in one transaction): deleting scattered rows alone would leave partly
empty pages that SQLite never refills, and the space in use would not shrink.
"""

from __future__ import annotations

import sqlite3

from agent.journal.policy import JournalHealth, JournalPolicy, MaintenanceReport
from agent.journal.records import RecordClass
from agent.journal.store import JournalStore

__all__ = ["maintain"]

_SPAN = 5000
"""Sequences rewritten per deleting transaction, so that no transaction makes a huge WAL."""

_WINDOW = 10000
"""Pending routine records per thinning window."""

_ALL_COLUMNS = (
    "sequence, boot_epoch, type, class, wall_ns, monotonic_ns, clock_synchronised, series,"
    " payload, acknowledged_wall_ns"
)


def maintain(store: JournalStore, policy: JournalPolicy, now_wall_ns: int) -> MaintenanceReport:
    """Apply retention, then relieve the budget; return what was done and the resulting health."""
    expired = _expire(store, RecordClass.ROUTINE, now_wall_ns - _ns(policy.routine_retention_s))
    for kept in (RecordClass.KEPT, RecordClass.EXCURSION):
        expired += _expire(store, kept, now_wall_ns - _ns(policy.kept_retention_s))
    target = int(policy.budget_bytes * policy.relief_fraction)
    evicted = thinned = 0
    if store.used_bytes() > policy.budget_bytes:
        evicted = _evict(store, target)
        if store.used_bytes() > target:
            thinned = _thin(store, target)
    used = store.used_bytes()
    if used > policy.budget_bytes:
        health = JournalHealth.FULL
    elif thinned:
        health = JournalHealth.THINNING
    else:
        health = JournalHealth.OK
    return MaintenanceReport(
        health, used, policy.budget_bytes, expired, evicted, thinned, store.pending_count
    )


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def _expire(store: JournalStore, record_class: RecordClass, cutoff_ns: int) -> int:
    where = "acknowledged_wall_ns < ? AND wall_ns < ? AND class = ?"
    parameters = (cutoff_ns, cutoff_ns, int(record_class))
    total, after = 0, -1
    while (span := _drop_in_span(store, where, parameters, after)) is not None:
        after, deleted = span
        total += deleted
    return total


def _evict(store: JournalStore, target: int) -> int:
    where = "acknowledged_wall_ns IS NOT NULL AND class = ?"
    total, after = 0, -1
    while store.used_bytes() > target:
        span = _drop_in_span(store, where, (int(RecordClass.ROUTINE),), after)
        if span is None:
            break
        after, deleted = span
        total += deleted
    return total


def _drop_in_span(
    store: JournalStore, where: str, parameters: tuple[int, ...], after: int
) -> tuple[int, int] | None:
    """Delete the records matching ``where`` in the next span of ``_SPAN`` sequences that holds
    one after ``after``; return the span's last sequence and the count, or None when done."""

    def work(connection: sqlite3.Connection) -> tuple[int, int] | None:
        (low,) = connection.execute(
            f"SELECT min(sequence) FROM records WHERE {where} AND sequence > ?",  # noqa: S608 - constant
            (*parameters, after),
        ).fetchone()
        if low is None:
            return None
        high = int(low) + _SPAN - 1
        dropped = {
            sequence
            for (sequence,) in connection.execute(
                f"SELECT sequence FROM records WHERE {where} AND sequence BETWEEN ? AND ?",  # noqa: S608 - constant
                (*parameters, low, high),
            )
        }
        _rewrite(connection, int(low), high, dropped)
        return high, len(dropped)

    return store.transaction(work)


def _thin(store: JournalStore, target: int) -> int:
    total = 0
    while store.used_bytes() > target:
        swept = 0
        after = -1
        while store.used_bytes() > target:
            window = _thin_window(store, after)
            if window is None:
                break
            after, deleted = window
            swept += deleted
        total += swept
        if not swept:
            break
    return total


def _thin_window(store: JournalStore, after: int) -> tuple[int, int] | None:
    """Halve the next window of pending routine records after ``after``; return the window's
    last sequence and how many were deleted, or None when there is no window left."""

    def work(connection: sqlite3.Connection) -> tuple[int, int] | None:
        low, high = connection.execute(
            "SELECT min(sequence), max(sequence) FROM (SELECT sequence FROM records"
            " WHERE acknowledged_wall_ns IS NULL AND class = ? AND sequence > ?"
            " ORDER BY sequence LIMIT ?)",
            (int(RecordClass.ROUTINE), after, _WINDOW),
        ).fetchone()
        if low is None:
            return None
        dropped = {
            sequence
            for (sequence,) in connection.execute(
                "SELECT sequence FROM (SELECT sequence, row_number() OVER"
                " (PARTITION BY type, series ORDER BY sequence) AS n FROM records"
                " WHERE acknowledged_wall_ns IS NULL AND class = ? AND sequence BETWEEN ? AND ?)"
                " WHERE n % 2 = 0",
                (int(RecordClass.ROUTINE), low, high),
            )
        }
        _rewrite(connection, int(low), int(high), dropped)
        return int(high), len(dropped)

    result = store.transaction(work)
    if result is not None:
        store.pending_count -= result[1]
    return result


def _rewrite(connection: sqlite3.Connection, low: int, high: int, dropped: set[int]) -> None:
    """Delete ``dropped`` from the sequences ``low..high`` by rewriting the span densely.

    Deleting scattered rows alone leaves pages partly empty, and SQLite never refills them
    (records are only ever inserted at the end): the span is deleted whole - which frees its
    pages - and its survivors inserted again, unchanged.
    """
    if not dropped:
        return
    survivors = [
        row
        for row in connection.execute(
            f"SELECT {_ALL_COLUMNS} FROM records"  # noqa: S608 - constant
            " WHERE sequence BETWEEN ? AND ? ORDER BY sequence",
            (low, high),
        )
        if row[0] not in dropped
    ]
    # Remember the highest sequence before deleting, so that it is never reused.
    connection.execute(
        "UPDATE meta SET value = max(CAST(value AS INTEGER),"
        " (SELECT coalesce(max(sequence), -1) FROM records)) WHERE key = 'high_water'"
    )
    connection.execute("DELETE FROM records WHERE sequence BETWEEN ? AND ?", (low, high))
    connection.executemany(
        f"INSERT INTO records ({_ALL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - constant
        survivors,
    )
