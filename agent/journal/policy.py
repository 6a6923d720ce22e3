"""How long records are kept, how much room the journal may take, and how it reports its state.

Keeps invariant 4 of the brief as configuration: retention applies only to acknowledged
records, the byte budget is relieved by deleting acknowledged routine records and thinning
pending routine samples - never anything else - and a spent budget is reported as
:attr:`JournalHealth.FULL` so the agent refuses new dispenses instead of losing records.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["JournalHealth", "JournalPolicy", "MaintenanceReport"]

_DAY_S = 86400.0
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class JournalPolicy:
    """Retention (seconds) and size limits (bytes) of a journal.

    ``budget_bytes`` is what maintenance keeps the journal under; ``hard_limit_bytes`` is where
    SQLite itself refuses to grow the file (``PRAGMA max_page_count``): appends then fail with
    :attr:`~agent.journal.errors.UnavailableKind.FULL`. The room between the two is for the
    alarm and the records that arrive between maintenance runs. When the budget is exceeded,
    maintenance frees room down to ``relief_fraction`` of it, so that it does not thin again
    on every run.
    """

    routine_retention_s: float = 30 * _DAY_S
    kept_retention_s: float = 400 * _DAY_S
    budget_bytes: int = 256 * _MIB
    hard_limit_bytes: int = 320 * _MIB
    relief_fraction: float = 0.9

    def __post_init__(self) -> None:
        if self.routine_retention_s < 0 or self.kept_retention_s < 0:
            raise ValueError("retention must not be negative")
        if self.budget_bytes <= 0:
            raise ValueError(f"budget_bytes must be positive, got {self.budget_bytes}")
        if self.hard_limit_bytes <= self.budget_bytes:
            raise ValueError(
                f"hard_limit_bytes ({self.hard_limit_bytes}) must be above budget_bytes "
                f"({self.budget_bytes}): the room between them is for the alarm records"
            )
        if not 0 < self.relief_fraction <= 1:
            raise ValueError(f"relief_fraction must be in (0, 1], got {self.relief_fraction}")


class JournalHealth(enum.StrEnum):
    """The journal's state as the runtime acts on it."""

    OK = "ok"
    """Within budget."""
    THINNING = "thinning"
    """The last maintenance had to thin pending routine samples to stay within budget."""
    FULL = "full"
    """Over budget with nothing left to delete or thin (or the hard limit was hit): the agent
    must raise an alarm and refuse new dispenses."""
    UNAVAILABLE = "unavailable"
    """The journal cannot be written (corrupt, unwritable, I/O error, closed)."""


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What one maintenance run did and the state it left."""

    health: JournalHealth
    used_bytes: int
    budget_bytes: int
    expired: int
    """Acknowledged records deleted because their retention had passed."""
    evicted: int
    """Acknowledged routine records deleted early, oldest first, to relieve the budget."""
    thinned: int
    """Pending routine records deleted by thinning."""
    pending: int
