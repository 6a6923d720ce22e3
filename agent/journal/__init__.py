"""The durable journal: the agent's event sink and the sync link's outbox.

Modules, each with one job:

* :mod:`~agent.journal.journal` - :class:`Journal`, the async API (one database thread);
* :mod:`~agent.journal.writer` - group commit, errors handed to every waiter;
* :mod:`~agent.journal.store` - the database operations, one transaction each;
* :mod:`~agent.journal.schema` - the file: WAL, ``synchronous=FULL``, tables, device identity;
* :mod:`~agent.journal.maintenance` - retention, eviction and thinning under the budget;
* :mod:`~agent.journal.records` - record classes, rows, :class:`StoredRecord`, :data:`PendingRow`;
* :mod:`~agent.journal.policy` - :class:`JournalPolicy`, :class:`JournalHealth`;
* :mod:`~agent.journal.errors` - :class:`JournalUnavailable`.

See ``docs/journal.md``.
"""

from agent.journal.errors import JournalUnavailable, UnavailableKind
from agent.journal.journal import MAX_JOURNAL_SEQUENCE, Journal
from agent.journal.policy import JournalHealth, JournalPolicy, MaintenanceReport
from agent.journal.records import (
    Classifier,
    PendingRow,
    RecordClass,
    StoredRecord,
    default_classify,
)
from agent.journal.schema import SCHEMA_VERSION

__all__ = [
    "MAX_JOURNAL_SEQUENCE",
    "SCHEMA_VERSION",
    "Classifier",
    "Journal",
    "JournalHealth",
    "JournalPolicy",
    "JournalUnavailable",
    "MaintenanceReport",
    "PendingRow",
    "RecordClass",
    "StoredRecord",
    "UnavailableKind",
    "default_classify",
]
